-- name: insert_fault!
INSERT INTO devauth.faults (path, method, status, delay_ms, remaining)
VALUES (:path, :method, :status, :delay_ms, :times);

-- name: clear_faults!
DELETE FROM devauth.faults;

-- name: consume_fault^
-- Takes one use of the oldest fault matching this call, atomically: however many
-- workers and threads race, a fault with `times` = n fires exactly n times. A path
-- ending in `*` is a prefix; no method matches every method.
UPDATE devauth.faults
   SET remaining = remaining - 1
 WHERE id = (SELECT id
               FROM devauth.faults
              WHERE remaining > 0
                AND (method IS NULL OR method = :method)
                AND CASE WHEN right(path, 1) = '*'
                         THEN starts_with(:path, left(path, -1))
                         ELSE path = :path
                    END
              ORDER BY id
              LIMIT 1
                FOR UPDATE)
   AND remaining > 0
RETURNING status, delay_ms;
