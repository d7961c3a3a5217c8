-- The aligned 112x112 face of each reference (PNG), so that `facegate admin reembed` can
-- embed it with a new model. NULL for references enrolled before this migration.
ALTER TABLE face_references ADD COLUMN face_crop BYTEA;

-- The open pack's fused embedding (fr_feature + MobileFaceNet) has 704 dimensions; like
-- the 512-d rows, they get their own partial HNSW index.
CREATE INDEX face_references_embedding_704 ON face_references
    USING hnsw ((embedding::vector(704)) vector_cosine_ops)
    WHERE dim = 704;

CREATE INDEX faces_embedding_704 ON faces
    USING hnsw ((embedding::vector(704)) vector_cosine_ops)
    WHERE dim = 704;
