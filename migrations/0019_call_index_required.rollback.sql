ALTER TABLE personas.persona_actions ALTER COLUMN call_index DROP NOT NULL;
