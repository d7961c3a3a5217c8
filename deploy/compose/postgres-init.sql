-- Runs once, when the PostgreSQL data directory is created. The migrations ask for the
-- extension too; creating it here as the superuser means they also work for an application
-- role that is not allowed to create extensions.
CREATE EXTENSION IF NOT EXISTS vector;
