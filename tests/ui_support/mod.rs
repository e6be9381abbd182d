//! Shared pieces of the UI page tests: multipart bodies as a browser sends them, and the
//! accounts every page test signs in with.
#![allow(dead_code)]

use crate::common::TestApp;
use orchard::admin::Role;

pub const BOUNDARY: &str = "----orchardTestBoundary7MA4YWxkTrZu0gW";

/// One part of a multipart form.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    /// (field, file name, content)
    File(&'a str, &'a str, &'a [u8]),
}

pub fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The head of a file part (everything before its content).
pub fn file_head(field: &str, file_name: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes()
}

pub fn closing() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

/// A whole multipart body.
pub fn body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Text(name, value) => {
                out.extend_from_slice(
                    format!(
                        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                    )
                    .as_bytes(),
                );
            }
            Part::File(field, name, content) => {
                out.extend_from_slice(&file_head(field, name));
                out.extend_from_slice(content);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(&closing());
    out
}

/// Posts a multipart form to `path` with the session's CSRF token in the query, as the pages'
/// forms do.
pub async fn post_multipart(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let token = app.session_csrf(client).await;
    client
        .post(app.url(&format!("{path}?csrf_token={token}")))
        .header("content-type", content_type())
        .body(body(parts))
        .send()
        .await
        .unwrap()
}

/// An app with an admin `ada`, a manager `max` and a viewer `vic`.
pub async fn with_roles(app: &TestApp) {
    app.create_admin("ada", Role::Admin).await;
    app.create_admin("max", Role::Manager).await;
    app.create_admin("vic", Role::Viewer).await;
}

/// The text of the page, with tags removed, whitespace collapsed and the usual entities
/// decoded, for assertions on what a reader sees.
pub fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    text.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
