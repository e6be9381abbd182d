-- The JSON API's bearer tokens, API clients for device trust (with their secrets), and the
-- compliance state kept per device so the devices list can filter and sort on it.

-- Bearer tokens for /api/v1. The token is `orchard_<public_id>_<secret>`: the public id finds
-- the row, a SHA-256 of the whole token is compared in constant time. The token itself is shown
-- once, when created.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL,
    name         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'viewer')),
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;

-- Other systems (identity providers, conditional access) that ask whether a device is trusted.
CREATE TABLE api_clients (
    id          INTEGER PRIMARY KEY,
    client_id   TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    last_used_at TEXT
) STRICT;

-- A client's secrets (SHA-256 kept). The current one has expires_at NULL; a rotation gives the
-- previous one an expiry (24 h later); an invalidation expires every secret at once.
CREATE TABLE api_client_secrets (
    id          INTEGER PRIMARY KEY,
    client_ref  INTEGER NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT
) STRICT;
CREATE INDEX api_client_secrets_by_client ON api_client_secrets (client_ref);

-- Compliance state per device, refreshed after each evaluation and status report.
CREATE TABLE device_compliance (
    udid         TEXT PRIMARY KEY REFERENCES devices (udid) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    deadline     TEXT,
    overdue_since TEXT,
    stale        INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
    -- Since when the device has been in this state (kept while the state stays the same).
    since        TEXT NOT NULL,
    evaluated_at TEXT NOT NULL
) STRICT;
CREATE INDEX device_compliance_state ON device_compliance (state, udid);
CREATE INDEX device_compliance_overdue ON device_compliance (overdue_since) WHERE overdue_since IS NOT NULL;

-- The devices list sorts and filters on these at 100,000 devices.
CREATE INDEX devices_last_seen ON devices (last_seen_at, udid);
CREATE INDEX devices_name ON devices (device_name COLLATE NOCASE, udid);
CREATE INDEX devices_product ON devices (product_name, udid);
CREATE INDEX devices_os ON devices (os_version, udid);
CREATE INDEX devices_state ON devices (enrollment_state, udid);
