-- The answers' shapes: one projection per shape, its columns named as the JSON names
-- them, so a field is added here once and every query that answers with the shape has
-- it; and the one write of a persona's settings. Applied by `python -m personas.migrate`
-- after the migrations, as every file here. Each projection is a plain SELECT in
-- LANGUAGE sql, called in FROM (`CROSS JOIN LATERAL`): the planner inlines it, so the
-- queries plan as if the columns were written out in them.
-- A new column changes the result type, which CREATE OR REPLACE cannot do: hence the
-- DROP first (no stored object depends on these; the queries find the new one by name).

-- A persona as the runners read it: /due and every claims answer.
DROP FUNCTION IF EXISTS personas.due_persona(personas.personas);
CREATE FUNCTION personas.due_persona(p personas.personas)
RETURNS TABLE ("userId" text, email text, archetype text, "systemPrompt" text, "moduleMix" jsonb,
               "tickCadence" text, "lastActiveAt" timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.user_id, p.email, p.archetype, p.system_prompt, p.module_mix, p.tick_cadence,
           p.last_active_at
$$;

-- A persona's settings (what an operator sets: personas.validation.PersonaSettings) have
-- their columns named here and nowhere else: a new setting is a line in the upsert below,
-- in the descriptor, and in the admin list's row when the list shows it.

-- Create the persona or refresh its settings; true when it was created. The settings are
-- the JSON the upsert's model dumps, named as the JSON names them. A name, once known, is
-- kept when a later upsert learns none.
DROP FUNCTION IF EXISTS personas.upsert_persona(text, text, jsonb);
CREATE FUNCTION personas.upsert_persona(persona_id text, address text, settings jsonb)
RETURNS boolean
LANGUAGE sql AS $$
    INSERT INTO personas.personas AS p
           (user_id, email, name, archetype, system_prompt, module_mix, tick_cadence)
    SELECT persona_id, address, s.name, s.archetype, s."systemPrompt", s."moduleMix", s."tickCadence"
      FROM jsonb_to_record(settings)
           AS s(name text, archetype text, "systemPrompt" text, "moduleMix" jsonb, "tickCadence" text)
        ON CONFLICT (user_id) DO UPDATE
       SET email = EXCLUDED.email,
           name = coalesce(EXCLUDED.name, p.name),
           archetype = EXCLUDED.archetype,
           system_prompt = EXCLUDED.system_prompt,
           module_mix = EXCLUDED.module_mix,
           tick_cadence = EXCLUDED.tick_cadence
    RETURNING p.xmax = 0
$$;

-- A persona whole, as the admin detail shows it.
DROP FUNCTION IF EXISTS personas.persona_descriptor(personas.personas);
CREATE FUNCTION personas.persona_descriptor(p personas.personas)
RETURNS TABLE ("userId" text, email text, name text, archetype text, "systemPrompt" text,
               "moduleMix" jsonb, "tickCadence" text, "lastActiveAt" timestamptz,
               "createdAt" timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.user_id, p.email, p.name, p.archetype, p.system_prompt, p.module_mix,
           p.tick_cadence, p.last_active_at, p.created_at
$$;

-- A persona as a row of the admin list shows it (its 7-day count is the list query's own).
DROP FUNCTION IF EXISTS personas.persona_summary(personas.personas);
CREATE FUNCTION personas.persona_summary(p personas.personas)
RETURNS TABLE ("userId" text, email text, name text, archetype text, "tickCadence" text,
               "lastActiveAt" timestamptz, "createdAt" timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.user_id, p.email, p.name, p.archetype, p.tick_cadence, p.last_active_at,
           p.created_at
$$;

-- A tick as the runner reads it back (PUT .../ticks/:tickId) and the admin views show it:
-- its tool calls and failures counted from the actions stored for it (one range of the
-- tick index), and the product (MCP serverInfo) it ran against when the runner reported
-- one. By key, not by row, so no migration's rollback trips over a dependency.
DROP FUNCTION IF EXISTS personas.tick_answer(text, text);
CREATE FUNCTION personas.tick_answer(persona_id text, tick_id text)
RETURNS TABLE ("tickId" text, "runnerId" text, state text, step text, error text, driver text,
               model text, "spaceId" text, "startedAt" timestamptz, "finishedAt" timestamptz,
               "inputTokens" bigint, "outputTokens" bigint, "cacheReadTokens" bigint,
               "cacheWriteTokens" bigint, "costUsd" float8, "toolCalls" bigint,
               "toolErrors" bigint, "traceId" text, product json)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.tick_id, t.runner_id, t.state, t.step, t.error, t.driver, t.model, t.space_id,
           t.started_at, t.finished_at, t.input_tokens, t.output_tokens, t.cache_read_tokens,
           t.cache_write_tokens, t.cost_usd::float8, a.calls, a.errors, t.trace_id,
           CASE WHEN t.product_version IS NOT NULL
                THEN json_build_object('name', t.product_name, 'version', t.product_version) END
      FROM personas.persona_ticks t
     CROSS JOIN LATERAL (SELECT count(*) AS calls, count(*) FILTER (WHERE result = 'error') AS errors
                           FROM personas.persona_actions
                          WHERE persona_id = t.persona_id AND tick_id = t.tick_id) a
     WHERE t.persona_id = tick_answer.persona_id AND t.tick_id = tick_answer.tick_id
$$;
