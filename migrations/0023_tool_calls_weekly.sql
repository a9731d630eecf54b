-- Tool health over a year reads as many rows as it has weeks, not days: a weekly rollup
-- (per Monday, UTC, and tool) beside the daily one of 0011, kept by the same trigger in
-- the same statement. An insights window starts on a Monday, so its past weeks are whole
-- weeks of this rollup and only the current week is read by day.
-- depends: 0022_budget_holds

CREATE TABLE personas.tool_calls_weekly (
    tool    text     NOT NULL,
    week    date     NOT NULL CHECK (extract(isodow FROM week) = 1),
    calls   bigint   NOT NULL,
    errors  bigint   NOT NULL,
    latency bigint[] NOT NULL,
    PRIMARY KEY (week, tool)
);

-- 0011's trigger function, now writing both rollups from one delta per latency bucket:
-- the day's rows first, then the week's, each in key order (no deadlock between two
-- statements), and the rows left at zero removed from both.
CREATE OR REPLACE FUNCTION personas.track_tool_calls() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zero_days date[];
    zero_day_tools text[];
    zero_weeks date[];
    zero_week_tools text[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%s),
    per_bucket AS (
        SELECT tool_name AS tool, (created_at AT TIME ZONE 'UTC')::date AS day,
               personas.latency_bucket(latency_ms) AS bucket,
               sum(sign) AS calls, coalesce(sum(sign) FILTER (WHERE result = 'error'), 0) AS errors
          FROM changed
         GROUP BY 1, 2, 3
    ),
    per_day AS (
        SELECT tool, day, sum(calls)::bigint AS calls, sum(errors)::bigint AS errors,
               personas.latency_histogram(array_agg(bucket), array_agg(calls)::bigint[]) AS latency
          FROM per_bucket
         GROUP BY tool, day
    ),
    per_week AS (
        SELECT tool, date_trunc('week', day)::date AS week, sum(calls)::bigint AS calls,
               sum(errors)::bigint AS errors,
               personas.latency_histogram(array_agg(bucket), array_agg(calls)::bigint[]) AS latency
          FROM per_bucket
         GROUP BY tool, 2
    ),
    days AS (
        INSERT INTO personas.tool_calls_daily AS d (tool, day, calls, errors, latency)
        SELECT tool, day, calls, errors, latency FROM per_day
         WHERE calls <> 0 OR errors <> 0 OR latency <> '{}'
         ORDER BY day, tool
            ON CONFLICT (day, tool) DO UPDATE
           SET calls = d.calls + EXCLUDED.calls, errors = d.errors + EXCLUDED.errors,
               latency = personas.latency_add(d.latency, EXCLUDED.latency)
        RETURNING d.day, d.tool, d.calls
    ),
    weeks AS (
        INSERT INTO personas.tool_calls_weekly AS w (tool, week, calls, errors, latency)
        SELECT tool, week, calls, errors, latency FROM per_week
         WHERE calls <> 0 OR errors <> 0 OR latency <> '{}'
         ORDER BY week, tool
            ON CONFLICT (week, tool) DO UPDATE
           SET calls = w.calls + EXCLUDED.calls, errors = w.errors + EXCLUDED.errors,
               latency = personas.latency_add(w.latency, EXCLUDED.latency)
        RETURNING w.week, w.tool, w.calls
    )
    SELECT (SELECT array_agg(day) FROM days WHERE calls = 0),
           (SELECT array_agg(tool) FROM days WHERE calls = 0),
           (SELECT array_agg(week) FROM weeks WHERE calls = 0),
           (SELECT array_agg(tool) FROM weeks WHERE calls = 0)
    $q$, personas.changed_rows(TG_OP, 'tool_name, created_at, result, latency_ms'))
    INTO zero_days, zero_day_tools, zero_weeks, zero_week_tools;
    -- Second statements: the upserts' own statement cannot see the rows it wrote.
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tool_calls_daily d
         USING unnest(zero_days, zero_day_tools) AS z(day, tool)
         WHERE d.day = z.day AND d.tool = z.tool AND d.calls = 0;
    END IF;
    IF zero_weeks IS NOT NULL THEN
        DELETE FROM personas.tool_calls_weekly w
         USING unnest(zero_weeks, zero_week_tools) AS z(week, tool)
         WHERE w.week = z.week AND w.tool = z.tool AND w.calls = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER persona_actions_tools_weekly_truncate AFTER TRUNCATE ON personas.persona_actions
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_rollup('tool_calls_weekly');

-- The weeks already rolled up by day: the days' counts summed, their histograms summed
-- bucket by bucket (element k + 1 is bucket k).
INSERT INTO personas.tool_calls_weekly (tool, week, calls, errors, latency)
SELECT t.tool, t.week, t.calls, t.errors, coalesce(h.latency, '{}')
  FROM (SELECT tool, date_trunc('week', day)::date AS week, sum(calls) AS calls, sum(errors) AS errors
          FROM personas.tool_calls_daily
         GROUP BY 1, 2) t
  LEFT JOIN (SELECT tool, week, personas.latency_histogram(array_agg(bucket), array_agg(n)) AS latency
               FROM (SELECT d.tool, date_trunc('week', d.day)::date AS week, (u.i - 1)::smallint AS bucket, u.n
                       FROM personas.tool_calls_daily d
                      CROSS JOIN LATERAL unnest(d.latency) WITH ORDINALITY AS u(n, i)) b
              GROUP BY 1, 2) h
    ON h.tool = t.tool AND h.week = t.week;

-- The failing personas are now found per persona (sql/insights/runs.sql), not from the
-- window's failures: this index has no reader left, only a cost on every tick written.
DROP INDEX personas.persona_ticks_failures_idx;
