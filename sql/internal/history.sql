-- name: persona_history^
-- The story so far: the persona's :ticks newest finished ticks (by start), each with its
-- tool calls in call order (at most :tools) and its ratings (at most :ratings), as one
-- JSON value. No row: no such persona. Bounded whatever the history: the ticks are a
-- LIMIT walk of the persona's recent-ticks index, and each tick's calls and ratings one
-- short range of the tick indexes (0012), each with its own LIMIT.
-- Call order is batch by batch (created_at), then the index in the batch; rows stored
-- before call_index existed read the index from their key `{tickId}-{i}-{tool}` when
-- the key still holds it, and come last in their batch when it does not.
SELECT coalesce(
         (SELECT json_agg(json_build_object(
                    'tickId', t.tick_id,
                    'state', t.state,
                    'startedAt', t.started_at,
                    'spaceId', t.space_id,
                    'tools', coalesce(
                        (SELECT json_agg(json_build_object('toolName', a.tool_name, 'result', a.result)
                                         ORDER BY a.created_at, a.call_order NULLS LAST, a.id)
                           FROM (SELECT a.tool_name, a.result, a.created_at, a.id,
                                        coalesce(a.call_index,
                                                 CASE WHEN starts_with(a.id, a.tick_id || '-')
                                                      THEN substring(substr(a.id, length(a.tick_id) + 2)
                                                                     from '^([0-9]{1,9})-')::int
                                                 END) AS call_order
                                   FROM personas.persona_actions a
                                  WHERE a.persona_id = p.user_id AND a.tick_id = t.tick_id
                                  ORDER BY a.created_at, call_order NULLS LAST, a.id
                                  LIMIT :tools) a),
                        '[]'::json),
                    'ratings', coalesce(
                        (SELECT json_agg(json_build_object('module', f.module, 'rating', f.rating,
                                                           'notes', f.notes) ORDER BY f.module)
                           FROM (SELECT f.module, f.rating, f.notes
                                   FROM personas.persona_feedback f
                                  WHERE f.persona_id = p.user_id AND f.tick_id = t.tick_id
                                  ORDER BY f.module
                                  LIMIT :ratings) f),
                        '[]'::json))
                  ORDER BY t.started_at DESC, t.tick_id DESC)
            FROM (SELECT tick_id, state, started_at, space_id
                    FROM personas.persona_ticks
                   WHERE persona_id = p.user_id AND state <> 'running'
                   ORDER BY started_at DESC, tick_id DESC
                   LIMIT :ticks) t),
         '[]'::json) AS ticks
  FROM personas.personas p
 WHERE p.user_id = :persona_id;
