-- The third hardening round, for ticks and the fleet budget:
--   * a tick the service closes itself (its runner's lease lapsed with no final report)
--     ends as timeout at step 'abandoned' (added beside 0014's 'lease', a runner's own
--     step for a lease it lost; NOT VALID then validated, as 0014 does, which in one
--     transaction blocks writes to the ticks for the scan all the same);
--   * the daily runs rollup's cost is unbounded numeric, so no number of valid reports
--     (each at most COST_MAX) can overflow it;
--   * today's spend is a record of what was spent: a persona's deletion no longer takes
--     its ticks' cost out of fleet_spend (only a TRUNCATE of the ticks empties it);
--   * a claim reserves the expected cost of each persona it leases (reserved_usd) until
--     that tick is reported, counted while reserved_until (the lease's end, moved on by
--     heartbeats) is ahead, so a reservation whose report never comes ends by itself.
-- depends: 0014_tick_step_lease

ALTER TABLE personas.persona_ticks DROP CONSTRAINT persona_ticks_step_check;
ALTER TABLE personas.persona_ticks ADD CONSTRAINT persona_ticks_step_check
    CHECK (step IN ('login', 'spaces', 'driver', 'actions', 'feedback', 'timeout', 'lease', 'abandoned'))
    NOT VALID;
ALTER TABLE personas.persona_ticks VALIDATE CONSTRAINT persona_ticks_step_check;

ALTER TABLE personas.tick_runs_daily ALTER COLUMN cost_usd TYPE numeric;

CREATE OR REPLACE FUNCTION personas.track_fleet_spend() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A DELETE (a persona's cascade) leaves the spend as it was: it was spent.
    IF TG_OP = 'UPDATE' AND OLD.cost_usd <> 0 THEN
        PERFORM personas.add_fleet_spend(OLD.started_at, OLD.persona_id, -OLD.cost_usd);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.cost_usd <> 0 THEN
        PERFORM personas.add_fleet_spend(NEW.started_at, NEW.persona_id, NEW.cost_usd);
    END IF;
    RETURN NULL;
END
$$;

ALTER TABLE personas.personas
    ADD COLUMN reserved_usd numeric NULL CHECK (reserved_usd >= 0),
    ADD COLUMN reserved_until timestamptz NULL,
    ADD CONSTRAINT personas_reservation_pair CHECK ((reserved_usd IS NULL) = (reserved_until IS NULL));

-- The reservations a claim sums: few rows at any time (the personas in flight).
CREATE INDEX personas_reserved_idx ON personas.personas (reserved_until) INCLUDE (reserved_usd)
 WHERE reserved_until IS NOT NULL;

-- The expected cost of a tick: the fleet's newest finished ticks that a runner reported
-- (an abandoned tick's cost is unknown, not zero).
CREATE INDEX persona_ticks_finished_idx ON personas.persona_ticks (finished_at DESC) INCLUDE (cost_usd)
 WHERE finished_at IS NOT NULL AND step IS DISTINCT FROM 'abandoned';
