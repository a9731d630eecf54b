-- name: runs_daily
-- Every day of the weeks shown (from the first shown Monday to today, UTC), oldest first,
-- with its ticks by state, tokens and cost, read from the daily runs rollup (0011), and
-- its ticks and cost by driver (0024: the rollup's rows are by day and driver; '' for a tick that
-- named none). A tick counts on the day it started.
SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
       coalesce(sum(r.ok), 0)::bigint AS ok, coalesce(sum(r.failed), 0)::bigint AS failed,
       coalesce(sum(r.timeout), 0)::bigint AS timeout, coalesce(sum(r.running), 0)::bigint AS running,
       coalesce(sum(r.cost_usd), 0)::float8 AS "costUsd",
       coalesce(sum(r.input_tokens), 0)::bigint AS "inputTokens",
       coalesce(sum(r.output_tokens), 0)::bigint AS "outputTokens",
       coalesce(jsonb_agg(jsonb_build_object('driver', r.driver, 'ticks', r.ticks,
                                             'costUsd', r.cost_usd::float8) ORDER BY r.driver)
                    FILTER (WHERE r.ticks > 0), '[]') AS "byDriver"
  FROM generate_series(
           (date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC') - (:weeks::int - 1) * interval '1 week')::date,
           (:now::timestamptz AT TIME ZONE 'UTC')::date,
           interval '1 day') AS d(day)
  LEFT JOIN personas.tick_runs_daily r ON r.day = d.day::date
 GROUP BY d.day
 ORDER BY d.day;

-- name: budget_standing^
-- Where the fleet budget stands, by the rules claims decide it with (sql/functions/budget.sql).
SELECT personas.fleet_spent_today()::float8 AS "spentUsd",
       personas.fleet_reserved_usd()::float8 AS "reservedUsd",
       personas.budget_resets_at() AS "resetsAt";

-- name: failing_personas
-- Personas failing by the rule of sql/functions/failing.sql whose newest finished tick, a
-- failure, started in the weeks shown. Candidates come from one probe of the ticks'
-- (persona_id, started_at DESC) index per persona with ticks, found by skipping through
-- the ticks' key, whatever the window: a year of an hourly fleet holds failures every week,
-- so scanning the window's failures grew with the weeks. `failedTicks` is the run of
-- failures counted up to :streak. The :limit most recently failed come back, each with its
-- last failing tick (the tick view's link). Columns are named as the JSON answer names them.
WITH RECURSIVE ticked(persona_id) AS (
    (SELECT persona_id FROM personas.persona_ticks ORDER BY persona_id LIMIT 1)
    UNION ALL
    SELECT (SELECT t.persona_id
              FROM personas.persona_ticks t
             WHERE t.persona_id > k.persona_id
             ORDER BY t.persona_id
             LIMIT 1)
      FROM ticked k
     WHERE k.persona_id IS NOT NULL
),
last_failed AS (
    SELECT k.persona_id, newest.tick_id, newest.step, newest.error, newest.finished_at
      FROM ticked k
     CROSS JOIN LATERAL (
           SELECT state, started_at, tick_id, step, error, finished_at
             FROM personas.persona_ticks
            WHERE persona_id = k.persona_id AND state <> 'running'
            ORDER BY started_at DESC, tick_id DESC
            LIMIT 1) AS newest
     WHERE newest.state IN ('failed', 'timeout')
       AND newest.started_at >= (date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
                                 - (:weeks::int - 1) * interval '1 week') AT TIME ZONE 'UTC'
),
streaks AS (
    SELECT f.*, personas.failed_run(f.persona_id, :streak) AS failed_ticks
      FROM last_failed f
)
SELECT p.user_id AS "userId", p.email, s.failed_ticks AS "failedTicks",
       s.step AS "lastStep", s.error AS "lastError", s.finished_at AS "lastAt",
       s.tick_id AS "lastTickId"
  FROM streaks s
  JOIN personas.personas p ON p.user_id = s.persona_id
 WHERE s.failed_ticks >= personas.failing_streak()
   AND (:archetype::text IS NULL OR p.archetype = :archetype::text)
 ORDER BY s.finished_at DESC, p.user_id
 LIMIT :limit;
