-- name: stale_personas
-- Personas the runners are not reaching: the last tick is more than twice the expected
-- gap ago, or the persona never ran and was created more than a day ago. The expected
-- gap is the cadence (hourly 1 h, daily 24 h); a weekdays persona legitimately goes from
-- Friday to Monday without a tick, so its gap is taken as 48 h (stale after 4 days).
-- overdueSeconds counts from the moment its next tick was expected (for one that never
-- ran: from its creation). Columns are named as the JSON answer names them. Only the
-- :limit most overdue come back, each row carrying how many are stale in all.
SELECT user_id AS "userId", email, tick_cadence AS "tickCadence", last_active_at AS "lastActiveAt",
       floor(extract(epoch FROM :now::timestamptz - due_at))::bigint AS "overdueSeconds",
       count(*) OVER () AS "staleTotal"
  FROM (SELECT p.user_id, p.email, p.tick_cadence, p.last_active_at,
               coalesce(p.last_active_at + gap.expected, p.created_at) AS due_at,
               coalesce(p.last_active_at + 2 * gap.expected, p.created_at + interval '1 day') AS stale_at
          FROM personas.personas p
         CROSS JOIN LATERAL (
               SELECT CASE p.tick_cadence WHEN 'hourly' THEN interval '1 hour'
                                          WHEN 'daily' THEN interval '24 hours'
                                          ELSE interval '48 hours' END AS expected) AS gap
         WHERE :archetype::text IS NULL OR p.archetype = :archetype::text) AS candidates
 WHERE stale_at < :now::timestamptz
 ORDER BY "overdueSeconds" DESC, "userId"
 LIMIT :limit;
