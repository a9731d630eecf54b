-- name: due_personas^
-- Personas due for a tick, as one JSON array built by PostgreSQL, with the clock
-- they were judged by (the database's, unless :now is given). Oldest activity
-- first, never-active first of all. The rule itself (cadence, weekdays, run now,
-- live leases) is personas.is_due, shared with claims.sql.
WITH clock AS (SELECT coalesce(:now::timestamptz, now()) AS now)
SELECT clock.now AS server_time,
       coalesce(
         (SELECT json_agg(json_build_object(
                    'userId', p.user_id,
                    'email', p.email,
                    'archetype', p.archetype,
                    'systemPrompt', p.system_prompt,
                    'moduleMix', p.module_mix,
                    'tickCadence', p.tick_cadence,
                    'lastActiveAt', p.last_active_at)
                  ORDER BY p.last_active_at NULLS FIRST, p.user_id)
            FROM personas.personas p
           WHERE personas.is_due(p.tick_cadence, p.last_active_at, p.run_requested_at,
                                 p.lease_until, clock.now)
         ),
         '[]'::json)::text AS personas_json
  FROM clock;
