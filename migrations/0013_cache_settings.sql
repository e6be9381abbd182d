-- Download windows and bandwidth set in the UI (Cache page). One row at most: when present it
-- takes precedence over `cache.allowed_windows`, `cache.window_time_zone` and
-- `cache.bandwidth_bytes_per_second` of the configuration; deleting it returns to those.
CREATE TABLE cache_download_limits (
    id                          INTEGER PRIMARY KEY CHECK (id = 1),
    allowed_windows             TEXT NOT NULL,   -- JSON array of 'HH:MM-HH:MM'; [] = any time
    window_time_zone            TEXT NOT NULL,   -- 'local', 'UTC' or '+02:00'
    bandwidth_bytes_per_second  INTEGER NOT NULL CHECK (bandwidth_bytes_per_second >= 0),
    updated_at                  TEXT NOT NULL,
    updated_by                  TEXT NOT NULL
) STRICT;

-- The settings of the Mac content-caching profile (`com.apple.AssetCache.managed`), as the
-- JSON of `protocol::content_caching::ContentCachingSettings`. One row at most.
CREATE TABLE content_caching_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    settings    TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
) STRICT;

-- Macs the content-caching profile was sent to (InstallProfile through the MDM queue), with
-- the fingerprint of the profile sent: the Macs whose cache status Orchard asks for.
CREATE TABLE content_caching_macs (
    udid            TEXT PRIMARY KEY REFERENCES devices (udid) ON DELETE CASCADE,
    profile_sha256  TEXT NOT NULL,
    command_uuid    TEXT NOT NULL,
    queued_at       TEXT NOT NULL
) STRICT;

-- The latest ContentCachingInformation answer of each Mac (`StatusResponse` keys, Apple's
-- mdm/commands/information.contentcaching.yaml). `raw` keeps the whole StatusResponse as JSON.
CREATE TABLE content_caching_status (
    udid                TEXT PRIMARY KEY REFERENCES devices (udid) ON DELETE CASCADE,
    reported_at         TEXT NOT NULL,
    activated           INTEGER NOT NULL CHECK (activated IN (0, 1)),
    active              INTEGER NOT NULL CHECK (active IN (0, 1)),
    cache_status        TEXT,
    cache_used          INTEGER,
    cache_limit         INTEGER,
    cache_free          INTEGER,
    parents             TEXT NOT NULL,   -- JSON array of { address, healthy }
    peers               TEXT NOT NULL,   -- JSON array of { address, healthy, friendly }
    raw                 TEXT NOT NULL
) STRICT;
