//! OS versions and builds as Apple writes them, and how one relates to another. Pure.
//!
//! `26.3.1`, `26.3.1 (a)` (a Background Security Improvement, formerly Rapid Security Response),
//! builds such as `23D8133` or `25D771280a` (the trailing letter marks a supplemental build).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("`{0}` is not an OS version (expected e.g. 26.3.1 or 26.3.1 (a))")]
    Version(String),
    #[error("`{0}` is not an OS build (expected e.g. 23D8133 or 25D771280a)")]
    Build(String),
}

/// `major.minor.patch` plus an optional supplemental letter (`(a)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OsVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The Background Security Improvement letter, `a` for `(a)`.
    pub extra: Option<char>,
}

impl OsVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        OsVersion {
            major,
            minor,
            patch,
            extra: None,
        }
    }

    /// The same version without its supplemental letter.
    pub fn base(self) -> OsVersion {
        OsVersion { extra: None, ..self }
    }

    pub fn with_extra(self, extra: Option<char>) -> OsVersion {
        OsVersion { extra, ..self }
    }

    /// The "major" of the marketing scheme: 10.15 for macOS 10.x, else the first number.
    pub fn major_line(self) -> (u32, u32) {
        if self.major == 10 {
            (10, self.minor)
        } else {
            (self.major, 0)
        }
    }
}

/// Parses a supplemental extra as Apple writes it: `(a)`, `a`, or empty.
pub fn parse_extra(text: &str) -> Result<Option<char>, VersionError> {
    let t = text.trim().trim_start_matches('(').trim_end_matches(')').trim();
    let mut chars = t.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Ok(None),
        (Some(c), None) if c.is_ascii_lowercase() => Ok(Some(c)),
        _ => Err(VersionError::Version(text.to_string())),
    }
}

impl FromStr for OsVersion {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::Version(text.to_string());
        let trimmed = text.trim();
        let (numbers, extra) = match trimmed.find('(') {
            Some(i) => (
                trimmed[..i].trim(),
                parse_extra(&trimmed[i..]).map_err(|_| err())?,
            ),
            None => (trimmed, None),
        };
        let mut parts = numbers.split('.');
        let mut next = |required: bool| -> Result<u32, VersionError> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| err())
                }
                None if !required => Ok(0),
                _ => Err(err()),
            }
        };
        let major = next(true)?;
        let minor = next(false)?;
        let patch = next(false)?;
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(OsVersion {
            major,
            minor,
            patch,
            extra,
        })
    }
}

impl Ord for OsVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch, self.extra).cmp(&(
            other.major,
            other.minor,
            other.patch,
            other.extra,
        ))
    }
}

impl PartialOrd for OsVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for OsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        if let Some(c) = self.extra {
            write!(f, " ({c})")?;
        }
        Ok(())
    }
}

/// Written as Apple writes it (`26.3.1 (a)`), for plans and previews shown as JSON.
impl serde::Serialize for OsVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A build: Darwin-based number, train letter, build number, optional supplemental letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Build {
    pub darwin: u32,
    pub train: char,
    pub number: u32,
    pub suffix: Option<char>,
}

impl Build {
    pub fn is_supplemental(&self) -> bool {
        self.suffix.is_some()
    }
}

impl FromStr for Build {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::Build(text.to_string());
        let t = text.trim();
        let digits_end = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits_end == 0 || digits_end > 3 {
            return Err(err());
        }
        let darwin = t[..digits_end].parse().map_err(|_| err())?;
        let mut rest = t[digits_end..].chars();
        let train = rest.next().filter(|c| c.is_ascii_uppercase()).ok_or_else(err)?;
        let rest: String = rest.collect();
        let (number_text, suffix) = match rest.chars().last() {
            Some(c) if c.is_ascii_lowercase() => (&rest[..rest.len() - 1], Some(c)),
            _ => (rest.as_str(), None),
        };
        if number_text.is_empty() || number_text.len() > 9 || !number_text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let number = number_text.parse().map_err(|_| err())?;
        Ok(Build {
            darwin,
            train,
            number,
            suffix,
        })
    }
}

impl Ord for Build {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.darwin, self.train, self.number, self.suffix).cmp(&(
            other.darwin,
            other.train,
            other.number,
            other.suffix,
        ))
    }
}

impl PartialOrd for Build {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.darwin, self.train, self.number)?;
        if let Some(c) = self.suffix {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Written as Apple writes it (`25D771280a`).
impl serde::Serialize for Build {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What kind of step an update from one version to another is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// A new major line (18 → 26, macOS 10.15 → 11).
    Major,
    Minor,
    Patch,
    /// Only the supplemental letter changes (26.3.1 → 26.3.1 (a)).
    BackgroundSecurityImprovement,
    /// Same version: nothing to do.
    None,
    /// The target is older than the current version.
    Downgrade,
}

impl UpdateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Major => "major",
            UpdateKind::Minor => "minor",
            UpdateKind::Patch => "patch",
            UpdateKind::BackgroundSecurityImprovement => "background-security-improvement",
            UpdateKind::None => "none",
            UpdateKind::Downgrade => "downgrade",
        }
    }
}

