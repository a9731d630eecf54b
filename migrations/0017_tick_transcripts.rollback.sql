DROP TABLE personas.persona_transcripts;
ALTER TABLE personas.persona_ticks DROP COLUMN trace_id;
