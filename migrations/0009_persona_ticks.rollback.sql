DROP TABLE personas.persona_ticks;
