DROP TABLE faces;
DROP TABLE photos;
DROP INDEX face_references_by_subject;
DROP TABLE face_references;
