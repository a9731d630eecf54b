-- name: insert_message!
-- A message; its id is the webhook-id of every delivery of it.
INSERT INTO personas.alert_messages (id, event, body) VALUES (:message_id, :event, :body);

-- name: queue_for_subscribers!
-- One pending delivery of the message to every live webhook subscribed to its event.
INSERT INTO personas.alert_deliveries (id, webhook_id, message_id)
SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), w.id, :message_id
  FROM personas.webhooks w
 WHERE w.disabled_at IS NULL AND :event = ANY (w.events);

-- name: queue_for_webhook$
-- One pending delivery of the message to one webhook (the test button); its id.
INSERT INTO personas.alert_deliveries (id, webhook_id, message_id)
VALUES ('dlv_' || replace(gen_random_uuid()::text, '-', ''), :webhook_id, :message_id)
RETURNING id;

-- name: lock_due_delivery^
-- The next delivery due (or the one named by :delivery_id), locked for this transaction:
-- the sender holds the lock while it sends, so another `alerts` process skips the row
-- (SKIP LOCKED) and a sender that dies releases it with its connection.
SELECT d.id, d.attempts, d.message_id, m.event, m.body, m.created_at AS message_at,
       w.id AS webhook_id, w.url, w.format, w.secret, w.disabled_at IS NOT NULL AS disabled
  FROM personas.alert_deliveries d
  JOIN personas.webhooks w ON w.id = d.webhook_id
  JOIN personas.alert_messages m ON m.id = d.message_id
 WHERE d.status = 'pending'
   AND (CASE WHEN :delivery_id::text IS NULL THEN d.next_attempt_at <= now()
             ELSE d.id = :delivery_id::text END)
 ORDER BY d.next_attempt_at
 LIMIT 1
   FOR UPDATE OF d SKIP LOCKED;

-- name: record_attempt!
-- The outcome of one attempt: :status `delivered`, `failed` or `pending` (then due again
-- after :retry_in seconds).
UPDATE personas.alert_deliveries
   SET status = :status::text,
       attempts = attempts + :attempted::int,
       last_status_code = :status_code,
       last_error = :error,
       next_attempt_at = CASE WHEN :status::text = 'pending'
                              THEN now() + make_interval(secs => :retry_in::float8) END
 WHERE id = :delivery_id;

-- name: disable_webhook!
-- A receiver answered 410 Gone: the webhook sends nothing more.
UPDATE personas.webhooks SET disabled_at = now() WHERE id = :webhook_id AND disabled_at IS NULL;
