-- name: module_trends
-- Per module: the mean rating and weekly buckets over the `weeks` shown. Weeks start on
-- Monday, UTC. A module is listed when it has ratings in the weeks read (at least the 6
-- before this one, which hold the regression rule's 35 days), so that a module the rule
-- flags is listed even where `weeks` shows none of its ratings; the route drops the others
-- with no rating shown. The rule itself is personas/regression.py.
-- :space is null for every rating, 'shared' for those of shared-space ticks, 'personal'
-- for the rest (a rating whose tick is not recorded counts in neither).
WITH bounds AS (
    SELECT this_week,
           this_week - (:weeks::int - 1) * interval '1 week' AS shown_from
      FROM (SELECT date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC') AS this_week) AS now_week
),
read_from AS (
    SELECT date_trunc('week', :now::timestamptz AT TIME ZONE 'UTC')
           - (greatest(:weeks::int, 7) - 1) * interval '1 week' AS first_week
),
buckets AS (
    -- Unfiltered (:space null), read from the weekly rollup (migration 0011), so a year
    -- costs a few thousand rows whatever the number of ratings. The archetype is the
    -- persona's when it rated.
    SELECT r.module, r.week::timestamp AS week_start, sum(r.total)::bigint AS total, sum(r.n)::bigint AS n
      FROM personas.rating_weekly r, read_from b
     WHERE :space::text IS NULL
       AND r.week >= b.first_week::date
       AND r.week <= (:now::timestamptz AT TIME ZONE 'UTC')::date
       AND (:archetype::text IS NULL OR r.archetype = :archetype::text)
     GROUP BY r.module, r.week
     UNION ALL
    -- Filtered to shared-space ticks or to the others: the rollup has no space, so the
    -- ratings of the weeks read are joined to their ticks (the ticks' key, then one probe
    -- of the space index each). Bounded by the window, not by the table.
    SELECT f.module, date_trunc('week', f.created_at AT TIME ZONE 'UTC') AS week_start,
           sum(f.rating)::bigint AS total, count(*)::bigint AS n
      FROM personas.persona_feedback f
     CROSS JOIN read_from b
      JOIN personas.persona_ticks t ON t.persona_id = f.persona_id AND t.tick_id = f.tick_id
     WHERE :space::text IS NOT NULL
       AND f.created_at >= b.first_week AT TIME ZONE 'UTC'
       AND f.created_at <= :now::timestamptz
       AND (:archetype::text IS NULL OR coalesce(f.archetype, '') = :archetype::text)
       AND personas.shared_space(t.space_id, t.persona_id) = (:space::text = 'shared')
     GROUP BY 1, 2
),
per_module AS (
    SELECT k.module,
           sum(k.total) FILTER (WHERE k.week_start >= b.shown_from) AS shown_total,
           sum(k.n) FILTER (WHERE k.week_start >= b.shown_from) AS shown_n
      FROM buckets k, bounds b
     GROUP BY k.module
),
weekly AS (
    SELECT m.module,
           json_agg(json_build_object(
                        'weekStart', to_char(w.week_start, 'YYYY-MM-DD'),
                        'avgRating', round(k.total::numeric / k.n, 2)::float8,
                        'count', coalesce(k.n, 0))
                    ORDER BY w.week_start) AS weekly
      FROM per_module m
     CROSS JOIN bounds b
     CROSS JOIN LATERAL generate_series(b.shown_from, b.this_week, interval '1 week') AS w(week_start)
      LEFT JOIN buckets k ON k.module = m.module AND k.week_start = w.week_start
     GROUP BY m.module
)
SELECT m.module,
       round(m.shown_total::numeric / m.shown_n, 2)::float8 AS avg_rating,
       coalesce(m.shown_n, 0)::bigint AS count,
       w.weekly
  FROM per_module m
  JOIN weekly w ON w.module = m.module
 ORDER BY m.module;
