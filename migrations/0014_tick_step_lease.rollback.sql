-- Back to the steps before 'lease': such ticks read as failed at the driver, where the
-- runner stopped them.
UPDATE personas.persona_ticks SET step = 'driver' WHERE step = 'lease';
ALTER TABLE personas.persona_ticks DROP CONSTRAINT IF EXISTS persona_ticks_step_check;
ALTER TABLE personas.persona_ticks ADD CONSTRAINT persona_ticks_step_check
    CHECK (step IN ('login', 'spaces', 'driver', 'actions', 'feedback', 'timeout'));