/// Classifies the step from `from` to `to`.
pub fn classify(from: OsVersion, to: OsVersion) -> UpdateKind {
    match to.cmp(&from) {
        Ordering::Equal => return UpdateKind::None,
        Ordering::Less => return UpdateKind::Downgrade,
        Ordering::Greater => {}
    }
    if from.major_line() != to.major_line() {
        UpdateKind::Major
    } else if from.minor != to.minor {
        UpdateKind::Minor
    } else if from.patch != to.patch {
        UpdateKind::Patch
    } else {
        UpdateKind::BackgroundSecurityImprovement
    }
}

/// The supplemental (BSI) state of a device or an offer: `SupplementalOSVersionExtra` and
/// `SupplementalBuildVersion` on a device, `ProductVersionExtra` and `Build` in gdmf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplemental {
    pub extra: char,
    pub build: Build,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> OsVersion {
        s.parse().unwrap()
    }

    #[test]
    fn versions_parse_and_print() {
        let table = [
            ("26.3.1", (26, 3, 1, None), "26.3.1"),
            ("26.3.1 (a)", (26, 3, 1, Some('a')), "26.3.1 (a)"),
            ("26.3.1(a)", (26, 3, 1, Some('a')), "26.3.1 (a)"),
            ("26.4", (26, 4, 0, None), "26.4"),
            ("18", (18, 0, 0, None), "18.0"),
            ("10.15.7", (10, 15, 7, None), "10.15.7"),
        ];
        for (text, (ma, mi, pa, ex), shown) in table {
            let parsed = v(text);
            assert_eq!(
                (parsed.major, parsed.minor, parsed.patch, parsed.extra),
                (ma, mi, pa, ex),
                "{text}"
            );
            assert_eq!(parsed.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn bad_versions_are_refused() {
        for text in [
            "",
            "26.",
            "a.b",
            "26.3.1.4",
            "26.3.1 (ab)",
            "26.3.1 (A)",
            "-1.0",
            "99999.1",
        ] {
            assert!(text.parse::<OsVersion>().is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn versions_order_numerically_with_supplementals_after_their_base() {
        let ordered = [
            "9.6.4",
            "17.7.10",
            "18.7.7",
            "26.3",
            "26.3.1",
            "26.3.1 (a)",
            "26.3.1 (b)",
            "26.3.2",
            "26.4",
            "26.10",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("26.4.0"), v("26.4"));
    }

    #[test]
    fn builds_parse_order_and_print() {
        let table = [
            ("25D771280a", (25, 'D', 771280, Some('a'))),
            ("23D8133", (23, 'D', 8133, None)),
            ("16H88", (16, 'H', 88, None)),
            ("21H1320", (21, 'H', 1320, None)),
        ];
        for (text, (d, t, n, s)) in table {
            let b: Build = text.parse().unwrap();
            assert_eq!((b.darwin, b.train, b.number, b.suffix), (d, t, n, s), "{text}");
            assert_eq!(b.to_string(), text);
        }
        let b = |s: &str| s.parse::<Build>().unwrap();
        assert!(b("25D2128") < b("25D771280a"));
        assert!(b("23D127") < b("23D8133"));
        assert!(b("22H340") < b("23A341"));
        assert!(b("25D2128") < b("25E246"));
        for bad in ["", "D123", "25d123", "25D", "25D12x3", "1234A1", "25Da"] {
            assert!(bad.parse::<Build>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn steps_are_classified() {
        let table = [
            ("18.7.7", "26.4.1", UpdateKind::Major),
            ("10.15.7", "11.7.11", UpdateKind::Major),
            ("10.14.6", "10.15.7", UpdateKind::Major),
            ("26.3", "26.4", UpdateKind::Minor),
            ("26.3.1", "26.4.1", UpdateKind::Minor),
            ("26.4", "26.4.1", UpdateKind::Patch),
            ("26.3", "26.3.1 (a)", UpdateKind::Patch),
            ("26.3.1", "26.3.1 (a)", UpdateKind::BackgroundSecurityImprovement),
            (
                "26.3.1 (a)",
                "26.3.1 (b)",
                UpdateKind::BackgroundSecurityImprovement,
            ),
            ("26.3.1 (a)", "26.3.1 (a)", UpdateKind::None),
            ("26.4", "26.3.1", UpdateKind::Downgrade),
            ("26.3.1 (a)", "26.3.1", UpdateKind::Downgrade),
        ];
        for (from, to, kind) in table {
            assert_eq!(classify(v(from), v(to)), kind, "{from} -> {to}");
        }
    }

    #[test]
    fn supplemental_extra_is_read_in_both_spellings() {
        assert_eq!(parse_extra("(a)").unwrap(), Some('a'));
        assert_eq!(parse_extra("a").unwrap(), Some('a'));
        assert_eq!(parse_extra("").unwrap(), None);
        assert!(parse_extra("(1)").is_err());
    }
}
