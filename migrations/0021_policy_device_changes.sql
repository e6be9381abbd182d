-- What a device's facts changing means for the policy engine, said where the change is written
-- instead of found by the minute job comparing every device with its plan (two scans of the
-- whole fleet each minute):
-- - a new inventory or a new (MDM or declarative) enrollment queues the device for evaluation;
-- - a device that enrolls again has lost what the engine gave it (unenrolling removes the
--   profiles MDM installed, a new declarative enrollment starts from no declarations): its
--   delivery records are forgotten, so it is delivered again.
-- A queue stamp is the change's own time and a random tag, so a device queued again while it is
-- evaluated keeps its entry (see `plans::dequeue`).

-- Once, what that comparison would still do for an existing database.
UPDATE device_plans SET delivered_fingerprint = NULL
WHERE delivered_at IS NOT NULL AND EXISTS (
    SELECT 1 FROM devices d LEFT JOIN ddm_devices dd ON dd.udid = d.udid
    WHERE d.udid = device_plans.udid
      AND (julianday(d.enrolled_at) > julianday(device_plans.delivered_at)
           OR julianday(dd.enrolled_at) > julianday(device_plans.delivered_at)));

DELETE FROM legacy_update_profiles WHERE EXISTS (
    SELECT 1 FROM devices d
    WHERE d.udid = legacy_update_profiles.udid
      AND julianday(d.enrolled_at) > julianday(legacy_update_profiles.installed_at));

-- Devices whose facts changed before this version and were not evaluated since: the first run
-- evaluates the whole fleet (the request `plans::request_fleet` writes).
INSERT INTO settings (key, value, updated_at)
VALUES ('policy.fleet_due', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') || '#migration-0021',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;

-- An MDM enrollment (its first TokenUpdate sets enrolled_at, which Authenticate cleared): the
-- delivery and the legacy restrictions profile record go, and the device is queued.
-- ScheduleOSUpdate records stay: those are never sent twice.
CREATE TRIGGER policy_device_enrolled AFTER UPDATE OF enrolled_at ON devices
WHEN NEW.enrolled_at IS NOT NULL AND NEW.enrolled_at IS NOT OLD.enrolled_at
BEGIN
    UPDATE device_plans SET delivered_fingerprint = NULL WHERE udid = NEW.udid;
    DELETE FROM legacy_update_profiles WHERE udid = NEW.udid;
    INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at)
    VALUES (NEW.udid, 'device enrolled', NEW.enrolled_at || '#' || lower(hex(randomblob(8))))
    ON CONFLICT (udid) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

-- A declarative enrollment.
CREATE TRIGGER policy_device_enrolled_declaratively AFTER UPDATE OF enrolled_at ON ddm_devices
WHEN NEW.enrolled_at IS NOT NULL AND NEW.enrolled_at IS NOT OLD.enrolled_at
BEGIN
    UPDATE device_plans SET delivered_fingerprint = NULL WHERE udid = NEW.udid;
    INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at)
    VALUES (NEW.udid, 'device enrolled in declarative management',
            NEW.enrolled_at || '#' || lower(hex(randomblob(8))))
    ON CONFLICT (udid) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

-- A new inventory (DeviceInformation, a DDM status report) of an enrolled device.
CREATE TRIGGER policy_device_inventory_changed AFTER UPDATE OF inventory_updated_at ON devices
WHEN NEW.enrollment_state = 'enrolled' AND NEW.inventory_updated_at IS NOT NULL
    AND NEW.inventory_updated_at IS NOT OLD.inventory_updated_at
BEGIN
    INSERT INTO policy_evaluation_queue (udid, reason, enqueued_at)
    VALUES (NEW.udid, 'device changed', NEW.inventory_updated_at || '#' || lower(hex(randomblob(8))))
    ON CONFLICT (udid) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;
