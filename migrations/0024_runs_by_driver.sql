-- The daily runs rollup by driver as well as by day, so the runs panel shows what each
-- driver spent (a fleet that goes on past its budget on a free local model shows it).
-- The key becomes (day, driver); a tick without a driver counts under ''. Readers that
-- want the day sum its rows (the budget's measure already does).
--
-- The rows kept so far are split by the drivers of the ticks still there; what was spent
-- by ticks since deleted (spent_usd beyond their cost) stays with the day under ''.
-- depends: 0023_tool_calls_weekly

ALTER TABLE personas.tick_runs_daily ADD COLUMN driver text NOT NULL DEFAULT '';
ALTER TABLE personas.tick_runs_daily DROP CONSTRAINT tick_runs_daily_pkey;

CREATE TEMPORARY TABLE runs_before ON COMMIT DROP AS
SELECT day, spent_usd FROM personas.tick_runs_daily;
DELETE FROM personas.tick_runs_daily;
INSERT INTO personas.tick_runs_daily
       (day, driver, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
SELECT (started_at AT TIME ZONE 'UTC')::date, coalesce(driver, ''), count(*),
       count(*) FILTER (WHERE state = 'ok'), count(*) FILTER (WHERE state = 'failed'),
       count(*) FILTER (WHERE state = 'timeout'), count(*) FILTER (WHERE state = 'running'),
       sum(input_tokens), sum(output_tokens), sum(cost_usd), sum(cost_usd)
  FROM personas.persona_ticks
 GROUP BY 1, 2;
ALTER TABLE personas.tick_runs_daily ADD PRIMARY KEY (day, driver);
INSERT INTO personas.tick_runs_daily AS d
       (day, driver, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
SELECT b.day, '', 0, 0, 0, 0, 0, 0, 0, 0, b.spent_usd - coalesce(sum(r.spent_usd), 0)
  FROM runs_before b
  LEFT JOIN personas.tick_runs_daily r ON r.day = b.day
 GROUP BY b.day, b.spent_usd
HAVING b.spent_usd - coalesce(sum(r.spent_usd), 0) <> 0
    ON CONFLICT (day, driver) DO UPDATE SET spent_usd = d.spent_usd + EXCLUDED.spent_usd;

CREATE OR REPLACE FUNCTION personas.track_tick_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    spent text := CASE WHEN TG_OP = 'DELETE' THEN '0' ELSE 'sum(sign * cost_usd)' END;
    zero_days date[];
    zero_drivers text[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%1$s),
    delta AS (
        SELECT (started_at AT TIME ZONE 'UTC')::date AS day, coalesce(driver, '') AS driver,
               sum(sign) AS ticks,
               coalesce(sum(sign) FILTER (WHERE state = 'ok'), 0) AS ok,
               coalesce(sum(sign) FILTER (WHERE state = 'failed'), 0) AS failed,
               coalesce(sum(sign) FILTER (WHERE state = 'timeout'), 0) AS timeout,
               coalesce(sum(sign) FILTER (WHERE state = 'running'), 0) AS running,
               sum(sign * input_tokens) AS input_tokens, sum(sign * output_tokens) AS output_tokens,
               sum(sign * cost_usd) AS cost_usd, %2$s AS spent_usd
          FROM changed GROUP BY 1, 2
    ),
    written AS (
        INSERT INTO personas.tick_runs_daily AS d
               (day, driver, ticks, ok, failed, timeout, running, input_tokens, output_tokens,
                cost_usd, spent_usd)
        SELECT * FROM delta
         WHERE (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
               IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0)
         ORDER BY day, driver
            ON CONFLICT (day, driver) DO UPDATE
           SET (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
             = (d.ticks + EXCLUDED.ticks, d.ok + EXCLUDED.ok, d.failed + EXCLUDED.failed,
                d.timeout + EXCLUDED.timeout, d.running + EXCLUDED.running,
                d.input_tokens + EXCLUDED.input_tokens, d.output_tokens + EXCLUDED.output_tokens,
                d.cost_usd + EXCLUDED.cost_usd, d.spent_usd + EXCLUDED.spent_usd)
        RETURNING d.day, d.driver, d.ticks, d.spent_usd
    )
    SELECT array_agg(day), array_agg(driver) FROM written WHERE ticks = 0 AND spent_usd = 0
    $q$, personas.changed_rows(TG_OP, 'started_at, driver, state, input_tokens, output_tokens, cost_usd'),
         spent)
    INTO zero_days, zero_drivers;
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tick_runs_daily
         WHERE (day, driver) IN (SELECT * FROM unnest(zero_days, zero_drivers))
           AND ticks = 0 AND spent_usd = 0;
    END IF;
    RETURN NULL;
END
$$;
