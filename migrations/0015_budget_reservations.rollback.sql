DROP INDEX IF EXISTS personas.persona_ticks_finished_idx;
DROP INDEX IF EXISTS personas.personas_reserved_idx;
ALTER TABLE personas.personas
    DROP CONSTRAINT IF EXISTS personas_reservation_pair,
    DROP COLUMN IF EXISTS reserved_until,
    DROP COLUMN IF EXISTS reserved_usd;
CREATE OR REPLACE FUNCTION personas.track_fleet_spend() RETURNS trigger
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
ALTER TABLE personas.tick_runs_daily ALTER COLUMN cost_usd TYPE numeric(20, 6);
UPDATE personas.persona_ticks SET step = 'timeout' WHERE step = 'abandoned';
ALTER TABLE personas.persona_ticks DROP CONSTRAINT persona_ticks_step_check;
ALTER TABLE personas.persona_ticks ADD CONSTRAINT persona_ticks_step_check
    CHECK (step IN ('login', 'spaces', 'driver', 'actions', 'feedback', 'timeout', 'lease'));
