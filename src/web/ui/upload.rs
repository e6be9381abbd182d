//! Reading `multipart/form-data` uploads (catalog files, push certificates) with limits that hold
//! while the body streams in: a file over its limit is refused as soon as the limit is passed,
//! so a huge upload is never held in memory, and the rest of the body is not read.
//!
//! Multipart forms carry their CSRF token in the action's query string (`?csrf_token=`), which
//! the CSRF middleware checks before the body is touched.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

/// What one upload may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file, in bytes.
    pub file_bytes: u64,
    /// Most files in one upload.
    pub max_files: usize,
    /// Largest plain (non-file) field, in bytes.
    pub text_bytes: usize,
}

/// A file of the form. Fields left empty by the browser (no file chosen) are not listed.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// The form field it came in.
    pub field: String,
    /// The name the browser gave (the file's name on the operator's machine).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The parts of an upload: files and plain fields, in the order they came.
#[derive(Debug, Default)]
pub struct Upload {
    pub files: Vec<UploadedFile>,
    pub fields: Vec<(String, String)>,
}

impl Upload {
    /// The first plain field named `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first file sent in field `name`.
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|f| f.field == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{name} is larger than the limit of {limit} bytes; nothing was imported")]
    TooLarge { name: String, limit: u64 },
    #[error("the upload is {size} bytes, more than the {limit} bytes it may hold; nothing was imported")]
    BodyTooLarge { size: u64, limit: u64 },
    #[error("at most {0} files can be uploaded at once")]
    TooManyFiles(usize),
    #[error("the upload could not be read: {0}")]
    Malformed(String),
}

impl UploadError {
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::TooLarge { .. } | UploadError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::TooManyFiles(_) | UploadError::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// The most a whole body may hold under `limits` (files, fields, multipart framing).
fn body_limit(limits: &Limits) -> u64 {
    let framing = 64 * 1024;
    limits
        .file_bytes
        .saturating_mul(limits.max_files as u64)
        .saturating_add((limits.text_bytes as u64).saturating_mul(8))
        .saturating_add(framing)
}

/// Reads the upload of `req`. A declared `Content-Length` over what the limits allow is
/// refused before any of the body is read; otherwise each part is counted as it arrives.
pub async fn read(req: &HttpRequest, payload: web::Payload, limits: Limits) -> Result<Upload, UploadError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared {
        let limit = body_limit(&limits);
        if size > limit {
            return Err(UploadError::BodyTooLarge { size, limit });
        }
    }
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut upload = Upload::default();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| UploadError::Malformed(e.to_string()))?;
        let disposition = field.content_disposition().cloned();
        let name = disposition
            .as_ref()
            .and_then(|d| d.get_name())
            .unwrap_or_default()
            .to_string();
        let file_name = disposition
            .as_ref()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        let limit = match &file_name {
            Some(_) => limits.file_bytes,
            None => limits.text_bytes as u64,
        };
        let shown = file_name.clone().unwrap_or_else(|| format!("the field {name}"));
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| UploadError::Malformed(e.to_string()))?;
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(UploadError::TooLarge { name: shown, limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        match file_name {
            // A file input left empty.
            Some(file_name) if file_name.is_empty() && bytes.is_empty() => {}
            Some(file_name) => {
                if upload.files.len() == limits.max_files {
                    return Err(UploadError::TooManyFiles(limits.max_files));
                }
                upload.files.push(UploadedFile {
                    field: name,
                    name: file_name,
                    bytes,
                });
            }
            None => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| UploadError::Malformed(format!("the field {name} is not text")))?;
                upload.fields.push((name, text));
            }
        }
    }
    Ok(upload)
}
