-- Administrators of the appliance, their browser sessions, login attempts (for rate limiting)
-- and the audit log of every admin change.

CREATE TABLE admins (
    id                  INTEGER PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT NOT NULL,          -- PHC string, argon2id
    role                TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'viewer')),
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    last_login_at       TEXT
) STRICT;

-- Only a hash of the session id is kept: a copy of the database does not let anyone in.
CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    remote_addr  TEXT NOT NULL,
    user_agent   TEXT NOT NULL
) STRICT;
CREATE INDEX admin_sessions_by_admin ON admin_sessions (admin_id);

-- Failed logins, by the username as typed (lower-cased) and by remote address; pruned as they age.
CREATE TABLE login_failures (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    at          TEXT NOT NULL
) STRICT;
CREATE INDEX login_failures_by_username ON login_failures (username, at);
CREATE INDEX login_failures_by_addr ON login_failures (remote_addr, at);
CREATE INDEX login_failures_by_time ON login_failures (at);

-- Every admin change: who, what, when, and a short before/after. Written in the same
-- transaction as the change itself.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    remote_addr TEXT
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at);
