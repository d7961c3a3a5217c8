DROP TABLE face_references;
