-- A shared-space tick: one whose space another persona has ticked in too. The service is
-- not told a space's type (a tick carries only its spaceId), so two partners seen in one
-- space is what makes it shared; a persona's own personal space only ever holds its own
-- ticks. One probe of persona_ticks_space_idx (migration 0013).
CREATE OR REPLACE FUNCTION personas.shared_space(space text, persona text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT space IS NOT NULL
       AND EXISTS (SELECT 1 FROM personas.persona_ticks o
                    WHERE o.space_id = space AND o.persona_id <> persona)
$$;
