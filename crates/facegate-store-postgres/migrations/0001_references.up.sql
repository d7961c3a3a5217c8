-- pgvector. Left in place by the down migration: other schemas of the database may use it.
CREATE EXTENSION IF NOT EXISTS vector;

-- Enrolled references: one row per reference image of a subject.
CREATE TABLE face_references (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    -- The detected face (box, score, landmarks).
    face JSONB NOT NULL,
    quality REAL NOT NULL,
    -- The embedding model id; embeddings of different models are never compared.
    model TEXT NOT NULL,
    -- Unit length, plain: pgvector cannot index ciphertext, so the store refuses to open
    -- with encryption at rest on (see the crate documentation).
    embedding vector NOT NULL,
    -- The embedding's dimension: searches filter on it, and the HNSW index holds the
    -- 512-d rows only (an index needs one dimension; other sizes are scanned exactly).
    dim INTEGER NOT NULL CHECK (dim = vector_dims(embedding)),
    -- Milliseconds since the Unix epoch, as the domain counts time.
    created_at BIGINT NOT NULL
);

CREATE INDEX face_references_by_subject ON face_references (subject, created_at);

CREATE INDEX face_references_embedding_512 ON face_references
    USING hnsw ((embedding::vector(512)) vector_cosine_ops)
    WHERE dim = 512;
