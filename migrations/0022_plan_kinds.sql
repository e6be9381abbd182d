-- Devices alike in everything an evaluation reads of them (groups, the policies reaching them,
-- model, OS, build, supervision, declarative enrollment) share a kind, and with it their
-- decision. Each plan row keeps the kind it was decided as, so that a change that reaches every
-- device alike (a new catalog, the ring calendar) is decided once per kind, a few hundred
-- decisions, and written with one statement per kind instead of one evaluation per device.
--
-- The rows are stored in kind order (primary key kind, udid): a kind's devices sit on
-- neighbouring pages, so writing one decision to 25,000 devices rewrites a few thousand pages
-- instead of every page of the table (a kind's devices are spread over the whole UDID order).
-- `kind` is '' until the device is evaluated again.
CREATE TABLE device_plans_by_kind (
    kind                  TEXT NOT NULL DEFAULT '',
    udid                  TEXT NOT NULL,
    summary_digest        TEXT NOT NULL DEFAULT '',
    fingerprint           TEXT NOT NULL,
    path                  TEXT NOT NULL,
    target_version        TEXT,
    deadline_utc          TEXT,
    next_change_at        TEXT,
    evaluated_at          TEXT NOT NULL,
    delivered_fingerprint TEXT,
    delivered_path        TEXT,
    delivered_at          TEXT,
    PRIMARY KEY (kind, udid)
) STRICT, WITHOUT ROWID;
INSERT INTO device_plans_by_kind (udid, summary_digest, fingerprint, path, target_version,
                                  deadline_utc, next_change_at, evaluated_at,
                                  delivered_fingerprint, delivered_path, delivered_at)
SELECT udid, summary_digest, fingerprint, path, target_version, deadline_utc, next_change_at,
       evaluated_at, delivered_fingerprint, delivered_path, delivered_at
FROM device_plans;
-- Migration 0021's enrollment triggers write device_plans: dropped with the old table and made
-- again, unchanged, once the new one has its name.
DROP TRIGGER policy_device_enrolled;
DROP TRIGGER policy_device_enrolled_declaratively;
DROP TABLE device_plans;
ALTER TABLE device_plans_by_kind RENAME TO device_plans;
CREATE TRIGGER policy_device_enrolled AFTER UPDATE OF enrolled_at ON devices
WHEN NEW.enrolled_at IS NOT NULL AND NEW.enrolled_at IS NOT OLD.enrolled_at
BEGIN
    UPDATE device_plans SET delivered_fingerprint = NULL WHERE udid = NEW.udid;
    DELETE FROM legacy_update_profiles WHERE udid = NEW.udid;
    INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at)
    VALUES (NEW.udid, 'device enrolled', NEW.enrolled_at || '#' || lower(hex(randomblob(8))))
    ON CONFLICT (udid) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;
CREATE TRIGGER policy_device_enrolled_declaratively AFTER UPDATE OF enrolled_at ON ddm_devices
WHEN NEW.enrolled_at IS NOT NULL AND NEW.enrolled_at IS NOT OLD.enrolled_at
BEGIN
    UPDATE device_plans SET delivered_fingerprint = NULL WHERE udid = NEW.udid;
    INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at)
    VALUES (NEW.udid, 'device enrolled in declarative management',
            NEW.enrolled_at || '#' || lower(hex(randomblob(8))))
    ON CONFLICT (udid) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;
CREATE UNIQUE INDEX device_plans_udid ON device_plans (udid);
CREATE INDEX device_plans_next_change ON device_plans (next_change_at)
    WHERE next_change_at IS NOT NULL;
-- No index by summary any more: maintaining it cost more on every decision written than the
-- hourly scan that deletes unused summaries (`plans::prune_summaries`) costs.

-- A device leaving enrollment (unenrolled, or authenticating again) has no kind until it is
-- evaluated again (its enrollment queues it, migration 0021), so a decision by kind skips it.
CREATE TRIGGER policy_plan_kind_unenrolled AFTER UPDATE OF enrollment_state ON devices
WHEN NEW.enrollment_state IS NOT 'enrolled'
BEGIN
    UPDATE device_plans SET kind = '' WHERE udid = NEW.udid AND kind <> '';
END;

CREATE TRIGGER policy_plan_kind_removed BEFORE DELETE ON devices
BEGIN
    UPDATE device_plans SET kind = '' WHERE udid = OLD.udid AND kind <> '';
END;

-- Existing plans have no kind yet: the first run evaluates every device one by one, which
-- stores each one's kind.
INSERT INTO settings (key, value, updated_at)
VALUES ('policy.fleet_due', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') || '#migration-0022',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;
