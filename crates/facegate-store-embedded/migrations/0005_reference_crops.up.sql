-- The aligned 112x112 face of each reference (PNG, sealed like the embedding when
-- encryption is on), so that `facegate admin reembed` can embed it with a new model.
-- NULL for references enrolled before this migration.
ALTER TABLE face_references ADD COLUMN face_crop BLOB;
