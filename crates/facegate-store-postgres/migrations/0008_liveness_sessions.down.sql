DROP TABLE liveness_sessions;
