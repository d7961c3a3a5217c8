ALTER TABLE face_references DROP COLUMN face_crop;
