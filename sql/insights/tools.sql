-- name: tool_health
-- Every tool called in the weeks shown, from the rollups of the action audit: calls,
-- errors, error rate, p95 latency and weekly figures, highest error rate first. The window
-- starts on a Monday, so its past weeks are read whole from the weekly rollup (0023) and
-- only the current week by day (0011), up to today: a year reads about as many rows as
-- eight weeks do (actions are kept 90 days). p95 is the upper bound of the latency bucket
-- the 95th percentile of the timed calls falls in: never below the true value, at most 20%
-- above it. :space filters as in module_trends.
WITH first_day AS (
    SELECT date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
           - (:weeks::int - 1) * interval '1 week' AS day
),
this_week AS (
    SELECT date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')::date AS day
),
shown AS (
    SELECT r.tool, r.calls, r.errors, r.latency, r.week AS week_start
      FROM personas.tool_calls_weekly r, first_day b, this_week c
     WHERE :space::text IS NULL
       AND r.week >= b.day::date
       AND r.week < c.day
     UNION ALL
    SELECT r.tool, r.calls, r.errors, r.latency, c.day
      FROM personas.tool_calls_daily r, this_week c
     WHERE :space::text IS NULL
       AND r.day >= c.day
       AND r.day <= (:now::timestamptz AT TIME ZONE 'UTC')::date
     UNION ALL
    -- Filtered by space: the rollup has none, so the calls of the window are joined to
    -- their ticks (the ticks' key, then one probe of the space index each) and counted per
    -- latency bucket, then per day as the rollup's rows are.
    SELECT tool, sum(calls)::bigint, sum(errors)::bigint,
           personas.latency_histogram(array_agg(bucket), array_agg(calls)), date_trunc('week', day)::date
      FROM (SELECT a.tool_name AS tool, (a.created_at AT TIME ZONE 'UTC')::date AS day,
                   personas.latency_bucket(a.latency_ms) AS bucket,
                   count(*) AS calls, count(*) FILTER (WHERE a.result = 'error') AS errors
              FROM personas.persona_actions a
             CROSS JOIN first_day b
              JOIN personas.persona_ticks t ON t.persona_id = a.persona_id AND t.tick_id = a.tick_id
             WHERE :space::text IS NOT NULL
               AND a.created_at >= b.day AT TIME ZONE 'UTC'
               AND a.created_at <= :now::timestamptz
               AND personas.shared_space(t.space_id, t.persona_id) = (:space::text = 'shared')
             GROUP BY 1, 2, 3) per_bucket
     GROUP BY tool, day
),
totals AS (
    SELECT tool, sum(calls)::bigint AS calls, sum(errors)::bigint AS errors
      FROM shown
     GROUP BY tool
),
-- The window's histogram of each tool (the rows' arrays summed element by element), then
-- the first bucket whose running total reaches 95% of the timed calls. The two set-returning
-- functions in the select list step through each array together, streamed (a lateral
-- unnest per row measured slower).
latency AS (
    SELECT tool, bucket, sum(calls) AS calls
      FROM (SELECT tool, generate_subscripts(latency, 1) - 1 AS bucket, unnest(latency) AS calls
              FROM shown) h
     GROUP BY 1, 2
),
cumulative AS (
    SELECT tool, bucket,
           sum(calls) OVER (PARTITION BY tool ORDER BY bucket) AS through,
           sum(calls) OVER (PARTITION BY tool) AS timed
      FROM latency
),
p95 AS (
    SELECT tool, personas.latency_bucket_bound(min(bucket)::smallint) AS p95
      FROM cumulative
     WHERE timed > 0 AND 100 * through >= 95 * timed
     GROUP BY tool
),
weekly AS (
    SELECT t.tool,
           json_agg(json_build_object(
                        'weekStart', to_char(w.week_start, 'YYYY-MM-DD'),
                        'calls', coalesce(k.calls, 0),
                        'errorRate', round(k.errors::numeric / nullif(k.calls, 0), 4)::float8)
                    ORDER BY w.week_start) AS weekly
      FROM totals t
     CROSS JOIN generate_series(date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
                                - (:weeks::int - 1) * interval '1 week',
                                date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC'),
                                interval '1 week') AS w(week_start)
      LEFT JOIN (SELECT tool, week_start, sum(calls) AS calls, sum(errors) AS errors
                   FROM shown GROUP BY tool, week_start) k
             ON k.tool = t.tool AND k.week_start = w.week_start::date
     GROUP BY t.tool
)
SELECT t.tool, split_part(t.tool, '.', 1) AS module, t.calls, t.errors,
       round(t.errors::numeric / t.calls, 4)::float8 AS "errorRate",
       p.p95 AS "p95LatencyMs", w.weekly
  FROM totals t
  JOIN weekly w ON w.tool = t.tool
  LEFT JOIN p95 p ON p.tool = t.tool
 WHERE t.calls > 0
 ORDER BY t.errors::numeric / t.calls DESC, t.calls DESC, t.tool;
