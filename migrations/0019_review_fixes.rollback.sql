DROP INDEX IF EXISTS personas.persona_ticks_running_idx;
DROP INDEX IF EXISTS personas.persona_ticks_costed_idx;
CREATE INDEX IF NOT EXISTS persona_ticks_finished_idx ON personas.persona_ticks (finished_at DESC) INCLUDE (cost_usd)
 WHERE finished_at IS NOT NULL AND step IS DISTINCT FROM 'abandoned';
ALTER TABLE personas.personas
    DROP COLUMN IF EXISTS deleting_until,
    DROP COLUMN IF EXISTS reserved_by;
