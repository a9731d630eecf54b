-- A tick whose lease another runner took (or that lapsed) stops at step 'lease'.
-- The new set holds every old value, so the check is added NOT VALID (no table scan under
-- the ALTER's lock) and validated after, which reads the table without blocking writes.
-- depends: 0013_tick_space_index

ALTER TABLE personas.persona_ticks DROP CONSTRAINT IF EXISTS persona_ticks_step_check;
ALTER TABLE personas.persona_ticks ADD CONSTRAINT persona_ticks_step_check
    CHECK (step IN ('login', 'spaces', 'driver', 'actions', 'feedback', 'timeout', 'lease')) NOT VALID;
ALTER TABLE personas.persona_ticks VALIDATE CONSTRAINT persona_ticks_step_check;
