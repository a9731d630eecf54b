-- The personas schema: descriptors, the append-only tool-call audit, the ratings.
-- Every key leads with the persona id, so idempotency keys are unique per persona
-- and the tables can later be distributed by persona id.

CREATE SCHEMA IF NOT EXISTS personas;

CREATE TABLE personas.personas (
    user_id        text PRIMARY KEY,
    email          text NOT NULL,
    archetype      text NOT NULL,
    system_prompt  text NOT NULL,
    module_mix     jsonb NOT NULL CHECK (jsonb_typeof(module_mix) = 'object'),
    tick_cadence   text NOT NULL DEFAULT 'daily'
                   CHECK (tick_cadence IN ('hourly', 'daily', 'weekdays')),
    last_active_at timestamptz NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX personas_email_key ON personas.personas (lower(email));
CREATE INDEX personas_due_idx ON personas.personas (tick_cadence, last_active_at);
CREATE INDEX personas_created_idx ON personas.personas (created_at DESC);

CREATE TABLE personas.persona_actions (
    persona_id    text NOT NULL,
    id            text NOT NULL,
    tick_id       text NOT NULL,
    tool_name     text NOT NULL,
    input_hash    text NULL,
    result        text NOT NULL CHECK (result IN ('ok', 'error')),
    error_message text NULL,
    latency_ms    integer NULL CHECK (latency_ms >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (persona_id, id)
);

-- Recent actions of one persona, and its activity in a time window.
CREATE INDEX persona_actions_recent_idx ON personas.persona_actions (persona_id, created_at DESC);
-- Retention deletes by age.
CREATE INDEX persona_actions_created_idx ON personas.persona_actions (created_at);

CREATE TABLE personas.persona_feedback (
    persona_id text NOT NULL,
    id         text NOT NULL,
    tick_id    text NOT NULL,
    module     text NOT NULL,
    rating     smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    notes      text NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (persona_id, id)
);

CREATE INDEX persona_feedback_module_idx ON personas.persona_feedback (persona_id, module, created_at DESC);
CREATE INDEX persona_feedback_created_idx ON personas.persona_feedback (created_at);
