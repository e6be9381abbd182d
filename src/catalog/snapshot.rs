//! The current catalog: the documents as received and the index built from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::document::{DocumentKind, ParsedDocument};
use super::index::CatalogIndex;

/// One document as received, with where and when it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub kind: DocumentKind,
    pub body: Arc<[u8]>,
    pub sha256: String,
    pub upstream_etag: Option<String>,
    pub upstream_last_modified: Option<String>,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub parsed: Arc<ParsedDocument>,
}

impl Document {
    pub fn new(
        body: Arc<[u8]>,
        parsed: ParsedDocument,
        source: String,
        received_at: DateTime<Utc>,
    ) -> Document {
        Document {
            kind: parsed.kind(),
            sha256: sha256_hex(&body),
            body,
            upstream_etag: None,
            upstream_last_modified: None,
            source,
            received_at,
            parsed: Arc::new(parsed),
        }
    }

    /// The body served by the mirror: the Apple document itself for a gdmf copy that arrived in
    /// SOFA's `{"etag", "data"}` wrapper, else the bytes as received.
    pub fn mirror_body(&self) -> Arc<[u8]> {
        if self.kind == DocumentKind::Gdmf
            && let Ok(serde_json::Value::Object(mut map)) =
                serde_json::from_slice::<serde_json::Value>(&self.body)
            && !map.contains_key("PublicAssetSets")
            && let Some(inner) = map.remove("data")
            && let Ok(bytes) = serde_json::to_vec(&inner)
        {
            return bytes.into();
        }
        self.body.clone()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub documents: BTreeMap<DocumentKind, Document>,
    pub index: CatalogIndex,
}

impl Snapshot {
    pub fn new(documents: BTreeMap<DocumentKind, Document>) -> Snapshot {
        let mut gdmf = None;
        let mut feeds = Vec::new();
        let mut installers = Vec::new();
        for doc in documents.values() {
            match &*doc.parsed {
                ParsedDocument::Gdmf(g) => gdmf = Some(g.clone()),
                ParsedDocument::Sofa(f) => feeds.push(f.clone()),
                ParsedDocument::UmaCatalog(list) => installers.extend(list.iter().cloned()),
                ParsedDocument::DmsConsumers { .. } => {}
            }
        }
        let index = match gdmf {
            Some(g) => CatalogIndex::build(g, &feeds, &installers),
            None => CatalogIndex::default(),
        };
        Snapshot { documents, index }
    }

    /// A new snapshot with `replacements` put in place of the documents of the same kind.
    pub fn with(&self, replacements: Vec<Document>) -> Snapshot {
        let mut documents = self.documents.clone();
        for d in replacements {
            documents.insert(d.kind, d);
        }
        Snapshot::new(documents)
    }

    pub fn has_gdmf(&self) -> bool {
        self.documents.contains_key(&DocumentKind::Gdmf)
    }

    /// (slot, sha256) pairs, sorted by slot, to notice changes made by another process.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .documents
            .values()
            .map(|d| (d.kind.slot(), d.sha256.clone()))
            .collect();
        v.sort();
        v
    }
}
