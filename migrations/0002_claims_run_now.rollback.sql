DROP INDEX IF EXISTS personas.personas_activity_order_idx;
ALTER TABLE personas.personas
    DROP CONSTRAINT IF EXISTS personas_lease_pair,
    DROP COLUMN IF EXISTS run_requested_at,
    DROP COLUMN IF EXISTS lease_until,
    DROP COLUMN IF EXISTS lease_runner;
