-- Every action has its index in its batch, so the unique key (persona, tick, index, tool)
-- covers every row: a NULL index is distinct from every other and would let a repeated
-- row in. 0016 gave the index back to the actions whose id held it; the rest (stored
-- before 0012, their ids cut and hashed) get the next indexes after their tick's highest,
-- in the order they were stored. Those batches are long finished: no retry of theirs
-- comes to be matched. Setting NOT NULL scans the table once under the ALTER's lock.
-- depends: 0018_review_fixes

UPDATE personas.persona_actions a
   SET call_index = r.next_index
  FROM (SELECT persona_id, id,
               coalesce((SELECT max(k.call_index)
                           FROM personas.persona_actions k
                          WHERE k.persona_id = u.persona_id AND k.tick_id = u.tick_id), -1)
               + row_number() OVER (PARTITION BY persona_id, tick_id ORDER BY created_at, id) AS next_index
          FROM personas.persona_actions u
         WHERE u.call_index IS NULL) r
 WHERE a.persona_id = r.persona_id AND a.id = r.id AND a.call_index IS NULL;

ALTER TABLE personas.persona_actions ALTER COLUMN call_index SET NOT NULL;
