DROP INDEX webhook_deliveries_by_user;
DROP INDEX webhook_deliveries_by_webhook;
DROP INDEX webhook_deliveries_due;
DROP TABLE webhook_deliveries;
DROP INDEX webhooks_by_owner;
DROP TABLE webhooks;
