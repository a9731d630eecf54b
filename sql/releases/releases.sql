-- name: product_releases
-- Every product version ticks ran against, newest first by when it was first seen.
SELECT product_version AS version,
       min(started_at) AS "firstSeen",
       max(coalesce(finished_at, started_at)) AS "lastSeen",
       count(*)::int AS ticks
  FROM personas.persona_ticks
 WHERE product_version IS NOT NULL
 GROUP BY product_version
 ORDER BY min(started_at) DESC, product_version;

-- name: version_ratings
-- The ratings given in ticks of the two versions compared, as the regression rule reads
-- its samples: per module, persona and rating value; `recent` is the :to_version side.
SELECT f.module,
       f.persona_id AS persona,
       t.product_version = :to_version::text AS recent,
       f.rating,
       count(*)::int AS n
  FROM personas.persona_ticks t
  JOIN personas.persona_feedback f ON f.persona_id = t.persona_id AND f.tick_id = t.tick_id
 WHERE t.product_version IN (:from_version::text, :to_version::text)
 GROUP BY 1, 2, 3, 4;

-- name: version_tools
-- Each tool's calls in ticks of the two versions compared: calls, error rate and the
-- exact p95 latency of the timed calls on each side.
SELECT a.tool_name AS tool,
       t.product_version = :to_version::text AS recent,
       count(*)::int AS calls,
       (count(*) FILTER (WHERE a.result = 'error'))::float8 / count(*) AS error_rate,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY a.latency_ms) AS p95
  FROM personas.persona_ticks t
  JOIN personas.persona_actions a ON a.persona_id = t.persona_id AND a.tick_id = t.tick_id
 WHERE t.product_version IN (:from_version::text, :to_version::text)
 GROUP BY 1, 2;
