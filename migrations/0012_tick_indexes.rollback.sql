DROP INDEX IF EXISTS personas.persona_feedback_tick_idx;
DROP INDEX IF EXISTS personas.persona_actions_tick_idx;
ALTER TABLE personas.persona_actions DROP COLUMN IF EXISTS call_index;
