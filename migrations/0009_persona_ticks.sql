-- Ticks are records: every run of a persona, its outcome, the step where it failed and
-- what it cost. Keyed like every other table, by persona first; its rows go with the
-- persona. Tool-call counts are not stored here: they come from the actions of the tick.
-- Ticks are small (one row a run) and kept as long as ratings: prune leaves them alone.
-- depends: 0008_persona_cascade

CREATE TABLE personas.persona_ticks (
    persona_id          text NOT NULL REFERENCES personas.personas (user_id) ON DELETE CASCADE,
    tick_id             text NOT NULL,
    runner_id           text NOT NULL,
    state               text NOT NULL CHECK (state IN ('running', 'ok', 'failed', 'timeout')),
    step                text NULL
                        CHECK (step IN ('login', 'spaces', 'driver', 'actions', 'feedback', 'timeout')),
    error               text NULL,
    driver              text NULL,
    model               text NULL,
    space_id            text NULL,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz NULL,
    input_tokens        bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens       bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_tokens   bigint NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_write_tokens  bigint NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    cost_usd            numeric(14, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    PRIMARY KEY (persona_id, tick_id),
    -- A finished tick has its end; a running one has none; a failure names its step.
    CHECK ((state = 'running') = (finished_at IS NULL)),
    CHECK (state NOT IN ('failed', 'timeout') OR step IS NOT NULL)
);

-- A persona's newest ticks (admin detail, the story so far).
CREATE INDEX persona_ticks_recent_idx ON personas.persona_ticks (persona_id, started_at DESC);

-- Today's spend (the fleet budget) and runs per day (insights) read ticks by start time.
CREATE INDEX persona_ticks_started_idx ON personas.persona_ticks (started_at) INCLUDE (cost_usd, state);
