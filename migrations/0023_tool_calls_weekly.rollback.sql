CREATE INDEX persona_ticks_failures_idx ON personas.persona_ticks (started_at DESC) INCLUDE (persona_id)
 WHERE state IN ('failed', 'timeout');

-- Back to 0011's trigger function, which keeps the daily rollup alone.
DROP TRIGGER persona_actions_tools_weekly_truncate ON personas.persona_actions;

CREATE OR REPLACE FUNCTION personas.track_tool_calls() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zero_days date[];
    zero_tools text[];
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
    delta AS (
        SELECT tool, day, sum(calls)::bigint AS calls, sum(errors)::bigint AS errors,
               personas.latency_histogram(array_agg(bucket), array_agg(calls)::bigint[]) AS latency
          FROM per_bucket
         GROUP BY tool, day
    ),
    written AS (
        INSERT INTO personas.tool_calls_daily AS d (tool, day, calls, errors, latency)
        SELECT tool, day, calls, errors, latency FROM delta
         WHERE calls <> 0 OR errors <> 0 OR latency <> '{}'
         ORDER BY day, tool
            ON CONFLICT (day, tool) DO UPDATE
           SET calls = d.calls + EXCLUDED.calls, errors = d.errors + EXCLUDED.errors,
               latency = personas.latency_add(d.latency, EXCLUDED.latency)
        RETURNING d.day, d.tool, d.calls
    )
    SELECT array_agg(day), array_agg(tool)
      FROM written WHERE calls = 0
    $q$, personas.changed_rows(TG_OP, 'tool_name, created_at, result, latency_ms'))
    INTO zero_days, zero_tools;
    -- A second statement: the upsert's own statement cannot see the rows it wrote.
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tool_calls_daily d
         USING unnest(zero_days, zero_tools) AS z(day, tool)
         WHERE d.day = z.day AND d.tool = z.tool AND d.calls = 0;
    END IF;
    RETURN NULL;
END
$$;

DROP TABLE personas.tool_calls_weekly;
