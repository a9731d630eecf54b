-- name: insert_webhook^
-- A new webhook; its answer is the only one that carries the secret.
INSERT INTO personas.webhooks (id, url, events, format, description, secret)
VALUES ('wh_' || replace(gen_random_uuid()::text, '-', ''), :url, :events, :format, :description, :secret)
RETURNING id, url, events, format, description, secret, created_at AS "createdAt";

-- name: list_webhooks
-- Every webhook, newest first, without its secret.
SELECT id, url, events, format, description, created_at AS "createdAt", disabled_at AS "disabledAt"
  FROM personas.webhooks
 ORDER BY created_at DESC, id;

-- name: webhook_state^
-- Whether a webhook exists, and whether a 410 disabled it.
SELECT id, disabled_at IS NOT NULL AS disabled
  FROM personas.webhooks
 WHERE id = :webhook_id;

-- name: delete_webhook!
-- Its deliveries go with it (ON DELETE CASCADE); the messages stay for other webhooks.
DELETE FROM personas.webhooks WHERE id = :webhook_id;

-- name: webhook_deliveries
-- A webhook's deliveries, newest first, named as the JSON answer names them.
SELECT d.id, d.webhook_id AS "webhookId", d.message_id AS "messageId", m.event, d.status,
       d.attempts, d.last_status_code AS "lastStatusCode", d.last_error AS "lastError",
       d.next_attempt_at AS "nextAttemptAt", d.created_at AS "createdAt"
  FROM personas.alert_deliveries d
  JOIN personas.alert_messages m ON m.id = d.message_id
 WHERE d.webhook_id = :webhook_id
 ORDER BY d.created_at DESC, d.id DESC
 LIMIT :limit;

-- name: delivery^
-- One delivery, as the deliveries list shows it.
SELECT d.id, d.webhook_id AS "webhookId", d.message_id AS "messageId", m.event, d.status,
       d.attempts, d.last_status_code AS "lastStatusCode", d.last_error AS "lastError",
       d.next_attempt_at AS "nextAttemptAt", d.created_at AS "createdAt"
  FROM personas.alert_deliveries d
  JOIN personas.alert_messages m ON m.id = d.message_id
 WHERE d.id = :delivery_id;

-- name: replay_delivery^
-- The delivery's message queued again for its webhook, as a new delivery (the old one
-- keeps its history); none when there is no such delivery, or when that message is still
-- pending for that webhook (alert_deliveries_one_pending).
INSERT INTO personas.alert_deliveries (id, webhook_id, message_id)
SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), d.webhook_id, d.message_id
  FROM personas.alert_deliveries d
 WHERE d.id = :delivery_id
ON CONFLICT (webhook_id, message_id) WHERE status = 'pending' DO NOTHING
RETURNING id, webhook_id;
