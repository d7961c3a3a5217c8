-- Webhooks and their delivery queue. Times are milliseconds since the Unix epoch.

-- A registered webhook. `owner` is `user:<id>` or `key:<id>`; a user's hooks are deleted
-- with the user (not a foreign key: keys own hooks too).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    url TEXT NOT NULL,
    -- An array of event names.
    events JSONB NOT NULL,
    -- The signing secret, plain: this store does not encrypt at rest (see the crate
    -- documentation); encrypt the PostgreSQL volume instead.
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX webhooks_by_owner ON webhooks (owner, created_at);

-- One event for one hook, and its attempts. The id is `<job id>:<webhook id>`, so a job
-- told again (after a crash) queues nothing twice.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The user the event is about: forgetting them forgets the delivery.
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    -- The JSON body exactly as sent (TEXT, not JSONB, which would reformat it).
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    last_status INTEGER,
    last_error TEXT,
    -- A pending delivery is due from this time on ...
    next_attempt_at BIGINT NOT NULL,
    -- ... unless a worker holds it until this time.
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);

-- Claiming looks at pending deliveries only, soonest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);
CREATE INDEX webhook_deliveries_by_user ON webhook_deliveries (user_id);
