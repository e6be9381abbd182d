-- One row per UTC day and compliance state: how many devices were in that state that day
-- (`not_assessed` for devices never assessed). Written once per day (the first snapshot of a
-- day wins), for the dashboard's compliance-over-time chart.
CREATE TABLE compliance_snapshots (
    day      TEXT NOT NULL,
    state    TEXT NOT NULL,
    devices  INTEGER NOT NULL CHECK (devices >= 0),
    taken_at TEXT NOT NULL,
    PRIMARY KEY (day, state)
) STRICT, WITHOUT ROWID;
