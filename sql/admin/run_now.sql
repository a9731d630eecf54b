-- name: request_run!
-- Make the persona due at once, whatever its cadence and the weekday, until its next
-- tick posts actions or feedback (mark_active / mark_tick_over answer the request). A
-- second request before that tick keeps the first one's time.
UPDATE personas.personas
   SET run_requested_at = coalesce(run_requested_at, now())
 WHERE user_id = :persona_id;
