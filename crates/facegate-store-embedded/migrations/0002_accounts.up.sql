-- Accounts and access: users, their verified faces and refresh tokens, API keys,
-- verification jobs, transactions and the audit log. Times are milliseconds since the
-- Unix epoch. Child tables cascade from `users`, so deleting a user removes what is theirs.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    -- `admin`, `operator` or `client`.
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- Set when the user's face was verified and stored in `user_faces`.
    verified_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

-- The face a user verified with.
CREATE TABLE user_faces (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The detected face (box, score, landmarks) as JSON.
    face TEXT NOT NULL,
    quality REAL NOT NULL,
    model TEXT NOT NULL,
    -- Little-endian f32, sealed with key `key_id` when that is set.
    embedding BLOB NOT NULL,
    key_id TEXT,
    created_at INTEGER NOT NULL
) STRICT;

-- Refresh tokens by the digest of their secret; a family is one login's rotations.
CREATE TABLE refresh_tokens (
    digest TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
-- Lets deleting a user find their rows without a scan (likewise for jobs below).
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);

-- API keys by the digest of their secret.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- A JSON array of scope names.
    scopes TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- The queue of asynchronous jobs.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The job request as JSON (it names the upload the job consumes).
    request TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    attempts INTEGER NOT NULL,
    -- The verification result as JSON, once done.
    result TEXT,
    last_error TEXT,
    -- A queued job is due from this time on.
    run_after INTEGER NOT NULL,
    -- A running job may be claimed again from this time on.
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX jobs_by_state ON jobs (state, run_after);
CREATE INDEX jobs_by_user ON jobs (user_id);

-- Users' face-verified transactions.
CREATE TABLE transactions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount_cents INTEGER NOT NULL,
    -- ISO 4217, upper case.
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    step_up INTEGER NOT NULL CHECK (step_up IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX transactions_by_user ON transactions (user_id, created_at);

-- Who did what; ids count up in the order entries were recorded.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    -- The HTTP status of the outcome.
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_by_time ON audit_log (at);

-- The key an embedding was sealed with; NULL for plain embeddings (encryption off, or
-- stored before it was switched on).
ALTER TABLE face_references ADD COLUMN key_id TEXT;
ALTER TABLE faces ADD COLUMN key_id TEXT;
