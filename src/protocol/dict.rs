//! Reading property lists from devices: one parse with a nesting guard, then typed field access
//! whose errors name the key and what was wrong with it.

use plist::{Dictionary, Value};

/// What is wrong with a message from a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    #[error("the body is not an XML property list: {0}")]
    Malformed(String),
    #[error("the property list nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("the property list is not a dictionary")]
    NotADictionary,
    #[error("missing key `{0}`")]
    MissingKey(&'static str),
    #[error("key `{key}` should be {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("unknown MessageType `{0}`")]
    UnknownMessageType(String),
    #[error("unknown Status `{0}`")]
    UnknownStatus(String),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

/// Deepest nesting of arrays and dictionaries accepted. Real messages nest a handful of levels;
/// the limit keeps a hostile body from exhausting the stack when the value is dropped.
pub const MAX_DEPTH: usize = 32;

/// Parses an XML property list whose root must be a dictionary.
pub fn parse_dictionary(body: &[u8]) -> Result<Dictionary, ProtocolError> {
    check_depth(body)?;
    let value = Value::from_reader_xml(body).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    value.into_dictionary().ok_or(ProtocolError::NotADictionary)
}

/// Counts `<array>` / `<dict>` nesting in the raw XML before anything is built. Text content
/// cannot hold a literal `<`, so only markup is counted.
fn check_depth(body: &[u8]) -> Result<(), ProtocolError> {
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(offset) = body[i..].iter().position(|&b| b == b'<') {
        let tag = &body[i + offset + 1..];
        let name_end = tag
            .iter()
            .position(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace())
            .unwrap_or(tag.len());
        let name = &tag[..name_end];
        let self_closing = tag.get(name_end) == Some(&b'/');
        if (name == b"array" || name == b"dict") && !self_closing {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(ProtocolError::TooDeep(MAX_DEPTH));
            }
        } else if name == b"/array" || name == b"/dict" {
            depth = depth.saturating_sub(1);
        }
        i += offset + 1;
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "an array",
        Value::Dictionary(_) => "a dictionary",
        Value::Boolean(_) => "a boolean",
        Value::Data(_) => "data",
        Value::Date(_) => "a date",
        Value::Real(_) => "a real",
        Value::Integer(_) => "an integer",
        Value::String(_) => "a string",
        Value::Uid(_) => "a UID",
        _ => "an unknown value",
    }
}

fn wrong(key: &str, expected: &'static str, found: &Value) -> ProtocolError {
    ProtocolError::WrongType {
        key: key.to_string(),
        expected,
        found: kind(found),
    }
}

/// Typed access to the keys of one dictionary. Keys it is not asked about are ignored.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    dict: &'a Dictionary,
}

impl<'a> Fields<'a> {
    pub fn new(dict: &'a Dictionary) -> Self {
        Fields { dict }
    }

    pub fn dictionary(&self) -> &'a Dictionary {
        self.dict
    }

    pub fn opt_str(&self, key: &'static str) -> Result<Option<&'a str>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(wrong(key, "a string", other)),
        }
    }

    pub fn str(&self, key: &'static str) -> Result<&'a str, ProtocolError> {
        self.opt_str(key)?.ok_or(ProtocolError::MissingKey(key))
    }

    pub fn opt_string(&self, key: &'static str) -> Result<Option<String>, ProtocolError> {
        Ok(self.opt_str(key)?.map(str::to_string))
    }

    pub fn opt_bool(&self, key: &'static str) -> Result<Option<bool>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong(key, "a boolean", other)),
        }
    }

    pub fn opt_data(&self, key: &'static str) -> Result<Option<&'a [u8]>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Data(d)) => Ok(Some(d.as_slice())),
            Some(other) => Err(wrong(key, "data", other)),
        }
    }

    pub fn data(&self, key: &'static str) -> Result<&'a [u8], ProtocolError> {
        self.opt_data(key)?.ok_or(ProtocolError::MissingKey(key))
    }

    pub fn opt_int(&self, key: &'static str) -> Result<Option<i64>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(v @ Value::Integer(i)) => i.as_signed().map(Some).ok_or_else(|| wrong(key, "an integer", v)),
            Some(other) => Err(wrong(key, "an integer", other)),
        }
    }

    pub fn opt_real(&self, key: &'static str) -> Result<Option<f64>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Real(r)) => Ok(Some(*r)),
            // Devices send whole numbers as <integer> where the schema says <real>.
            Some(Value::Integer(i)) => Ok(i.as_signed().map(|v| v as f64)),
            Some(other) => Err(wrong(key, "a real", other)),
        }
    }

    pub fn opt_date(&self, key: &'static str) -> Result<Option<plist::Date>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Date(d)) => Ok(Some(*d)),
            Some(other) => Err(wrong(key, "a date", other)),
        }
    }

    pub fn opt_dict(&self, key: &'static str) -> Result<Option<Fields<'a>>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Dictionary(d)) => Ok(Some(Fields::new(d))),
            Some(other) => Err(wrong(key, "a dictionary", other)),
        }
    }

    pub fn opt_array(&self, key: &'static str) -> Result<Option<&'a [Value]>, ProtocolError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.as_slice())),
            Some(other) => Err(wrong(key, "an array", other)),
        }
    }

    /// An optional array whose items are all dictionaries.
    pub fn dict_items(&self, key: &'static str) -> Result<Vec<Fields<'a>>, ProtocolError> {
        let Some(items) = self.opt_array(key)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .map(|item| match item {
                Value::Dictionary(d) => Ok(Fields::new(d)),
                other => Err(wrong(key, "an array of dictionaries", other)),
            })
            .collect()
    }

    /// An optional array whose items are all strings.
    pub fn string_items(&self, key: &'static str) -> Result<Vec<String>, ProtocolError> {
        let Some(items) = self.opt_array(key)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(key, "an array of strings", other)),
            })
            .collect()
    }
}

/// Serializes a dictionary as an XML property list.
pub fn to_xml(dict: Dictionary) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing a Value to a Vec cannot fail: the writer only fails on I/O errors.
    if let Err(e) = Value::Dictionary(dict).to_writer_xml(&mut out) {
        tracing::error!(error = %e, "serializing a property list failed");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plist(inner: &str) -> Vec<u8> {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">{inner}</plist>")
            .into_bytes()
    }

    #[test]
    fn garbage_is_malformed_and_arrays_are_not_dictionaries() {
        assert!(matches!(
            parse_dictionary(b"hello"),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(parse_dictionary(b""), Err(ProtocolError::Malformed(_))));
        assert_eq!(
            parse_dictionary(&plist("<array/>")).unwrap_err(),
            ProtocolError::NotADictionary
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}{}", "<array>".repeat(100_000), "</array>".repeat(100_000));
        assert_eq!(
            parse_dictionary(&plist(&deep)).unwrap_err(),
            ProtocolError::TooDeep(MAX_DEPTH)
        );
        let fine = format!(
            "<dict><key>a</key>{}{}</dict>",
            "<array>".repeat(10),
            "</array>".repeat(10)
        );
        assert!(parse_dictionary(&plist(&fine)).is_ok());
    }

    #[test]
    fn wrong_types_name_the_key_and_both_types() {
        let dict = parse_dictionary(&plist("<dict><key>UDID</key><integer>5</integer></dict>")).unwrap();
        let err = Fields::new(&dict).str("UDID").unwrap_err();
        assert_eq!(err.to_string(), "key `UDID` should be a string, found an integer");
        assert_eq!(
            Fields::new(&dict).str("Topic").unwrap_err().to_string(),
            "missing key `Topic`"
        );
    }
}
