-- Accounts and access: users, their verified faces and refresh tokens, API keys,
-- verification jobs, transactions and the audit log. Times are milliseconds since the
-- Unix epoch. Child tables cascade from `users`, so deleting a user removes what is theirs.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'client')),
    password_hash TEXT NOT NULL,
    -- Set when the user's face was verified and stored in `user_faces`.
    verified_at BIGINT,
    created_at BIGINT NOT NULL
);

-- The face a user verified with. The embedding is plain, like every embedding of this
-- store (see the crate documentation); it is compared one to one, so it has no index.
CREATE TABLE user_faces (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The detected face (box, score, landmarks).
    face JSONB NOT NULL,
    quality REAL NOT NULL,
    model TEXT NOT NULL,
    embedding vector NOT NULL,
    dim INTEGER NOT NULL CHECK (dim = vector_dims(embedding)),
    created_at BIGINT NOT NULL
);

-- Refresh tokens by the digest of their secret; a family is one login's rotations.
CREATE TABLE refresh_tokens (
    digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
-- Lets deleting a user find their rows without a scan (likewise for the tables below).
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);

-- API keys by the digest of their secret.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- An array of scope names.
    scopes JSONB NOT NULL,
    prefix TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- The queue of asynchronous jobs, shared by every replica.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The job request (it names the upload the job consumes).
    request JSONB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    -- The result, once done.
    result JSONB,
    last_error TEXT,
    -- A queued job is due from this time on.
    run_after BIGINT NOT NULL,
    -- A running job may be claimed again from this time on.
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Claiming walks the unfinished jobs oldest first (in byte order of ids, as the embedded
-- store sorts them); counting reads them by state.
CREATE INDEX jobs_unfinished ON jobs (created_at, id COLLATE "C") WHERE state <> 'done';
CREATE INDEX jobs_by_state ON jobs (state, run_after);
CREATE INDEX jobs_by_user ON jobs (user_id);

-- Users' face-verified transactions.
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount_cents BIGINT NOT NULL,
    -- ISO 4217, upper case.
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    step_up BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX transactions_by_user ON transactions (user_id, created_at);

-- Who did what; ids count up in the order entries were recorded.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    -- The HTTP status of the outcome.
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 65535),
    request_id TEXT NOT NULL
);

CREATE INDEX audit_log_by_time ON audit_log (at, id);
