-- Alerts: the webhooks operators register, the conditions open now (so each is sent once
-- while it lasts), the messages and their delivery to each webhook.
-- depends: 0017_tick_transcripts

-- The secret is kept as given out (`whsec_<base64>`): the signer needs it in the clear.
CREATE TABLE personas.webhooks (
    id           text PRIMARY KEY,
    url          text NOT NULL,
    events       text[] NOT NULL,
    format       text NOT NULL CHECK (format IN ('standard', 'slack')),
    description  text NULL,
    secret       text NOT NULL,
    -- Set when a receiver answered 410 Gone: nothing is sent to it again.
    disabled_at  timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per condition open now, (event, key) e.g. ('persona.failing', <user id>). A
-- condition found again while its row exists is not sent again, until `sent_at` is older
-- than the repeat interval; a condition no longer found loses its row (it cleared).
CREATE TABLE personas.alert_conditions (
    event       text NOT NULL,
    key         text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event, key)
);

-- One message per event sent; `id` is its webhook-id, the same on every retry and replay.
-- `body` is the exact JSON text signed and sent to standard receivers.
CREATE TABLE personas.alert_messages (
    id          text PRIMARY KEY,
    event       text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A message on its way to one webhook. `pending` rows are due at `next_attempt_at`; an
-- `alerts` process sends one while holding its row lock (FOR UPDATE SKIP LOCKED), so no
-- two send it at once, and a process killed mid-send leaves it pending for the next.
CREATE TABLE personas.alert_deliveries (
    id                text PRIMARY KEY,
    webhook_id        text NOT NULL REFERENCES personas.webhooks (id) ON DELETE CASCADE,
    message_id        text NOT NULL REFERENCES personas.alert_messages (id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    last_status_code  integer NULL,
    last_error        text NULL,
    next_attempt_at   timestamptz NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_deliveries_due_idx ON personas.alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_webhook_idx ON personas.alert_deliveries (webhook_id, created_at DESC);
CREATE INDEX alert_deliveries_message_idx ON personas.alert_deliveries (message_id);
-- At most one pending delivery of a message to a webhook, so a replay can never have one
-- message sent to one receiver twice at once.
CREATE UNIQUE INDEX alert_deliveries_one_pending ON personas.alert_deliveries (webhook_id, message_id)
    WHERE status = 'pending';
