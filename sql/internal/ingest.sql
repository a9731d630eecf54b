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
-- the persona can be claimed again once its cadence makes it due.
UPDATE personas.personas
   SET last_active_at = now(),
       run_requested_at = NULL,
       lease_runner = NULL,
       lease_until = NULL
 WHERE user_id = :persona_id;

-- name: insert_actions!
-- The whole batch in one statement; a retried batch conflicts on its keys and adds nothing.
INSERT INTO personas.persona_actions
       (persona_id, id, tick_id, tool_name, input_hash, result, error_message, latency_ms)
SELECT :persona_id, r.id, r.tick_id, r.tool_name, r.input_hash, r.result, r.error_message, r.latency_ms
  FROM unnest(:ids::text[], :tick_ids::text[], :tool_names::text[], :input_hashes::text[],
              :results::text[], :error_messages::text[], :latencies::int[])
       AS r(id, tick_id, tool_name, input_hash, result, error_message, latency_ms)
    ON CONFLICT (persona_id, id) DO NOTHING;

-- name: insert_feedback!
-- The first rating of a module in a tick wins: later ones conflict and are dropped.
INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, notes)
SELECT :persona_id, r.id, r.tick_id, r.module, r.rating, r.notes
  FROM unnest(:ids::text[], :tick_ids::text[], :modules::text[], :ratings::smallint[],
              :notes::text[])
       AS r(id, tick_id, module, rating, notes)
    ON CONFLICT (persona_id, id) DO NOTHING;
