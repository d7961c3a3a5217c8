-- Enrolled references: one row per reference image of a subject.
CREATE TABLE face_references (
    id TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    -- The detected face (box, score, landmarks) as JSON.
    face TEXT NOT NULL,
    quality REAL NOT NULL,
    -- The embedding model id; embeddings of different models are never compared.
    model TEXT NOT NULL,
    -- Little-endian f32, unit length.
    embedding BLOB NOT NULL,
    -- Milliseconds since the Unix epoch.
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX face_references_by_subject ON face_references (subject, created_at);

-- Photos indexed into a session ("collection").
CREATE TABLE photos (
    session_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    indexed_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, photo_id)
) STRICT, WITHOUT ROWID;

-- Every face of an indexed photo.
CREATE TABLE faces (
    session_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    face_index INTEGER NOT NULL,
    x1 REAL NOT NULL,
    y1 REAL NOT NULL,
    x2 REAL NOT NULL,
    y2 REAL NOT NULL,
    detection_score REAL NOT NULL,
    model TEXT NOT NULL,
    embedding BLOB NOT NULL,
    PRIMARY KEY (session_id, photo_id, face_index),
    FOREIGN KEY (session_id, photo_id) REFERENCES photos (session_id, photo_id) ON DELETE CASCADE
) STRICT;
