-- Photos indexed into a session ("collection").
CREATE TABLE photos (
    session_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    -- Milliseconds since the Unix epoch.
    indexed_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, photo_id)
);

-- Every face of an indexed photo.
CREATE TABLE faces (
    session_id TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    face_index INTEGER NOT NULL CHECK (face_index >= 0),
    -- The face's box in image pixels.
    x1 REAL NOT NULL,
    y1 REAL NOT NULL,
    x2 REAL NOT NULL,
    y2 REAL NOT NULL,
    detection_score REAL NOT NULL,
    model TEXT NOT NULL,
    embedding vector NOT NULL,
    dim INTEGER NOT NULL CHECK (dim = vector_dims(embedding)),
    PRIMARY KEY (session_id, photo_id, face_index),
    FOREIGN KEY (session_id, photo_id) REFERENCES photos (session_id, photo_id) ON DELETE CASCADE
);

-- One index over every session: a search filters on the session while it walks the graph
-- (iterative scans); small sessions are served by the primary key and an exact sort.
CREATE INDEX faces_embedding_512 ON faces
    USING hnsw ((embedding::vector(512)) vector_cosine_ops)
    WHERE dim = 512;
