DROP INDEX IF EXISTS personas.persona_feedback_friction_idx;
DROP INDEX IF EXISTS personas.persona_feedback_trends_idx;
