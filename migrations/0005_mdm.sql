-- MDM devices and their command queue.
--
-- Times are UTC RFC 3339 with milliseconds and a `Z` (fixed width), so text order is time order.

CREATE TABLE devices (
    udid                          TEXT PRIMARY KEY,
    serial_number                 TEXT,
    -- authenticated: Authenticate seen, no TokenUpdate yet; enrolled; unenrolled (CheckOut).
    enrollment_state              TEXT NOT NULL
        CHECK (enrollment_state IN ('authenticated', 'enrolled', 'unenrolled')),
    -- Counts Authenticate messages: each starts a new enrollment.
    enrollment_count              INTEGER NOT NULL DEFAULT 1,
    first_seen_at                 TEXT NOT NULL,
    authenticated_at              TEXT NOT NULL,
    enrolled_at                   TEXT,
    unenrolled_at                 TEXT,
    last_seen_at                  TEXT NOT NULL,
    topic                         TEXT NOT NULL,
    push_token                    BLOB,
    push_magic                    TEXT,
    unlock_token                  BLOB,
    awaiting_configuration        INTEGER NOT NULL DEFAULT 0,
    -- SHA-256 (hex) of the identity certificate bound to this UDID.
    identity_fingerprint          TEXT,
    bootstrap_token               BLOB,
    -- Inventory, from Authenticate and DeviceInformation results.
    os_version                    TEXT,
    build_version                 TEXT,
    supplemental_build_version    TEXT,
    supplemental_os_version_extra TEXT,
    product_name                  TEXT,
    model                         TEXT,
    model_name                    TEXT,
    device_name                   TEXT,
    is_supervised                 INTEGER,
    software_update_device_id     TEXT,
    inventory_updated_at          TEXT,
    -- Push status, written by the push service.
    last_push_at                  TEXT,
    last_push_result              TEXT,
    push_failed_at                TEXT,
    push_failure                  TEXT
) STRICT;

-- One certificate speaks for one device.
CREATE UNIQUE INDEX devices_identity ON devices (identity_fingerprint)
    WHERE identity_fingerprint IS NOT NULL;
CREATE INDEX devices_serial ON devices (serial_number);

CREATE TABLE commands (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT NOT NULL UNIQUE,
    udid         TEXT NOT NULL REFERENCES devices (udid),
    request_type TEXT NOT NULL,
    -- Higher first.
    priority     INTEGER NOT NULL DEFAULT 0,
    -- The plist body sent to the device.
    payload      BLOB NOT NULL,
    -- pending: not sent yet; sent: sent, no result yet (sent again on the next poll);
    -- notnow: the device said NotNow, held until the next push;
    -- acknowledged / error / format_error: completed; cancelled: dropped by a re-enrollment
    -- or a check-out.
    status       TEXT NOT NULL
        CHECK (status IN ('pending', 'sent', 'notnow', 'acknowledged', 'error', 'format_error', 'cancelled')),
    created_at   TEXT NOT NULL,
    sent_at      TEXT,
    completed_at TEXT,
    -- The raw result plist and the parsed ErrorChain (JSON array).
    result       BLOB,
    error_chain  TEXT
) STRICT;

-- The queue: next deliverable command of one device by priority, then age.
CREATE INDEX commands_queue ON commands (udid, priority DESC, id)
    WHERE status IN ('pending', 'sent');
-- Commands held by NotNow, released by the next push.
CREATE INDEX commands_notnow ON commands (udid) WHERE status = 'notnow';
-- Pruning of completed commands by age.
CREATE INDEX commands_completed ON commands (completed_at) WHERE completed_at IS NOT NULL;
-- Command history of one device, newest first.
CREATE INDEX commands_history ON commands (udid, id);
