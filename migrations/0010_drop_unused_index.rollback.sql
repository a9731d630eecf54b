CREATE INDEX personas_due_idx ON personas.personas (tick_cadence, last_active_at);
