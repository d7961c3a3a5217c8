-- Webhook signing secrets as the embedded store keeps them: bytes, sealed with key
-- `key_id` when that is set. This store runs without encryption at rest, so `key_id`
-- stays NULL and the bytes are the secret's UTF-8.
ALTER TABLE webhooks ALTER COLUMN secret TYPE BYTEA USING convert_to(secret, 'UTF8');
ALTER TABLE webhooks ADD COLUMN key_id TEXT;
