-- Declarative Device Management: declarations as content-addressed data, per-device sets, and
-- the status channel. Devices are keyed by their UDID as TEXT. The MDM `devices` table (migration
-- 0005) is not on this branch yet, so there is no foreign key to it; add one when both are merged.

-- A declaration's content, stored once however many devices get it. Rows are never changed:
-- a changed declaration is a new (identifier, server_token) row, so older sets stay servable.
CREATE TABLE ddm_declarations (
    id               INTEGER PRIMARY KEY,
    identifier       TEXT NOT NULL,
    server_token     TEXT NOT NULL,
    declaration_type TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (identifier, server_token)
) STRICT;

-- A group of declarations named by the token over its (identifier, server token) pairs: a device's
-- own declarations, or one version of the shared declarations every DDM device gets.
CREATE TABLE ddm_groups (
    group_key  TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE ddm_group_members (
    group_key      TEXT NOT NULL REFERENCES ddm_groups (group_key) ON DELETE CASCADE,
    declaration_id INTEGER NOT NULL REFERENCES ddm_declarations (id),
    PRIMARY KEY (group_key, declaration_id)
) STRICT, WITHOUT ROWID;

-- The shared declarations as they are now (one row).
CREATE TABLE ddm_shared (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    group_key  TEXT NOT NULL REFERENCES ddm_groups (group_key),
    updated_at TEXT NOT NULL
) STRICT;

-- A declaration set as offered to devices: the shared group of the time plus a device's own group
-- (own declarations win over shared ones with the same identifier). Named by its DeclarationsToken;
-- immutable, so a device's sync answers from the set it was offered even while policies change.
CREATE TABLE ddm_sets (
    id                 INTEGER PRIMARY KEY,
    declarations_token TEXT NOT NULL UNIQUE,
    shared_group       TEXT NOT NULL REFERENCES ddm_groups (group_key),
    own_group          TEXT NOT NULL REFERENCES ddm_groups (group_key),
    created_at         TEXT NOT NULL
) STRICT;

-- Per device: its own declarations, the set it should have (latest), the set whose token it was
-- last given (offered: `tokens` or a DeclarativeManagement command), the set whose manifest it
-- fetched (manifest: `declaration-items`), and the set it was last notified of. Sets are referred
-- to by integer id: the rows stay narrow, so rewriting 100,000 of them after a shared change is fast.
CREATE TABLE ddm_devices (
    udid          TEXT PRIMARY KEY,
    own_group     TEXT NOT NULL REFERENCES ddm_groups (group_key),
    latest_set    INTEGER NOT NULL REFERENCES ddm_sets (id),
    latest_set_at TEXT NOT NULL,
    offered_set   INTEGER REFERENCES ddm_sets (id),
    manifest_set  INTEGER REFERENCES ddm_sets (id),
    notified_set  INTEGER,
    enrolled_at   TEXT
) STRICT;
CREATE INDEX ddm_devices_own_group ON ddm_devices (own_group);

-- Latest value of every status item a device reported (canonical JSON).
CREATE TABLE ddm_status_items (
    udid       TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (udid, name)
) STRICT, WITHOUT ROWID;

-- Every change of a status item: old NULL = first seen, new NULL = gone from a full report.
CREATE TABLE ddm_status_history (
    id         INTEGER PRIMARY KEY,
    udid       TEXT NOT NULL,
    name       TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    changed_at TEXT NOT NULL
) STRICT;
CREATE INDEX ddm_status_history_device ON ddm_status_history (udid, name, id);

-- Status items the device could not report, with its reasons (JSON array of {Code, Description, Details}).
CREATE TABLE ddm_status_errors (
    udid        TEXT NOT NULL,
    status_item TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (udid, status_item)
) STRICT, WITHOUT ROWID;

-- Each declaration's state on the device, from `management.declarations`.
CREATE TABLE ddm_declaration_states (
    udid         TEXT NOT NULL,
    identifier   TEXT NOT NULL,
    class        TEXT NOT NULL,
    server_token TEXT NOT NULL,
    active       INTEGER NOT NULL,
    valid        TEXT NOT NULL,
    reasons      TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (udid, identifier)
) STRICT, WITHOUT ROWID;
