-- Devices alike in everything an evaluation reads of them (groups, the policies reaching them,
-- model, OS, build, supervision, declarative enrollment) share a kind, and with it their
-- decision. Each plan row keeps the kind it was decided as, so that a change that reaches every
-- device alike (a new catalog, the ring calendar) is decided once per kind, a few hundred
-- decisions, and written with one statement per kind instead of one evaluation per device.
ALTER TABLE device_plans ADD COLUMN kind TEXT;
CREATE INDEX device_plans_kind ON device_plans (kind) WHERE kind IS NOT NULL;

-- A device leaving enrollment (unenrolled, or authenticating again) has no kind until it is
-- evaluated again (its enrollment queues it, migration 0021), so a decision by kind skips it.
CREATE TRIGGER policy_plan_kind_unenrolled AFTER UPDATE OF enrollment_state ON devices
WHEN NEW.enrollment_state IS NOT 'enrolled'
BEGIN
    UPDATE device_plans SET kind = NULL WHERE udid = NEW.udid AND kind IS NOT NULL;
END;

CREATE TRIGGER policy_plan_kind_removed BEFORE DELETE ON devices
BEGIN
    UPDATE device_plans SET kind = NULL WHERE udid = OLD.udid AND kind IS NOT NULL;
END;

-- Existing plans have no kind yet: the first run evaluates every device one by one, which
-- stores each one's kind.
INSERT INTO settings (key, value, updated_at)
VALUES ('policy.fleet_due', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') || '#migration-0022',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;
