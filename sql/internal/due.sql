-- name: due_personas
-- Personas due for a tick, oldest activity first, never-active first of all, in the
-- shape the runners read (personas.due_persona, sql/functions/shapes.sql), judged by the database's clock (the transaction's start, which
-- `server_time` below reads in the same transaction), unless :now is given.
-- The rule itself (cadence, weekdays, run now, live leases) is personas.is_due, shared
-- with claims.sql.
-- Paging: :after_id (with :after_at, null for a never-active persona) is the sort key of
-- the previous page's last row, and the page starts strictly after it; :limit caps the
-- rows (null: all of them).
SELECT d.*
  FROM personas.personas p
 CROSS JOIN LATERAL personas.due_persona(p) d
 WHERE personas.is_due(p.tick_cadence, p.last_active_at, p.run_requested_at, p.lease_until,
                       coalesce(:now::timestamptz, now()))
   AND (:after_id::text IS NULL
        OR (:after_at::timestamptz IS NULL
            AND (p.last_active_at IS NOT NULL OR p.user_id > :after_id::text))
        OR (p.last_active_at, p.user_id) > (:after_at::timestamptz, :after_id::text))
 ORDER BY p.last_active_at NULLS FIRST, p.user_id
 LIMIT :limit::bigint;

-- name: server_time$
-- The clock due_personas judges by when no :now is given: now() is the start of the
-- transaction, so read in the same one it is the very moment the rule used.
SELECT now();
