-- name: tick_exists$
SELECT EXISTS (SELECT 1 FROM personas.persona_ticks WHERE persona_id = :persona_id AND tick_id = :tick_id);

-- name: store_transcript^
-- The tick's transcript, unless it has one: `new` says whether this call wrote it, and
-- `digest` is the stored one's, for the view to tell a retry from a different body.
WITH added AS (
    INSERT INTO personas.persona_transcripts (persona_id, tick_id, digest, events, raw_bytes)
    VALUES (:persona_id, :tick_id, :digest, :events, :raw_bytes)
        ON CONFLICT (persona_id, tick_id) DO NOTHING
    RETURNING digest
)
SELECT true AS new, digest FROM added
 UNION ALL
SELECT false, digest
  FROM personas.persona_transcripts
 WHERE persona_id = :persona_id AND tick_id = :tick_id
   AND NOT EXISTS (SELECT 1 FROM added);
