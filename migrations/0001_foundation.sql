-- Appliance-wide settings as key/value pairs (CA fingerprint, setup token hash, ...).
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
