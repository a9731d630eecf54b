-- Back to two rollups: fleet_spend (as 0015 left it, a DELETE keeping the spend) filled
-- from spent_usd, one slot a day, and tick_runs_daily's trigger as 0011 wrote it.
CREATE TABLE personas.fleet_spend (
    day      date     NOT NULL,
    slot     smallint NOT NULL,
    cost_usd numeric  NOT NULL DEFAULT 0,
    PRIMARY KEY (day, slot)
);
INSERT INTO personas.fleet_spend (day, slot, cost_usd)
SELECT day, 0, spent_usd FROM personas.tick_runs_daily WHERE spent_usd <> 0;
DELETE FROM personas.tick_runs_daily WHERE ticks = 0;
ALTER TABLE personas.tick_runs_daily DROP COLUMN spent_usd;

CREATE FUNCTION personas.add_fleet_spend(started timestamptz, persona_id text, cost numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO personas.fleet_spend AS s (day, slot, cost_usd)
    VALUES ((started AT TIME ZONE 'UTC')::date, (hashtext(persona_id) & 15)::smallint, cost)
        ON CONFLICT (day, slot) DO UPDATE SET cost_usd = s.cost_usd + EXCLUDED.cost_usd;
$$;

-- A DELETE leaves the spend; an UPDATE moves it from the old row's day to the new one's.
CREATE FUNCTION personas.track_fleet_spend() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM personas.add_fleet_spend(OLD.started_at, OLD.persona_id, -OLD.cost_usd);
    END IF;
    PERFORM personas.add_fleet_spend(NEW.started_at, NEW.persona_id, NEW.cost_usd);
    RETURN NULL;
END
$$;

CREATE FUNCTION personas.clear_fleet_spend() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN DELETE FROM personas.fleet_spend; RETURN NULL; END $$;

CREATE TRIGGER persona_ticks_spend
    AFTER INSERT OR UPDATE OF cost_usd, started_at ON personas.persona_ticks
    FOR EACH ROW EXECUTE FUNCTION personas.track_fleet_spend();
CREATE TRIGGER persona_ticks_spend_truncate
    AFTER TRUNCATE ON personas.persona_ticks
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_fleet_spend();

CREATE OR REPLACE FUNCTION personas.track_tick_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zero_days date[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%s),
    delta AS (
        SELECT (started_at AT TIME ZONE 'UTC')::date AS day, sum(sign) AS ticks,
               coalesce(sum(sign) FILTER (WHERE state = 'ok'), 0) AS ok,
               coalesce(sum(sign) FILTER (WHERE state = 'failed'), 0) AS failed,
               coalesce(sum(sign) FILTER (WHERE state = 'timeout'), 0) AS timeout,
               coalesce(sum(sign) FILTER (WHERE state = 'running'), 0) AS running,
               sum(sign * input_tokens) AS input_tokens, sum(sign * output_tokens) AS output_tokens,
               sum(sign * cost_usd) AS cost_usd
          FROM changed GROUP BY 1
    ),
    written AS (
        INSERT INTO personas.tick_runs_daily AS d
               (day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd)
        SELECT * FROM delta
         WHERE (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd)
               IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0)
         ORDER BY day
            ON CONFLICT (day) DO UPDATE
           SET (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd)
             = (d.ticks + EXCLUDED.ticks, d.ok + EXCLUDED.ok, d.failed + EXCLUDED.failed,
                d.timeout + EXCLUDED.timeout, d.running + EXCLUDED.running,
                d.input_tokens + EXCLUDED.input_tokens, d.output_tokens + EXCLUDED.output_tokens,
                d.cost_usd + EXCLUDED.cost_usd)
        RETURNING d.day, d.ticks
    )
    SELECT array_agg(day) FROM written WHERE ticks = 0
    $q$, personas.changed_rows(TG_OP, 'started_at, state, input_tokens, output_tokens, cost_usd'))
    INTO zero_days;
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tick_runs_daily WHERE day = ANY (zero_days) AND ticks = 0;
    END IF;
    RETURN NULL;
END
$$;
