DROP TABLE audit_log;
DROP TABLE transactions;
DROP TABLE jobs;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE user_faces;
DROP TABLE users;
