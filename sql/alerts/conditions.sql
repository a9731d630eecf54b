-- name: try_lock_conditions$
-- One `alerts` process at a time looks for conditions (the others skip their turn), so
-- two never send the same condition's start twice. Transaction-scoped.
SELECT pg_try_advisory_xact_lock(hashtext('personas.alert_conditions'));

-- name: open_conditions
-- The conditions of :event open now, with when each was last sent.
SELECT key, sent_at FROM personas.alert_conditions WHERE event = :event;

-- name: mark_sent!
-- A condition sent now: opened, or its repeat sent (its start stays).
INSERT INTO personas.alert_conditions (event, key) VALUES (:event, :key)
ON CONFLICT (event, key) DO UPDATE SET sent_at = now();

-- name: clear_conditions!
-- The conditions of :event no longer found: they cleared, and are sent again if they return.
DELETE FROM personas.alert_conditions WHERE event = :event AND NOT (key = ANY (:keys::text[]));

-- name: failing_tools
-- Tools whose calls in the last :minutes minutes errored at least :rate of the time, with
-- at least :min_calls calls (actions count when their batch reached us).
SELECT tool_name AS tool, count(*) AS calls,
       round((count(*) FILTER (WHERE result = 'error'))::numeric / count(*), 4)::float8 AS "errorRate"
  FROM personas.persona_actions
 WHERE created_at >= now() - make_interval(mins => :minutes::int)
 GROUP BY tool_name
HAVING count(*) >= :min_calls::int
   AND (count(*) FILTER (WHERE result = 'error'))::numeric / count(*) >= :rate::numeric
 ORDER BY tool_name;
