-- What a tick's record and the story so far read: the actions and ratings of one tick,
-- and the order the runner made its tool calls in.
-- depends: 0009_persona_ticks

-- The index of a call in its posted batch. The row key `{tickId}-{i}-{toolName}` holds it
-- too, but not always readably: an over-long key keeps only its head before the hash, and
-- a long tick id pushes `i` past the cut. Null for rows stored before this column.
ALTER TABLE personas.persona_actions ADD COLUMN call_index integer NULL CHECK (call_index >= 0);

-- The actions of one tick in call order (batch by batch, then index in the batch): the
-- tick's tool counts and the story's tool list read one short range of it.
CREATE INDEX persona_actions_tick_idx
    ON personas.persona_actions (persona_id, tick_id, created_at, call_index)
    INCLUDE (tool_name, result);

-- The ratings of one tick.
CREATE INDEX persona_feedback_tick_idx ON personas.persona_feedback (persona_id, tick_id);

-- Today's spend, for the fleet budget every claim checks: the cost of the ticks started
-- each UTC day, kept up to date by the trigger below, so a claim sums a handful of rows
-- instead of every tick of the day. Each day is spread over 16 slots (by persona), so
-- ticks of different personas ending at once rarely wait for the same row.
CREATE TABLE personas.fleet_spend (
    day      date     NOT NULL,
    slot     smallint NOT NULL,
    cost_usd numeric  NOT NULL DEFAULT 0,
    PRIMARY KEY (day, slot)
);

CREATE FUNCTION personas.add_fleet_spend(started timestamptz, persona_id text, cost numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO personas.fleet_spend AS s (day, slot, cost_usd)
    VALUES ((started AT TIME ZONE 'UTC')::date, (hashtext(persona_id) & 15)::smallint, cost)
        ON CONFLICT (day, slot) DO UPDATE SET cost_usd = s.cost_usd + EXCLUDED.cost_usd;
$$;

CREATE FUNCTION personas.track_fleet_spend() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.cost_usd <> 0 THEN
        PERFORM personas.add_fleet_spend(OLD.started_at, OLD.persona_id, -OLD.cost_usd);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.cost_usd <> 0 THEN
        PERFORM personas.add_fleet_spend(NEW.started_at, NEW.persona_id, NEW.cost_usd);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION personas.clear_fleet_spend() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM personas.fleet_spend;
    RETURN NULL;
END
$$;

CREATE TRIGGER persona_ticks_spend
    AFTER INSERT OR DELETE OR UPDATE OF cost_usd, started_at ON personas.persona_ticks
    FOR EACH ROW EXECUTE FUNCTION personas.track_fleet_spend();
CREATE TRIGGER persona_ticks_spend_truncate
    AFTER TRUNCATE ON personas.persona_ticks
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_fleet_spend();

INSERT INTO personas.fleet_spend (day, slot, cost_usd)
SELECT (started_at AT TIME ZONE 'UTC')::date, (hashtext(persona_id) & 15)::smallint, sum(cost_usd)
  FROM personas.persona_ticks
 GROUP BY 1, 2;
