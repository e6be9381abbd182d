-- Enrollment tokens: who may download a token-bound profile, how often and until when.
-- Only a SHA-256 of the token is kept; the token itself is shown once, when created.
CREATE TABLE enrollment_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,            -- NULL: never
    max_uses   INTEGER,         -- NULL: unlimited; a use is a device enrolled with the token
    uses       INTEGER NOT NULL DEFAULT 0,
    revoked_at TEXT
) STRICT;

-- One-time SCEP challenges handed out in token-bound profiles (SHA-256 kept, not the value).
CREATE TABLE scep_challenges (
    challenge_hash TEXT PRIMARY KEY,
    token_id       INTEGER NOT NULL REFERENCES enrollment_tokens (id),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT
) STRICT;
CREATE INDEX scep_challenges_expiry ON scep_challenges (expires_at);

-- Every certificate the SCEP server issued.
CREATE TABLE issued_certificates (
    serial       TEXT PRIMARY KEY,           -- lower-case hex
    fingerprint  TEXT NOT NULL UNIQUE,       -- SHA-256 of the DER, lower-case hex
    subject      TEXT NOT NULL,
    not_before   TEXT NOT NULL,
    not_after    TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    request_type TEXT NOT NULL CHECK (request_type IN ('PKCSReq', 'RenewalReq')),
    token_id     INTEGER REFERENCES enrollment_tokens (id),
    renewed_from TEXT                        -- fingerprint of the certificate a renewal replaced
) STRICT;
CREATE INDEX issued_certificates_renewed_from ON issued_certificates (renewed_from);
