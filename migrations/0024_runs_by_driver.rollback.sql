-- Back to one row a day: the drivers' rows summed, and the trigger as 0020 wrote it.

CREATE TEMPORARY TABLE runs_by_day ON COMMIT DROP AS
SELECT day, sum(ticks) AS ticks, sum(ok) AS ok, sum(failed) AS failed, sum(timeout) AS timeout,
       sum(running) AS running, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd, sum(spent_usd) AS spent_usd
  FROM personas.tick_runs_daily
 GROUP BY day;
DELETE FROM personas.tick_runs_daily;
ALTER TABLE personas.tick_runs_daily DROP CONSTRAINT tick_runs_daily_pkey;
ALTER TABLE personas.tick_runs_daily DROP COLUMN driver;
INSERT INTO personas.tick_runs_daily
       (day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
SELECT day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd
  FROM runs_by_day;
ALTER TABLE personas.tick_runs_daily ADD PRIMARY KEY (day);
CREATE OR REPLACE FUNCTION personas.track_tick_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    spent text := CASE WHEN TG_OP = 'DELETE' THEN '0' ELSE 'sum(sign * cost_usd)' END;
    zero_days date[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%1$s),
    delta AS (
        SELECT (started_at AT TIME ZONE 'UTC')::date AS day, sum(sign) AS ticks,
               coalesce(sum(sign) FILTER (WHERE state = 'ok'), 0) AS ok,
               coalesce(sum(sign) FILTER (WHERE state = 'failed'), 0) AS failed,
               coalesce(sum(sign) FILTER (WHERE state = 'timeout'), 0) AS timeout,
               coalesce(sum(sign) FILTER (WHERE state = 'running'), 0) AS running,
               sum(sign * input_tokens) AS input_tokens, sum(sign * output_tokens) AS output_tokens,
               sum(sign * cost_usd) AS cost_usd, %2$s AS spent_usd
          FROM changed GROUP BY 1
    ),
    written AS (
        INSERT INTO personas.tick_runs_daily AS d
               (day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
        SELECT * FROM delta
         WHERE (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
               IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0)
         ORDER BY day
            ON CONFLICT (day) DO UPDATE
           SET (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
             = (d.ticks + EXCLUDED.ticks, d.ok + EXCLUDED.ok, d.failed + EXCLUDED.failed,
                d.timeout + EXCLUDED.timeout, d.running + EXCLUDED.running,
                d.input_tokens + EXCLUDED.input_tokens, d.output_tokens + EXCLUDED.output_tokens,
                d.cost_usd + EXCLUDED.cost_usd, d.spent_usd + EXCLUDED.spent_usd)
        RETURNING d.day, d.ticks, d.spent_usd
    )
    SELECT array_agg(day) FROM written WHERE ticks = 0 AND spent_usd = 0
    $q$, personas.changed_rows(TG_OP, 'started_at, state, input_tokens, output_tokens, cost_usd'), spent)
    INTO zero_days;
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tick_runs_daily WHERE day = ANY (zero_days) AND ticks = 0 AND spent_usd = 0;
    END IF;
    RETURN NULL;
END
$$;
