-- A space's ticks, by persona, newest first: whether another persona ticked in a tick's
-- space (the shared-space rule, sql/functions/spaces.sql) is one probe of it, and a pair's
-- view reads each partner's newest ticks in their space from one range of it.
-- depends: 0012_tick_indexes

CREATE INDEX persona_ticks_space_idx
    ON personas.persona_ticks (space_id, persona_id, started_at DESC)
 WHERE space_id IS NOT NULL;
