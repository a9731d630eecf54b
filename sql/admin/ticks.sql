-- name: tick_actions
-- The tick's tool calls in call order: batch by batch, then the index in the batch (rows
-- stored before call_index existed come last in their batch, by key). One range of the
-- tick index (0012). Columns are named as the JSON answer names them.
SELECT id, persona_id AS "personaId", tick_id AS "tickId", tool_name AS "toolName", input_hash AS "inputHash",
       result, error_message AS "errorMessage", latency_ms AS "latencyMs", created_at AS "createdAt"
  FROM personas.persona_actions
 WHERE persona_id = :persona_id AND tick_id = :tick_id
 ORDER BY created_at, call_index NULLS LAST, id;

-- name: tick_ratings
SELECT module, rating, notes
  FROM personas.persona_feedback
 WHERE persona_id = :persona_id AND tick_id = :tick_id
 ORDER BY created_at, module;

-- name: tick_transcript$
-- The stored (compressed) events; no row: none was sent, or prune removed it.
SELECT events FROM personas.persona_transcripts WHERE persona_id = :persona_id AND tick_id = :tick_id;
