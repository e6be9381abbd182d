-- A plan summary (the "why" JSON) is the same for every device with the same decision, and a
-- fleet has a few hundred kinds of device: each summary is stored once, and device_plans refers to
-- it by digest. The plan rows stay narrow, so a run over the whole fleet reads and stamps a
-- fraction of the bytes it did.
CREATE TABLE plan_summaries (
    -- SHA-256 (hex) of the summary; rows from before this migration: 'udid:' || udid.
    digest  TEXT PRIMARY KEY,
    summary TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Existing summaries move over one per device; the next evaluation of each device replaces its
-- row's reference with a shared one (delivery is unaffected: it follows the fingerprint), and the
-- minute job then deletes summaries no plan refers to.
INSERT INTO plan_summaries (digest, summary) SELECT 'udid:' || udid, summary FROM device_plans;
ALTER TABLE device_plans ADD COLUMN summary_digest TEXT NOT NULL DEFAULT '';
UPDATE device_plans SET summary_digest = 'udid:' || udid;
ALTER TABLE device_plans DROP COLUMN summary;
CREATE INDEX device_plans_summary ON device_plans (summary_digest);
