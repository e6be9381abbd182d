-- The update catalog: the current document of each kind (Apple's gdmf catalog, SOFA feeds), kept
-- as received. A document is replaced only by one that validated, so this table always holds the
-- last known good catalog.
CREATE TABLE catalog_documents (
    slot                   TEXT PRIMARY KEY,   -- e.g. 'gdmf/v2/pmv', 'v1/macos_data_feed.json'
    body                   BLOB NOT NULL,
    sha256                 TEXT NOT NULL,
    upstream_etag          TEXT,               -- for conditional requests
    upstream_last_modified TEXT,
    source                 TEXT NOT NULL,      -- URL fetched, or 'import:<file name>'
    received_at            TEXT NOT NULL
) STRICT;

-- Every refresh attempt and import, successful or not.
CREATE TABLE catalog_refreshes (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    source   TEXT NOT NULL,
    slot     TEXT,
    result   TEXT NOT NULL CHECK (result IN ('updated', 'unchanged', 'not-modified', 'failed', 'refused')),
    error    TEXT,
    bytes    INTEGER
) STRICT;
CREATE INDEX catalog_refreshes_source ON catalog_refreshes (source, id);
