-- Without `key_id` a sealed embedding would be read as plain: refuse to go down while any
-- exists. A failed CHECK aborts the migration, which then changes nothing.
CREATE TEMP TABLE sealed_embeddings (
    count INTEGER NOT NULL,
    CONSTRAINT sealed_embeddings_must_be_stored_plain_before_undoing_0002 CHECK (count = 0)
) STRICT;
INSERT INTO temp.sealed_embeddings (count)
SELECT (SELECT COUNT(*) FROM face_references WHERE key_id IS NOT NULL)
     + (SELECT COUNT(*) FROM faces WHERE key_id IS NOT NULL);
DROP TABLE temp.sealed_embeddings;

ALTER TABLE faces DROP COLUMN key_id;
ALTER TABLE face_references DROP COLUMN key_id;

DROP INDEX audit_log_by_time;
-- This also forgets its AUTOINCREMENT counter; the (then empty) internal table
-- `sqlite_sequence` cannot be dropped and stays.
DROP TABLE audit_log;
DROP INDEX transactions_by_user;
DROP TABLE transactions;
DROP INDEX jobs_by_user;
DROP INDEX jobs_by_state;
DROP TABLE jobs;
DROP TABLE api_keys;
DROP INDEX refresh_tokens_by_user;
DROP INDEX refresh_tokens_by_family;
DROP TABLE refresh_tokens;
DROP TABLE user_faces;
DROP TABLE users;
