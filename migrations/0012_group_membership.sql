-- Group membership as the policy engine resolves it (static members and rules), kept as rows so
-- that the devices list and the dashboard filter and count by group and ring in SQL at 100,000
-- devices. Only enrolled devices have rows. Written by the policy service when a group or its
-- static members change and by the policy engine with each evaluation (a device's facts
-- changed); `PolicyService::refresh_membership` rebuilds both tables.
CREATE TABLE group_members_resolved (
    group_id INTEGER NOT NULL REFERENCES policy_groups (id) ON DELETE CASCADE,
    udid     TEXT NOT NULL,
    PRIMARY KEY (group_id, udid)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_resolved_device ON group_members_resolved (udid, group_id);

-- A device's ring: of the ring groups it is in, the one of lowest order (then first by name);
-- `rings` is how many ring groups it is in (more than one is shown as such).
CREATE TABLE device_rings (
    udid    TEXT PRIMARY KEY,
    ring_id INTEGER NOT NULL REFERENCES policy_groups (id) ON DELETE CASCADE,
    rings   INTEGER NOT NULL CHECK (rings >= 1)
) STRICT, WITHOUT ROWID;
CREATE INDEX device_rings_ring ON device_rings (ring_id, udid);
