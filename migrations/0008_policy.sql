-- Update policies ("Managed OS" items), groups and rings, assignments, the ring calendar, the plan
-- each device was given, and the durable re-evaluation queue. Devices are keyed by UDID as TEXT
-- (as in the DDM tables), so a device that unenrolls keeps its history.

-- Groups: static (listed members) or rule-based (platform, model family, OS major, serials).
-- A group with a ring order is a deployment ring; the order sorts rings (Vanguard first).
CREATE TABLE policy_groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL CHECK (kind IN ('static', 'rules')),
    -- JSON: {"platforms": [...], "model_families": [...], "os_majors": [...], "serials": [...]}
    rules       TEXT NOT NULL DEFAULT '{}',
    ring_order  INTEGER,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE policy_group_members (
    group_id INTEGER NOT NULL REFERENCES policy_groups (id) ON DELETE CASCADE,
    udid     TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (group_id, udid)
) STRICT, WITHOUT ROWID;
CREATE INDEX policy_group_members_device ON policy_group_members (udid);

-- One policy: the `Policy` as a JSON document; `name` repeats the document's for uniqueness.
CREATE TABLE policies (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    document   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE policy_group_assignments (
    policy_id INTEGER NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    group_id  INTEGER NOT NULL REFERENCES policy_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (policy_id, group_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX policy_group_assignments_group ON policy_group_assignments (group_id);

CREATE TABLE policy_device_assignments (
    policy_id INTEGER NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    udid      TEXT NOT NULL,
    PRIMARY KEY (policy_id, udid)
) STRICT, WITHOUT ROWID;
CREATE INDEX policy_device_assignments_device ON policy_device_assignments (udid);

-- The appliance-wide ring calendar (`RingSchedule` as JSON); absent means the default.
CREATE TABLE policy_ring_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    document   TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- What was decided for each device (the last evaluation) and what was delivered, so that a
-- re-evaluation that decides the same thing sends nothing, and the device page can say why.
CREATE TABLE device_plans (
    udid                  TEXT PRIMARY KEY,
    -- JSON of the plan summary shown on the device page.
    summary               TEXT NOT NULL,
    -- Hash of what the device is to be told (declarations or legacy profile and deadline).
    fingerprint           TEXT NOT NULL,
    -- declarative | legacy | none
    path                  TEXT NOT NULL,
    target_version        TEXT,
    deadline_utc          TEXT,
    -- When the plan changes with time alone (a deferral ends, a deadline passes); NULL: never.
    next_change_at        TEXT,
    evaluated_at          TEXT NOT NULL,
    delivered_fingerprint TEXT,
    delivered_path        TEXT,
    delivered_at          TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX device_plans_next_change ON device_plans (next_change_at)
    WHERE next_change_at IS NOT NULL;

-- Legacy path: the restrictions profile a device holds, and each ScheduleOSUpdate sent (one per
-- device and target), so a restart never sends one twice.
CREATE TABLE legacy_update_profiles (
    udid         TEXT PRIMARY KEY,
    identifier   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    command_uuid TEXT NOT NULL,
    installed_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE legacy_scheduled_updates (
    udid           TEXT NOT NULL,
    target_version TEXT NOT NULL,
    target_build   TEXT,
    deadline_utc   TEXT NOT NULL,
    command_uuid   TEXT NOT NULL,
    status_uuid    TEXT,
    sent_at        TEXT NOT NULL,
    PRIMARY KEY (udid, target_version)
) STRICT, WITHOUT ROWID;

-- Devices whose plan must be recomputed, with why; drained by the policy worker. A device is
-- listed once however many events name it.
CREATE TABLE policy_evaluation_queue (
    udid        TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    enqueued_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
