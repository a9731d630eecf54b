-- The third hardening round's review:
--   * a budget reservation names the runner it was made for (reserved_by): only that
--     runner's final report ends it, so a runner that lost its lease cannot clear the
--     reservation of the runner now driving the persona;
--   * a delete claims its persona for a while (deleting_until) instead of holding a row
--     lock and a pooled connection while mana-auth answers;
--   * the expected tick cost reads the newest finished ticks that cost something (a free
--     tick says nothing about what the next one costs);
--   * running ticks are found without scanning every tick, for the sweep of ticks that
--     have no live lease left to lapse.
-- depends: 0018_alerts

ALTER TABLE personas.personas
    ADD COLUMN reserved_by text NULL,
    ADD COLUMN deleting_until timestamptz NULL;

DROP INDEX personas.persona_ticks_finished_idx;
CREATE INDEX persona_ticks_costed_idx ON personas.persona_ticks (finished_at DESC) INCLUDE (cost_usd)
 WHERE finished_at IS NOT NULL AND cost_usd > 0 AND step IS DISTINCT FROM 'abandoned';

CREATE INDEX persona_ticks_running_idx ON personas.persona_ticks (started_at)
 WHERE state = 'running';
