-- The dashboard's counts, maintained: devices per (model, OS version, compliance state), per
-- (group, state) and per (ring, state). Counting them from the devices at each view joined
-- 100,000 devices with their compliance rows three times (over a second at 100,000 devices);
-- these rows are kept exact by the triggers below, in the statement (so the transaction) that
-- changes a device, its compliance row or its membership. A NULL state is "not assessed yet".
-- Rows whose count fell to zero are kept (readers skip them): at most one per combination seen.
--
-- Keys: `quote()` of each part, so that NULL and every text stay distinct (a NULL in a primary
-- key would never conflict). `store::dashboard::*_recount` count the same from the devices; tests
-- check that both agree after every kind of change.

CREATE TABLE dashboard_fleet_cells (
    -- quote(product_name) || ',' || quote(os_version) || ',' || quote(state)
    cell         TEXT PRIMARY KEY,
    product_name TEXT,
    os_version   TEXT,
    state        TEXT,
    devices      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Members of a group that are known devices, per state (`state_key` = quote(state)).
CREATE TABLE dashboard_group_cells (
    group_id  INTEGER NOT NULL REFERENCES policy_groups (id) ON DELETE CASCADE,
    state_key TEXT NOT NULL,
    state     TEXT,
    devices   INTEGER NOT NULL,
    PRIMARY KEY (group_id, state_key)
) STRICT, WITHOUT ROWID;

-- Devices whose ring is this group (device_rings), per state.
CREATE TABLE dashboard_ring_cells (
    ring_id   INTEGER NOT NULL REFERENCES policy_groups (id) ON DELETE CASCADE,
    state_key TEXT NOT NULL,
    state     TEXT,
    devices   INTEGER NOT NULL,
    PRIMARY KEY (ring_id, state_key)
) STRICT, WITHOUT ROWID;

INSERT INTO dashboard_fleet_cells (cell, product_name, os_version, state, devices)
SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(c.state),
       d.product_name, d.os_version, c.state, count(*)
FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
GROUP BY d.product_name, d.os_version, c.state;

INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
SELECT m.group_id, quote(c.state), c.state, count(*)
FROM group_members_resolved m JOIN devices d ON d.udid = m.udid
     LEFT JOIN device_compliance c ON c.udid = m.udid
GROUP BY m.group_id, c.state;

INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
SELECT r.ring_id, quote(c.state), c.state, count(*)
FROM device_rings r JOIN devices d ON d.udid = r.udid
     LEFT JOIN device_compliance c ON c.udid = r.udid
GROUP BY r.ring_id, c.state;

-- The triggers key everything on the UDID: it never changes.
CREATE TRIGGER devices_udid_fixed BEFORE UPDATE OF udid ON devices
WHEN old.udid IS NOT new.udid
BEGIN
    SELECT RAISE(ABORT, 'a device''s UDID never changes');
END;

CREATE TRIGGER device_compliance_udid_fixed BEFORE UPDATE OF udid ON device_compliance
WHEN old.udid IS NOT new.udid
BEGIN
    SELECT RAISE(ABORT, 'a compliance row''s UDID never changes');
END;

-- A new device: its cell, and its groups and ring if it has membership rows already.
CREATE TRIGGER dashboard_device_added AFTER INSERT ON devices
BEGIN
    INSERT INTO dashboard_fleet_cells (cell, product_name, os_version, state, devices)
    SELECT quote(new.product_name) || ',' || quote(new.os_version) || ',' || quote(c.state),
           new.product_name, new.os_version, c.state, 1
    FROM (SELECT (SELECT state FROM device_compliance WHERE udid = new.udid) AS state) c
    WHERE true
    ON CONFLICT (cell) DO UPDATE SET devices = devices + 1;
    INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
    SELECT m.group_id, quote(c.state), c.state, 1
    FROM group_members_resolved m LEFT JOIN device_compliance c ON c.udid = m.udid
    WHERE m.udid = new.udid
    ON CONFLICT (group_id, state_key) DO UPDATE SET devices = devices + 1;
    INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
    SELECT r.ring_id, quote(c.state), c.state, 1
    FROM device_rings r LEFT JOIN device_compliance c ON c.udid = r.udid
    WHERE r.udid = new.udid
    ON CONFLICT (ring_id, state_key) DO UPDATE SET devices = devices + 1;
END;

-- A device's model or OS version changed: it moves from one fleet cell to another.
CREATE TRIGGER dashboard_device_moved AFTER UPDATE OF product_name, os_version ON devices
WHEN old.product_name IS NOT new.product_name OR old.os_version IS NOT new.os_version
BEGIN
    UPDATE dashboard_fleet_cells SET devices = devices - 1
    WHERE cell = quote(old.product_name) || ',' || quote(old.os_version) || ','
                 || quote((SELECT state FROM device_compliance WHERE udid = old.udid));
    INSERT INTO dashboard_fleet_cells (cell, product_name, os_version, state, devices)
    SELECT quote(new.product_name) || ',' || quote(new.os_version) || ',' || quote(c.state),
           new.product_name, new.os_version, c.state, 1
    FROM (SELECT (SELECT state FROM device_compliance WHERE udid = new.udid) AS state) c
    WHERE true
    ON CONFLICT (cell) DO UPDATE SET devices = devices + 1;
END;

-- A device removed (BEFORE: its compliance row, removed with it by the foreign key, is still
-- there to say which cells it counted in).
CREATE TRIGGER dashboard_device_removed BEFORE DELETE ON devices
BEGIN
    UPDATE dashboard_fleet_cells SET devices = devices - 1
    WHERE cell = quote(old.product_name) || ',' || quote(old.os_version) || ','
                 || quote((SELECT state FROM device_compliance WHERE udid = old.udid));
    UPDATE dashboard_group_cells SET devices = devices - 1
    WHERE state_key = quote((SELECT state FROM device_compliance WHERE udid = old.udid))
      AND group_id IN (SELECT group_id FROM group_members_resolved WHERE udid = old.udid);
    UPDATE dashboard_ring_cells SET devices = devices - 1
    WHERE state_key = quote((SELECT state FROM device_compliance WHERE udid = old.udid))
      AND ring_id IN (SELECT ring_id FROM device_rings WHERE udid = old.udid);
END;

-- A device's compliance state: from not assessed (insert), from one state to another (update),
-- back to not assessed (delete). Only devices that exist count (the joins on `devices`).
CREATE TRIGGER dashboard_compliance_added AFTER INSERT ON device_compliance
BEGIN
    UPDATE dashboard_fleet_cells SET devices = devices - 1
    WHERE cell = (SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(NULL)
                  FROM devices d WHERE d.udid = new.udid);
    INSERT INTO dashboard_fleet_cells (cell, product_name, os_version, state, devices)
    SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(new.state),
           d.product_name, d.os_version, new.state, 1
    FROM devices d WHERE d.udid = new.udid
    ON CONFLICT (cell) DO UPDATE SET devices = devices + 1;
    UPDATE dashboard_group_cells SET devices = devices - 1
    WHERE state_key = quote(NULL)
      AND group_id IN (SELECT m.group_id FROM group_members_resolved m JOIN devices d ON d.udid = m.udid
                       WHERE m.udid = new.udid);
    INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
    SELECT m.group_id, quote(new.state), new.state, 1
    FROM group_members_resolved m JOIN devices d ON d.udid = m.udid WHERE m.udid = new.udid
    ON CONFLICT (group_id, state_key) DO UPDATE SET devices = devices + 1;
    UPDATE dashboard_ring_cells SET devices = devices - 1
    WHERE state_key = quote(NULL)
      AND ring_id IN (SELECT r.ring_id FROM device_rings r JOIN devices d ON d.udid = r.udid
                      WHERE r.udid = new.udid);
    INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
    SELECT r.ring_id, quote(new.state), new.state, 1
    FROM device_rings r JOIN devices d ON d.udid = r.udid WHERE r.udid = new.udid
    ON CONFLICT (ring_id, state_key) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER dashboard_compliance_changed AFTER UPDATE OF state ON device_compliance
WHEN old.state IS NOT new.state
BEGIN
    UPDATE dashboard_fleet_cells SET devices = devices - 1
    WHERE cell = (SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(old.state)
                  FROM devices d WHERE d.udid = new.udid);
    INSERT INTO dashboard_fleet_cells (cell, product_name, os_version, state, devices)
    SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(new.state),
           d.product_name, d.os_version, new.state, 1
    FROM devices d WHERE d.udid = new.udid
    ON CONFLICT (cell) DO UPDATE SET devices = devices + 1;
    UPDATE dashboard_group_cells SET devices = devices - 1
    WHERE state_key = quote(old.state)
      AND group_id IN (SELECT m.group_id FROM group_members_resolved m JOIN devices d ON d.udid = m.udid
                       WHERE m.udid = new.udid);
    INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
    SELECT m.group_id, quote(new.state), new.state, 1
    FROM group_members_resolved m JOIN devices d ON d.udid = m.udid WHERE m.udid = new.udid
    ON CONFLICT (group_id, state_key) DO UPDATE SET devices = devices + 1;
    UPDATE dashboard_ring_cells SET devices = devices - 1
    WHERE state_key = quote(old.state)
      AND ring_id IN (SELECT r.ring_id FROM device_rings r JOIN devices d ON d.udid = r.udid
                      WHERE r.udid = new.udid);
    INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
    SELECT r.ring_id, quote(new.state), new.state, 1
    FROM device_rings r JOIN devices d ON d.udid = r.udid WHERE r.udid = new.udid
    ON CONFLICT (ring_id, state_key) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER dashboard_compliance_removed AFTER DELETE ON device_compliance
BEGIN
    UPDATE dashboard_fleet_cells SET devices = devices - 1
    WHERE cell = (SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(old.state)
                  FROM devices d WHERE d.udid = old.udid);
    INSERT INTO dashboard_fleet_cells (cell, product_name, os_version, state, devices)
    SELECT quote(d.product_name) || ',' || quote(d.os_version) || ',' || quote(NULL),
           d.product_name, d.os_version, NULL, 1
    FROM devices d WHERE d.udid = old.udid
    ON CONFLICT (cell) DO UPDATE SET devices = devices + 1;
    UPDATE dashboard_group_cells SET devices = devices - 1
    WHERE state_key = quote(old.state)
      AND group_id IN (SELECT m.group_id FROM group_members_resolved m JOIN devices d ON d.udid = m.udid
                       WHERE m.udid = old.udid);
    INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
    SELECT m.group_id, quote(NULL), NULL, 1
    FROM group_members_resolved m JOIN devices d ON d.udid = m.udid WHERE m.udid = old.udid
    ON CONFLICT (group_id, state_key) DO UPDATE SET devices = devices + 1;
    UPDATE dashboard_ring_cells SET devices = devices - 1
    WHERE state_key = quote(old.state)
      AND ring_id IN (SELECT r.ring_id FROM device_rings r JOIN devices d ON d.udid = r.udid
                      WHERE r.udid = old.udid);
    INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
    SELECT r.ring_id, quote(NULL), NULL, 1
    FROM device_rings r JOIN devices d ON d.udid = r.udid WHERE r.udid = old.udid
    ON CONFLICT (ring_id, state_key) DO UPDATE SET devices = devices + 1;
END;

-- Membership rows (written by the policy service and engine): a member that is a known device
-- counts in its group (or ring) under its state.
CREATE TRIGGER dashboard_member_added AFTER INSERT ON group_members_resolved
BEGIN
    INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
    SELECT new.group_id, quote(c.state), c.state, 1
    FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid WHERE d.udid = new.udid
    ON CONFLICT (group_id, state_key) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER dashboard_member_removed AFTER DELETE ON group_members_resolved
BEGIN
    UPDATE dashboard_group_cells SET devices = devices - 1
    WHERE group_id = old.group_id
      AND state_key = (SELECT quote(c.state) FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
                       WHERE d.udid = old.udid);
END;

CREATE TRIGGER dashboard_member_changed AFTER UPDATE ON group_members_resolved
WHEN old.group_id IS NOT new.group_id OR old.udid IS NOT new.udid
BEGIN
    UPDATE dashboard_group_cells SET devices = devices - 1
    WHERE group_id = old.group_id
      AND state_key = (SELECT quote(c.state) FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
                       WHERE d.udid = old.udid);
    INSERT INTO dashboard_group_cells (group_id, state_key, state, devices)
    SELECT new.group_id, quote(c.state), c.state, 1
    FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid WHERE d.udid = new.udid
    ON CONFLICT (group_id, state_key) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER dashboard_ring_added AFTER INSERT ON device_rings
BEGIN
    INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
    SELECT new.ring_id, quote(c.state), c.state, 1
    FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid WHERE d.udid = new.udid
    ON CONFLICT (ring_id, state_key) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER dashboard_ring_removed AFTER DELETE ON device_rings
BEGIN
    UPDATE dashboard_ring_cells SET devices = devices - 1
    WHERE ring_id = old.ring_id
      AND state_key = (SELECT quote(c.state) FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
                       WHERE d.udid = old.udid);
END;

CREATE TRIGGER dashboard_ring_changed AFTER UPDATE OF udid, ring_id ON device_rings
WHEN old.ring_id IS NOT new.ring_id OR old.udid IS NOT new.udid
BEGIN
    UPDATE dashboard_ring_cells SET devices = devices - 1
    WHERE ring_id = old.ring_id
      AND state_key = (SELECT quote(c.state) FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid
                       WHERE d.udid = old.udid);
    INSERT INTO dashboard_ring_cells (ring_id, state_key, state, devices)
    SELECT new.ring_id, quote(c.state), c.state, 1
    FROM devices d LEFT JOIN device_compliance c ON c.udid = d.udid WHERE d.udid = new.udid
    ON CONFLICT (ring_id, state_key) DO UPDATE SET devices = devices + 1;
END;

-- The deadline strip counts devices due per day over the next 14 days.
CREATE INDEX device_compliance_deadline ON device_compliance (deadline) WHERE deadline IS NOT NULL;
