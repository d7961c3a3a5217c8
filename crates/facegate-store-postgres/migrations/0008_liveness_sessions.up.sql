-- Liveness sessions: a drawn challenge answered once (used_at), judged (result), and, when
-- live, standing in once for a selfie (spent_at). The best frontal frame stays in object
-- storage under audit_key.
CREATE TABLE liveness_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nonce_digest TEXT NOT NULL,
    challenge JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    result JSONB,
    audit_key TEXT,
    spent_at BIGINT
);

CREATE INDEX liveness_sessions_by_user ON liveness_sessions (user_id);
