DROP TRIGGER IF EXISTS persona_ticks_spend_truncate ON personas.persona_ticks;
DROP TRIGGER IF EXISTS persona_ticks_spend ON personas.persona_ticks;
DROP FUNCTION IF EXISTS personas.clear_fleet_spend();
DROP FUNCTION IF EXISTS personas.track_fleet_spend();
DROP FUNCTION IF EXISTS personas.add_fleet_spend(timestamptz, text, numeric);
DROP TABLE IF EXISTS personas.fleet_spend;
DROP INDEX IF EXISTS personas.persona_feedback_tick_idx;
DROP INDEX IF EXISTS personas.persona_actions_tick_idx;
ALTER TABLE personas.persona_actions DROP COLUMN IF EXISTS call_index;
