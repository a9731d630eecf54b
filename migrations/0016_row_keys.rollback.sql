CREATE INDEX persona_feedback_tick_idx ON personas.persona_feedback (persona_id, tick_id);
ALTER TABLE personas.persona_feedback DROP CONSTRAINT persona_feedback_pkey;
ALTER TABLE personas.persona_feedback ADD CONSTRAINT persona_feedback_pkey PRIMARY KEY (persona_id, id);
DROP INDEX personas.persona_actions_key;
ALTER TABLE personas.persona_actions ADD CONSTRAINT persona_actions_pkey PRIMARY KEY (persona_id, id);
