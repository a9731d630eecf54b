-- name: due_personas
-- Personas due for a tick, oldest activity first, never-active first of all, in the
-- shape the runners read, each row with the clock they were judged by (the database's,
-- unless :now is given). With nobody due, one row carries the clock and no persona.
-- The rule itself (cadence, weekdays, run now, live leases) is personas.is_due, shared
-- with claims.sql.
WITH clock AS (SELECT coalesce(:now::timestamptz, now()) AS now)
SELECT clock.now AS server_time,
       p.user_id AS "userId",
       p.email,
       p.archetype,
       p.system_prompt AS "systemPrompt",
       p.module_mix AS "moduleMix",
       p.tick_cadence AS "tickCadence",
       p.last_active_at AS "lastActiveAt"
  FROM clock
  LEFT JOIN personas.personas p
         ON personas.is_due(p.tick_cadence, p.last_active_at, p.run_requested_at, p.lease_until, clock.now)
 ORDER BY p.last_active_at NULLS FIRST, p.user_id;
