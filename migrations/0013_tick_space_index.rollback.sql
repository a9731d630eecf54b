DROP INDEX IF EXISTS personas.persona_ticks_space_idx;
