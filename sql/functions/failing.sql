-- The failing rule: a persona is failing when its newest finished ticks, at least
-- failing_streak() of them, all failed or timed out. This file is its one home: insights'
-- failing personas, their alert and the admin list's `failing` search all ask it here.

-- How many finished ticks in a row, newest first, must have failed.
CREATE OR REPLACE FUNCTION personas.failing_streak() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 3
$$;

-- The persona's run of failures from its newest finished tick back (the ticks before the
-- first ok), counting at most `most` ticks: one short range of the ticks' (persona_id,
-- started_at DESC) index.
CREATE OR REPLACE FUNCTION personas.failed_run(persona text, most integer) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(min(nth) FILTER (WHERE state = 'ok') - 1, count(*))::integer
      FROM (SELECT state, row_number() OVER (ORDER BY started_at DESC, tick_id DESC) AS nth
              FROM (SELECT state, started_at, tick_id
                      FROM personas.persona_ticks
                     WHERE persona_id = persona AND state <> 'running'
                     ORDER BY started_at DESC, tick_id DESC
                     LIMIT most) newest) numbered
$$;

CREATE OR REPLACE FUNCTION personas.is_failing(persona text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT personas.failed_run(persona, personas.failing_streak()) >= personas.failing_streak()
$$;
