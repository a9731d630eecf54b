-- name: friction_notes
-- The newest low ratings (1 or 2) that carry a note, within the weeks shown: the raw
-- material for a bug report; the persona and the tick name the tick view it came from.
-- Columns are named as the JSON answer names them.
SELECT f.module, f.rating, f.notes, p.email, p.user_id AS "userId", f.tick_id AS "tickId",
       f.created_at AS "createdAt"
  FROM personas.persona_feedback f
  JOIN personas.personas p ON p.user_id = f.persona_id
 WHERE f.rating <= 2
   AND btrim(f.notes) <> ''
   AND f.created_at >= (date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
                        - (:weeks::int - 1) * interval '1 week') AT TIME ZONE 'UTC'
   AND (:archetype::text IS NULL OR p.archetype = :archetype::text)
 ORDER BY f.created_at DESC, f.persona_id, f.id
 LIMIT :limit;
