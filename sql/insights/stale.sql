-- name: stale_personas
-- Personas the runners are not reaching: the last tick is more than twice the expected
-- gap ago (personas.expected_gap, in sql/functions/cadence.sql), or the persona never
-- ran and was created more than a day ago. overdueSeconds counts from the moment its next
-- tick was expected (for one that never ran: from its creation). Columns are named as
-- the JSON answer names them. Only the :limit most overdue come back, each row carrying
-- how many are stale in all.
SELECT user_id AS "userId", email, tick_cadence AS "tickCadence", last_active_at AS "lastActiveAt",
       floor(extract(epoch FROM :now::timestamptz - due_at))::bigint AS "overdueSeconds",
       count(*) OVER () AS "staleTotal"
  FROM (SELECT p.user_id, p.email, p.tick_cadence, p.last_active_at,
               coalesce(p.last_active_at + personas.expected_gap(p.tick_cadence), p.created_at) AS due_at,
               coalesce(p.last_active_at + 2 * personas.expected_gap(p.tick_cadence),
                        p.created_at + interval '1 day') AS stale_at
          FROM personas.personas p
         WHERE :archetype::text IS NULL OR p.archetype = :archetype::text) AS candidates
 WHERE stale_at < :now::timestamptz
 ORDER BY "overdueSeconds" DESC, "userId"
 LIMIT :limit;
