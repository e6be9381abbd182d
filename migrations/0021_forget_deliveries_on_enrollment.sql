-- A device that enrolls again has lost what the policy engine gave it: unenrolling removes the
-- profiles MDM installed, and a new declarative enrollment starts from no declarations. These
-- triggers forget the engine's delivery records at the moment of the new enrollment (the device
-- is queued for evaluation by its new enrollment time, and delivered again). They replace a
-- comparison of every plan with its device's enrollment times that the minute job ran over the
-- whole fleet.

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

-- An MDM enrollment (its first TokenUpdate sets enrolled_at, which Authenticate cleared): the
-- delivery and the legacy restrictions profile record go. ScheduleOSUpdate records stay: those
-- are never sent twice.
CREATE TRIGGER policy_delivery_forgotten_on_enrollment AFTER UPDATE OF enrolled_at ON devices
WHEN NEW.enrolled_at IS NOT NULL AND NEW.enrolled_at IS NOT OLD.enrolled_at
BEGIN
    UPDATE device_plans SET delivered_fingerprint = NULL WHERE udid = NEW.udid;
    DELETE FROM legacy_update_profiles WHERE udid = NEW.udid;
END;

-- A declarative enrollment.
CREATE TRIGGER policy_delivery_forgotten_on_ddm_enrollment AFTER UPDATE OF enrolled_at ON ddm_devices
WHEN NEW.enrolled_at IS NOT NULL AND NEW.enrolled_at IS NOT OLD.enrolled_at
BEGIN
    UPDATE device_plans SET delivered_fingerprint = NULL WHERE udid = NEW.udid;
END;
