-- name: rating_samples
-- What the regression rule weighs (personas/regression.py): per module, persona and
-- rating value, how many ratings fell in the last :recent_days days (`recent`) and in the
-- :baseline_days days before them. Rolling windows, not calendar weeks; the same
-- archetype and space filters as the trends (a rating whose tick is not recorded counts
-- only when :space is null). Bounded by the window (persona_feedback_created_idx).
WITH bounds AS (
    SELECT :now::timestamptz - make_interval(days => :recent_days::int) AS recent_from,
           :now::timestamptz - make_interval(days => :recent_days::int + :baseline_days::int) AS baseline_from
)
SELECT f.module,
       f.persona_id AS persona,
       f.created_at > b.recent_from AS recent,
       f.rating,
       count(*)::int AS n
  FROM personas.persona_feedback f
 CROSS JOIN bounds b
 WHERE f.created_at > b.baseline_from
   AND f.created_at <= :now::timestamptz
   AND (:archetype::text IS NULL OR coalesce(f.archetype, '') = :archetype::text)
   AND (:space::text IS NULL
        OR EXISTS (SELECT 1 FROM personas.persona_ticks t
                    WHERE t.persona_id = f.persona_id AND t.tick_id = f.tick_id
                      AND personas.shared_space(t.space_id, t.persona_id) = (:space::text = 'shared')))
 GROUP BY 1, 2, 3, 4;
