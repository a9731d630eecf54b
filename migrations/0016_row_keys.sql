-- Row keys cannot collide: a rating is one per (persona, tick, module) and an action one
-- per (persona, tick, index in its batch, tool), as columns, not as the concatenated id
-- `{tickId}-{module}` / `{tickId}-{i}-{toolName}`, where `fc-a` + `b-c` and `fc-a-b` + `c`
-- were one key and the second rating was dropped. The id column keeps the string clients
-- read; it is no longer unique.
-- depends: 0015_budget_reservations

-- Actions stored before call_index (0012) get it back from their id where the id is the
-- whole key (no hashed tail), so a retry of such a batch still finds its rows.
UPDATE personas.persona_actions
   SET call_index = substring(substr(id, length(tick_id) + 2) from '^([0-9]{1,9})-')::int
 WHERE call_index IS NULL
   AND id = tick_id || '-' || substring(substr(id, length(tick_id) + 2) from '^([0-9]{1,9})-')
            || '-' || tool_name;

ALTER TABLE personas.persona_actions DROP CONSTRAINT persona_actions_pkey;
CREATE UNIQUE INDEX persona_actions_key ON personas.persona_actions (persona_id, tick_id, call_index, tool_name);

ALTER TABLE personas.persona_feedback DROP CONSTRAINT persona_feedback_pkey;
ALTER TABLE personas.persona_feedback ADD CONSTRAINT persona_feedback_pkey PRIMARY KEY (persona_id, tick_id, module);
-- The primary key covers the ratings of one tick.
DROP INDEX personas.persona_feedback_tick_idx;
