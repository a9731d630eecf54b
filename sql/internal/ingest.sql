-- name: mark_active!
-- Marks the persona active now and answers its "run now" request (this tick is the
-- run). The UPDATE locks the row for the rest of the batch's transaction, so a
-- concurrent delete cannot slip between the check and the insert. No row: no persona.
UPDATE personas.personas
   SET last_active_at = now(),
       run_requested_at = NULL
 WHERE user_id = :persona_id;

-- name: mark_tick_over!
-- As mark_active, and the persona's lease ends: feedback closes the runner's tick, and
-- the persona can be claimed again once its cadence makes it due. With :runner_id, only
-- that runner's lease ends: a late post of a runner that lost its lease leaves the
-- lease of the runner now driving the persona alone.
UPDATE personas.personas
   SET last_active_at = now(),
       run_requested_at = NULL,
       lease_runner = CASE WHEN :runner_id::text IS NULL OR lease_runner = :runner_id::text
                           THEN NULL ELSE lease_runner END,
       lease_until = CASE WHEN :runner_id::text IS NULL OR lease_runner = :runner_id::text
                          THEN NULL ELSE lease_until END
 WHERE user_id = :persona_id;

-- name: insert_actions!
-- The whole batch in one statement; a retried batch conflicts on its keys and adds nothing.
-- Each row keeps its index in the batch (call_index): the order the calls were made in,
-- and with the tick and the tool the row's key (the id is what clients read, not the key).
INSERT INTO personas.persona_actions
       (persona_id, id, tick_id, tool_name, input_hash, result, error_message, latency_ms, call_index)
SELECT :persona_id, r.id, r.tick_id, r.tool_name, r.input_hash, r.result, r.error_message, r.latency_ms,
       r.call_index - 1
  FROM unnest(:ids::text[], :tick_ids::text[], :tool_names::text[], :input_hashes::text[],
              :results::text[], :error_messages::text[], :latencies::int[])
       WITH ORDINALITY AS r(id, tick_id, tool_name, input_hash, result, error_message, latency_ms, call_index)
    ON CONFLICT (persona_id, tick_id, call_index, tool_name) DO NOTHING;

-- name: insert_feedback!
-- The first rating of a module in a tick wins: later ones conflict on (tick, module) and
-- are dropped.
INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, notes)
SELECT :persona_id, r.id, r.tick_id, r.module, r.rating, r.notes
  FROM unnest(:ids::text[], :tick_ids::text[], :modules::text[], :ratings::smallint[],
              :notes::text[])
       AS r(id, tick_id, module, rating, notes)
    ON CONFLICT (persona_id, tick_id, module) DO NOTHING;
