-- name: runs_daily
-- Every day of the weeks shown (from the first shown Monday to today, UTC), oldest first,
-- with its ticks by state, tokens and cost, read from the daily runs rollup (0011), and
-- its ticks and cost by driver (0022: the rollup's rows are by day and driver; '' for a tick that
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
-- Personas whose last 3 finished ticks all failed or timed out. Candidates are the personas
-- with a failure started in the weeks shown (a partial index holds only failures); each is
-- then checked on its newest finished ticks (the ticks' (persona_id, started_at DESC) index),
-- at most :streak of them, so `failedTicks` is the run of failures up to :streak.
-- The :limit most recently failed come back, each with its last failing tick (the tick
-- view's link). Columns are named as the JSON answer names them.
WITH candidates AS (
    SELECT DISTINCT t.persona_id
      FROM personas.persona_ticks t
     WHERE t.state IN ('failed', 'timeout')
       AND t.started_at >= (date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
                            - (:weeks::int - 1) * interval '1 week') AT TIME ZONE 'UTC'
),
recent AS (
    SELECT c.persona_id, t.tick_id, t.state, t.step, t.error, t.finished_at,
           row_number() OVER (PARTITION BY c.persona_id ORDER BY t.started_at DESC, t.tick_id DESC) AS nth
      FROM candidates c
     CROSS JOIN LATERAL (
           SELECT state, step, error, started_at, finished_at, tick_id
             FROM personas.persona_ticks
            WHERE persona_id = c.persona_id AND state <> 'running'
            ORDER BY started_at DESC
            LIMIT :streak) AS t
),
streaks AS (
    -- The run of failures from the newest finished tick back: the ticks before the first ok.
    SELECT persona_id,
           coalesce(min(nth) FILTER (WHERE state = 'ok') - 1, count(*)) AS failed_ticks
      FROM recent
     GROUP BY persona_id
)
SELECT p.user_id AS "userId", p.email, s.failed_ticks AS "failedTicks",
       last.step AS "lastStep", last.error AS "lastError", last.finished_at AS "lastAt",
       last.tick_id AS "lastTickId"
  FROM streaks s
  JOIN recent last ON last.persona_id = s.persona_id AND last.nth = 1
  JOIN personas.personas p ON p.user_id = s.persona_id
 WHERE s.failed_ticks >= 3
   AND (:archetype::text IS NULL OR p.archetype = :archetype::text)
 ORDER BY last.finished_at DESC, p.user_id
 LIMIT :limit;
