-- Liveness sessions: a drawn challenge answered once (used_at), judged (verdict, result),
-- and, when live, standing in once for a selfie (spent_at). The best frontal frame stays
-- in object storage under audit_key.
CREATE TABLE liveness_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nonce_digest TEXT NOT NULL,
    -- The movements as a JSON array.
    challenge TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    -- The SessionResult as JSON, once judged.
    result TEXT,
    audit_key TEXT,
    spent_at INTEGER
) STRICT;

CREATE INDEX liveness_sessions_by_user ON liveness_sessions (user_id);
