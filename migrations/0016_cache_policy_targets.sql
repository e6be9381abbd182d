-- The OS releases that active policies move Macs to, as the cache's prefetch job last found
-- them. Their payloads are not evicted while they are listed; an administrator's own pins stay
-- in cache_payloads.pinned, apart from these. Replaced whole by each run of the job.
CREATE TABLE cache_policy_targets (
    platform          TEXT NOT NULL,
    version           TEXT NOT NULL,
    build             TEXT NOT NULL,
    devices           INTEGER NOT NULL CHECK (devices > 0),
    earliest_deadline TEXT,                 -- UTC: the soonest deadline among those devices
    PRIMARY KEY (platform, version, build)
) STRICT;
