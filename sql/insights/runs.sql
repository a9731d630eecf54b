-- name: runs_daily
-- Every day of the weeks shown (from the first shown Monday to today, UTC), oldest first,
-- with its ticks by state, tokens and cost, read from the daily runs rollup (0011).
-- A tick counts on the day it started.
SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
       coalesce(r.ok, 0) AS ok, coalesce(r.failed, 0) AS failed,
       coalesce(r.timeout, 0) AS timeout, coalesce(r.running, 0) AS running,
       coalesce(r.cost_usd, 0)::float8 AS "costUsd",
       coalesce(r.input_tokens, 0) AS "inputTokens", coalesce(r.output_tokens, 0) AS "outputTokens"
  FROM generate_series(
           (date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC') - (:weeks::int - 1) * interval '1 week')::date,
           (:now::timestamptz AT TIME ZONE 'UTC')::date,
           interval '1 day') AS d(day)
  LEFT JOIN personas.tick_runs_daily r ON r.day = d.day::date
 ORDER BY d.day;

-- name: budget_standing^
-- Where the fleet budget stands, by the rules claims decide it with (sql/functions/budget.sql).
SELECT personas.fleet_spent_today()::float8 AS "spentUsd",
       personas.fleet_reserved_usd()::float8 AS "reservedUsd",
       personas.budget_resets_at() AS "resetsAt";

-- name: failing_personas
-- Personas whose last 3 finished ticks all failed or timed out. Candidates are the personas
-- whose newest finished tick is a failure started in the weeks shown: one probe of the
-- ticks' (persona_id, started_at DESC) index for each persona with ticks, whatever the
-- window (a year of an hourly fleet holds failures every week, so scanning the window's
-- failures grew with the weeks). The personas with ticks are found by skipping through the
-- ticks' key, one probe per persona. Each candidate is then checked on its newest finished
-- ticks, at most :streak of them, so `failedTicks` is the run of failures up to :streak.
-- The :limit most recently failed come back, each with its last failing tick (the tick
-- view's link). Columns are named as the JSON answer names them.
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
candidates AS (
    SELECT k.persona_id
      FROM ticked k
     CROSS JOIN LATERAL (
           SELECT state, started_at
             FROM personas.persona_ticks
            WHERE persona_id = k.persona_id AND state <> 'running'
            ORDER BY started_at DESC, tick_id DESC
            LIMIT 1) AS newest
     WHERE newest.state IN ('failed', 'timeout')
       AND newest.started_at >= (date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
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
