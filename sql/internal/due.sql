-- name: due_personas^
-- Personas due for a tick, as one JSON array built by PostgreSQL, with the clock
-- they were judged by (the database's, unless :now is given). Oldest activity
-- first, never-active first of all. A persona under a live lease is being driven
-- by a claiming runner, so it is left out; a "run now" request makes a persona due
-- whatever its cadence and the weekday. Keep these rules in step with claims.sql.
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
           WHERE (p.lease_until IS NULL OR p.lease_until <= clock.now)
             AND (p.run_requested_at IS NOT NULL
                  OR CASE p.tick_cadence
                       WHEN 'hourly' THEN
                         p.last_active_at IS NULL OR p.last_active_at <= clock.now - interval '1 hour'
                       WHEN 'daily' THEN
                         p.last_active_at IS NULL OR p.last_active_at <= clock.now - interval '24 hours'
                       WHEN 'weekdays' THEN
                         extract(isodow FROM clock.now AT TIME ZONE 'UTC') < 6
                         AND (p.last_active_at IS NULL OR p.last_active_at <= clock.now - interval '24 hours')
                     END)
         ),
         '[]'::json)::text AS personas_json
  FROM clock;
