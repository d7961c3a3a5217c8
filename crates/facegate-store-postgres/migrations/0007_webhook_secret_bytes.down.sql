ALTER TABLE webhooks DROP COLUMN key_id;
ALTER TABLE webhooks ALTER COLUMN secret TYPE TEXT USING convert_from(secret, 'UTF8');
