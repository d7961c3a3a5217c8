-- Facial scans: the photo stays in object storage under photo_key; score is the symmetry
-- score once the scan is done (NULL while queued or when no face was scored).
CREATE TABLE scans (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    photo_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    score REAL,
    -- The scan's result, once done.
    result JSONB,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
);

CREATE INDEX scans_by_user_score ON scans (user_id, score);
