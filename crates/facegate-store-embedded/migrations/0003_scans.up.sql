-- Facial scans: the photo stays in object storage under photo_key; score is the symmetry
-- score once the scan is done (NULL while queued or when no face was scored).
CREATE TABLE scans (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    photo_key TEXT NOT NULL,
    state TEXT NOT NULL,
    score REAL,
    -- The ScanResult as JSON.
    result TEXT,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
) STRICT;

CREATE INDEX scans_by_user_score ON scans (user_id, score);
