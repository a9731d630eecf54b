-- A tick whose lease another runner took (or that lapsed) stops at step 'lease'.
-- The check is added NOT VALID and validated after. Both run in the one transaction yoyo
-- applies a migration in, so the ALTERs' lock on the table is held through the validating
-- scan: writes to the ticks wait for it, as they would for a plain ADD CONSTRAINT.
-- depends: 0013_tick_space_index

ALTER TABLE personas.persona_ticks DROP CONSTRAINT IF EXISTS persona_ticks_step_check;
ALTER TABLE personas.persona_ticks ADD CONSTRAINT persona_ticks_step_check
    CHECK (step IN ('login', 'spaces', 'driver', 'actions', 'feedback', 'timeout', 'lease')) NOT VALID;
ALTER TABLE personas.persona_ticks VALIDATE CONSTRAINT persona_ticks_step_check;
