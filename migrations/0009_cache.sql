-- The local payload cache: content-addressed files under <cache dir>/objects, described here.
-- A row in `ready` state has its file published (fsynced, verified, renamed into place);
-- `quarantined` rows describe files that failed verification: kept aside for inspection, never
-- served.
CREATE TABLE cache_payloads (
    digest            TEXT PRIMARY KEY,     -- SHA-256 of the content, lower-case hex
    kind              TEXT NOT NULL CHECK (kind IN ('installer', 'ipsw', 'catalog')),
    platform          TEXT NOT NULL,        -- 'macOS', 'iOS', ...
    version           TEXT NOT NULL,
    build             TEXT NOT NULL,
    filename          TEXT NOT NULL,        -- the name it is served under
    size              INTEGER NOT NULL CHECK (size >= 0),
    chunklist_sha256  TEXT,                 -- the Apple chunklist it was verified against
    source_url        TEXT,                 -- where it came from ('import:<name>' for files)
    fetched_at        TEXT NOT NULL,
    last_served_at    TEXT,
    pinned            INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    state             TEXT NOT NULL CHECK (state IN ('ready', 'quarantined')),
    problem           TEXT                  -- why it was quarantined
) STRICT;
CREATE INDEX cache_payloads_target ON cache_payloads (platform, version, build);
CREATE INDEX cache_payloads_lru ON cache_payloads (state, pinned, coalesce(last_served_at, fetched_at));

-- Downloads from Apple's CDN. The partial file (<cache dir>/partial/<id>.part) and
-- `bytes_done` survive a restart, so a download resumes with an HTTP Range request.
CREATE TABLE cache_downloads (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT NOT NULL CHECK (kind IN ('installer', 'ipsw', 'catalog')),
    platform          TEXT NOT NULL,
    version           TEXT NOT NULL,
    build             TEXT NOT NULL,
    filename          TEXT NOT NULL,
    url               TEXT NOT NULL,
    integrity_url     TEXT,                 -- Apple chunklist (IntegrityDataURL), installers
    expected_size     INTEGER,
    expected_sha256   TEXT,
    state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'deferred', 'done', 'failed')),
    bytes_done        INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0,   -- verification failures so far
    error             TEXT,
    digest            TEXT,                 -- the payload, once done
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX cache_downloads_state ON cache_downloads (state, id);
