-- name: lock_persona$
-- The persona's row, locked for the rest of the transaction: every write to one
-- persona's ticks passes here first, so two reports of the same tick are decided one after
-- the other (and in the order every writer locks: the persona first). No row: no persona.
SELECT user_id FROM personas.personas WHERE user_id = :persona_id FOR NO KEY UPDATE;

-- name: tick_as_stored^
-- The tick's state, and whether this report would change nothing in it (its runner,
-- step and error as given; what it leaves out counts as unchanged). The cost is compared
-- as the column stores it, rounded to its scale. No row: never reported.
SELECT state,
       -- The service closed it (abandoned) and this is its own runner's report after all.
       step = 'abandoned' AND runner_id = :runner_id AS provisional,
       runner_id = :runner_id
       AND step IS NOT DISTINCT FROM :step::text
       AND error IS NOT DISTINCT FROM :error::text
       AND driver IS NOT DISTINCT FROM coalesce(:driver::text, driver)
       AND model IS NOT DISTINCT FROM coalesce(:model::text, model)
       AND space_id IS NOT DISTINCT FROM coalesce(:space_id::text, space_id)
       AND input_tokens = coalesce(:input_tokens::bigint, input_tokens)
       AND output_tokens = coalesce(:output_tokens::bigint, output_tokens)
       AND cache_read_tokens = coalesce(:cache_read_tokens::bigint, cache_read_tokens)
       AND cache_write_tokens = coalesce(:cache_write_tokens::bigint, cache_write_tokens)
       AND cost_usd = coalesce(:cost_usd::numeric(14, 6), cost_usd)
       AND trace_id IS NOT DISTINCT FROM coalesce(:trace_id::text, trace_id)
       AND product_name IS NOT DISTINCT FROM coalesce(:product_name::text, product_name)
       AND product_version IS NOT DISTINCT FROM coalesce(:product_version::text, product_version) AS unchanged
  FROM personas.persona_ticks
 WHERE persona_id = :persona_id AND tick_id = :tick_id;

-- name: start_tick!
-- The first report of a tick; a repeated one (or one after its end) changes nothing.
INSERT INTO personas.persona_ticks
       (persona_id, tick_id, runner_id, state, driver, model, space_id, trace_id,
        product_name, product_version, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd)
VALUES (:persona_id, :tick_id, :runner_id, 'running', :driver, :model, :space_id, :trace_id,
        :product_name, :product_version, coalesce(:input_tokens::bigint, 0), coalesce(:output_tokens::bigint, 0),
        coalesce(:cache_read_tokens::bigint, 0), coalesce(:cache_write_tokens::bigint, 0),
        coalesce(:cost_usd::numeric, 0))
    ON CONFLICT (persona_id, tick_id) DO NOTHING;

-- name: finish_tick!
-- The tick's end: created finished if it was never reported running, else its running
-- row finished. What the report leaves out keeps what the start said. Only a running
-- tick is written, or one the service closed as abandoned that its own runner reports
-- after all (the rollups' triggers move its cost into the day); any other finished one
-- never changes (the view has checked the state under the persona's lock).
INSERT INTO personas.persona_ticks AS t
       (persona_id, tick_id, runner_id, state, step, error, driver, model, space_id, trace_id,
        product_name, product_version, finished_at, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd)
VALUES (:persona_id, :tick_id, :runner_id, :state, :step, :error, :driver, :model, :space_id, :trace_id,
        :product_name, :product_version, now(), coalesce(:input_tokens::bigint, 0), coalesce(:output_tokens::bigint, 0),
        coalesce(:cache_read_tokens::bigint, 0), coalesce(:cache_write_tokens::bigint, 0),
        coalesce(:cost_usd::numeric, 0))
    ON CONFLICT (persona_id, tick_id) DO UPDATE
   SET runner_id = EXCLUDED.runner_id,
       state = EXCLUDED.state,
       step = EXCLUDED.step,
       error = EXCLUDED.error,
       driver = coalesce(:driver, t.driver),
       model = coalesce(:model, t.model),
       space_id = coalesce(:space_id, t.space_id),
       trace_id = coalesce(:trace_id, t.trace_id),
       product_name = coalesce(:product_name, t.product_name),
       product_version = coalesce(:product_version, t.product_version),
       finished_at = now(),
       input_tokens = coalesce(:input_tokens::bigint, t.input_tokens),
       output_tokens = coalesce(:output_tokens::bigint, t.output_tokens),
       cache_read_tokens = coalesce(:cache_read_tokens::bigint, t.cache_read_tokens),
       cache_write_tokens = coalesce(:cache_write_tokens::bigint, t.cache_write_tokens),
       cost_usd = coalesce(:cost_usd::numeric, t.cost_usd)
 WHERE t.state = 'running' OR (t.step = 'abandoned' AND t.runner_id = EXCLUDED.runner_id);

-- name: tick_answer^
-- The tick as the runner (and the admin tick view) reads it back (sql/functions/shapes.sql).
SELECT * FROM personas.tick_answer(:persona_id, :tick_id);

-- name: mark_tick_reported!
-- A tick's final report: the persona's activity (as mark_active), and the budget
-- reservation its runner's claim made ends, the tick's own cost now recorded in its place.
-- A reservation made for another runner (which claimed the persona after this one lost
-- its lease) is that runner's tick's, and stays.
UPDATE personas.personas
   SET last_active_at = now(),
       run_requested_at = NULL,
       reserved_usd = CASE WHEN reserved_by = :runner_id THEN NULL ELSE reserved_usd END,
       reserved_until = CASE WHEN reserved_by = :runner_id THEN NULL ELSE reserved_until END,
       reserved_by = CASE WHEN reserved_by = :runner_id THEN NULL ELSE reserved_by END
 WHERE user_id = :persona_id;
