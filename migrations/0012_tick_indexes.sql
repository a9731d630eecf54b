-- What a tick's record and the story so far read: the actions and ratings of one tick,
-- and the order the runner made its tool calls in.
-- depends: 0009_persona_ticks

-- The index of a call in its posted batch. The row key `{tickId}-{i}-{toolName}` holds it
-- too, but not always readably: an over-long key keeps only its head before the hash, and
-- a long tick id pushes `i` past the cut. Null for rows stored before this column.
ALTER TABLE personas.persona_actions ADD COLUMN call_index integer NULL CHECK (call_index >= 0);

-- The actions of one tick in call order (batch by batch, then index in the batch): the
-- tick's tool counts and the story's tool list read one short range of it.
CREATE INDEX persona_actions_tick_idx
    ON personas.persona_actions (persona_id, tick_id, created_at, call_index)
    INCLUDE (tool_name, result);

-- The ratings of one tick.
CREATE INDEX persona_feedback_tick_idx ON personas.persona_feedback (persona_id, tick_id);
