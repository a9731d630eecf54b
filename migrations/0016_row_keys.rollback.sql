-- The keys before 0016 were the id strings, which 0016's keys let repeat (`fc-a` + `b-c`
-- and `fc-a-b` + `c` are two rows, both `fc-a-b-c`). Rolling back keeps every row: the
-- first of each repeated id keeps it, the others get `~2`, `~3`, ... appended, so the old
-- primary keys hold again.
UPDATE personas.persona_feedback f
   SET id = f.id || '~' || r.n
  FROM (SELECT persona_id, tick_id, module,
               row_number() OVER (PARTITION BY persona_id, id ORDER BY tick_id, module) AS n
          FROM personas.persona_feedback) r
 WHERE f.persona_id = r.persona_id AND f.tick_id = r.tick_id AND f.module = r.module AND r.n > 1;
ALTER TABLE personas.persona_feedback DROP CONSTRAINT persona_feedback_pkey;
ALTER TABLE personas.persona_feedback ADD CONSTRAINT persona_feedback_pkey PRIMARY KEY (persona_id, id);
-- 0016 dropped 0012's index of a tick's ratings (its primary key covered them).
CREATE INDEX persona_feedback_tick_idx ON personas.persona_feedback (persona_id, tick_id);

UPDATE personas.persona_actions a
   SET id = a.id || '~' || r.n
  FROM (SELECT persona_id, tick_id, call_index, tool_name,
               row_number() OVER (PARTITION BY persona_id, id ORDER BY tick_id, call_index, tool_name) AS n
          FROM personas.persona_actions) r
 WHERE a.persona_id = r.persona_id AND a.tick_id = r.tick_id AND a.call_index = r.call_index
   AND a.tool_name = r.tool_name AND r.n > 1;
DROP INDEX personas.persona_actions_key;
ALTER TABLE personas.persona_actions ADD CONSTRAINT persona_actions_pkey PRIMARY KEY (persona_id, id);
