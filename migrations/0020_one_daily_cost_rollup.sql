-- One daily cost rollup. Today's spend (the fleet budget's measure) was summed a second
-- time, beside tick_runs_daily (0011), in fleet_spend (0012): 16 slots a day kept by a row
-- trigger, while tick_runs_daily's statement trigger already writes one row per day for
-- every tick statement, so the slots spared no wait. The spend moves into tick_runs_daily
-- as spent_usd and fleet_spend goes.
--
-- spent_usd differs from cost_usd in one way: a DELETE of ticks (a persona's cascade)
-- takes them out of the day's runs, tokens and cost but leaves what they spent, a record
-- of what was spent (0015). An INSERT or UPDATE moves both alike, so a corrected cost or
-- start moves the spend too; only a TRUNCATE of the ticks empties the rollup. A day keeps
-- its row while it has spend, also when none of its ticks is left (ticks 0).
-- depends: 0019_review_fixes

ALTER TABLE personas.tick_runs_daily ADD COLUMN spent_usd numeric NOT NULL DEFAULT 0;

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

-- What was spent, deleted personas' ticks included: fleet_spend holds it.
INSERT INTO personas.tick_runs_daily AS d
       (day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd, spent_usd)
SELECT day, 0, 0, 0, 0, 0, 0, 0, 0, sum(cost_usd)
  FROM personas.fleet_spend
 GROUP BY day
HAVING sum(cost_usd) <> 0
    ON CONFLICT (day) DO UPDATE SET spent_usd = EXCLUDED.spent_usd;

DROP TRIGGER persona_ticks_spend_truncate ON personas.persona_ticks;
DROP TRIGGER persona_ticks_spend ON personas.persona_ticks;
DROP FUNCTION personas.clear_fleet_spend();
DROP FUNCTION personas.track_fleet_spend();
DROP FUNCTION personas.add_fleet_spend(timestamptz, text, numeric);
DROP TABLE personas.fleet_spend;
