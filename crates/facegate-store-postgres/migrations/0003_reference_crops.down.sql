DROP INDEX faces_embedding_704;
DROP INDEX face_references_embedding_704;
ALTER TABLE face_references DROP COLUMN face_crop;
