-- name: hold_budget^
-- A budgeted claim's turn (personas.hold_budget): the room it may lease, held for it, at
-- the expected cost of a tick (:estimate before any tick has finished); no row: none.
-- Run as a transaction of its own, committed at once (`.committed`), before the claim.
SELECT hold_id, tick_cost FROM personas.hold_budget(:budget_usd::numeric, :estimate::numeric, :limit::int);

-- name: sweep_expired_leases!
-- Ends the leases that have run out, so their personas are back in the claimable index
-- before the claim below walks it (the claim runs next, in the same transaction); prune
-- runs it too. A tick the lapsed lease's runner still has running will never be reported
-- (a live runner heartbeats): it is closed as timeout at step 'abandoned', which counts as
-- the persona's activity, and the lease's budget reservation ends with it.
-- Rows another claimer is sweeping or claiming right now are skipped, not waited for.
WITH lapsed AS (
    SELECT user_id, lease_runner
      FROM personas.personas
     WHERE lease_until <= now()
       FOR UPDATE SKIP LOCKED
), abandoned AS (
    UPDATE personas.persona_ticks t
       SET state = 'timeout',
           step = 'abandoned',
           error = 'The runner''s lease lapsed with no final report of this tick.',
           finished_at = now()
      FROM lapsed l
     WHERE t.persona_id = l.user_id AND t.runner_id = l.lease_runner AND t.state = 'running'
 RETURNING t.persona_id
)
UPDATE personas.personas p
   SET lease_runner = NULL, lease_until = NULL, reserved_usd = NULL, reserved_until = NULL,
       reserved_by = NULL,
       last_active_at = CASE WHEN p.user_id IN (SELECT persona_id FROM abandoned)
                             THEN now() ELSE p.last_active_at END,
       run_requested_at = CASE WHEN p.user_id IN (SELECT persona_id FROM abandoned)
                               THEN NULL ELSE p.run_requested_at END
  FROM lapsed
 WHERE p.user_id = lapsed.user_id;

-- name: close_stale_ticks!
-- Ticks still running with no live lease of their runner's to lapse (ratings end the lease
-- before the final report, and a runner that crashed between the two, or one that ticks
-- from /due without a lease, leaves nothing for the sweep above): closed as timeout at
-- step 'abandoned' once they started over an hour ago, longer than any tick runs. As
-- there, the closing is provisional: the runner's own late report replaces it. Ticks a
-- report is writing right now are skipped, not waited for. Claims and prune run it.
WITH stale AS (
    SELECT t.persona_id, t.tick_id
      FROM personas.persona_ticks t
     WHERE t.state = 'running'
       AND t.started_at < now() - interval '1 hour'
       AND NOT EXISTS (SELECT 1
                         FROM personas.personas p
                        WHERE p.user_id = t.persona_id AND p.lease_runner = t.runner_id
                          AND p.lease_until > now())
       FOR UPDATE OF t SKIP LOCKED
)
UPDATE personas.persona_ticks t
   SET state = 'timeout',
       step = 'abandoned',
       error = 'The tick was still running an hour after it started, with no live lease of its runner.',
       finished_at = now()
  FROM stale s
 WHERE t.persona_id = s.persona_id AND t.tick_id = s.tick_id;

-- name: claim_lease^
-- The clock of a claim, read in its transaction (now() is the transaction's start, the
-- moment claim_personas judges by and leases from): the server time, the lease's end,
-- and with a fleet budget (:budget_usd, null: none) today's spend: the cost of the ticks
-- started this UTC day, from the daily runs rollup the ticks keep.
SELECT now() AS server_time,
       now() + :lease_seconds::int * interval '1 second' AS lease_until,
       personas.budget_resets_at() AS budget_resets_at,
       CASE WHEN :budget_usd::numeric IS NOT NULL
            THEN personas.fleet_spent_today()::float8 END AS budget_spent_usd;

-- name: claim_personas
-- Lease up to :limit due personas to one runner until :lease_until (claim_lease's, read
-- first in the same transaction), in one statement. The due rule (personas.is_due) and
-- the order are those of due.sql; `lease_until IS NULL` (after the sweep, the same as
-- "no live lease") lets the walk use the partial index of claimable personas. FOR
-- UPDATE SKIP LOCKED makes concurrent claimers pass over each other's rows instead of
-- waiting for them, and a row another claimer leased since our snapshot is re-checked
-- against the lease test when we lock it, so it drops out: no persona goes to two
-- runners while a lease is live. A budgeted claim (:budgeted) leases no more than its
-- hold (:hold_id, hold_budget's; null or lapsed: none) covers and reserves the hold's
-- tick cost for each persona it leases, for this runner: only its final report ends the
-- reservation. The hold is deleted by the same statement, so the reservations take its
-- place as this transaction commits. A persona whose previous tick is not reported yet
-- (its runner ended the lease with its ratings) keeps that reservation too, added to
-- this one.
WITH hold AS (
    DELETE FROM personas.budget_holds
     WHERE hold_id = :hold_id
 RETURNING personas, tick_cost, held_until > now() AS live
), room AS (
    SELECT CASE WHEN NOT :budgeted::boolean THEN :limit
                ELSE coalesce((SELECT least(:limit, personas) FROM hold WHERE live), 0) END AS personas,
           (SELECT tick_cost FROM hold WHERE live) AS tick_cost
), due AS (
    SELECT p.user_id
      FROM personas.personas p
     WHERE p.lease_until IS NULL
       AND personas.is_due(p.tick_cadence, p.last_active_at, p.run_requested_at,
                           p.lease_until, now())
     ORDER BY p.last_active_at NULLS FIRST, p.user_id
     LIMIT (SELECT personas FROM room)
       FOR UPDATE OF p SKIP LOCKED
), leased AS (
    UPDATE personas.personas p
       SET lease_runner = :runner_id,
           lease_until = :lease_until::timestamptz,
           reserved_usd = r.tick_cost
                          + CASE WHEN p.reserved_until > now() THEN p.reserved_usd ELSE 0 END,
           reserved_until = CASE WHEN r.tick_cost IS NOT NULL THEN :lease_until::timestamptz END,
           reserved_by = CASE WHEN r.tick_cost IS NOT NULL THEN :runner_id END
      FROM due, room r
     WHERE p.user_id = due.user_id
 RETURNING p AS persona
)
SELECT d.*
  FROM leased l
 CROSS JOIN LATERAL personas.due_persona(l.persona) d
 ORDER BY d."lastActiveAt" NULLS FIRST, d."userId";

-- name: budget_reserved$
-- What the claims in flight have reserved, read after claim_personas in its transaction:
-- the database's own figure, this claim's reservations included.
SELECT personas.fleet_reserved_usd()::float8;

-- name: release_claim^
-- End a runner's own live lease early. The persona row is locked first, so the answer
-- (released; no live lease; held by another runner) describes the very state the
-- write saw. No row at all: no such persona.
WITH target AS (
    SELECT user_id, lease_runner, lease_until,
           coalesce(lease_until > now(), false) AS live
      FROM personas.personas
     WHERE user_id = :persona_id
       FOR UPDATE
), released AS (
    UPDATE personas.personas p
       SET lease_runner = NULL, lease_until = NULL, reserved_usd = NULL, reserved_until = NULL,
           reserved_by = NULL
      FROM target t
     WHERE p.user_id = t.user_id AND t.live AND t.lease_runner = :runner_id
 RETURNING p.user_id
)
SELECT t.live,
       t.lease_until,
       EXISTS (SELECT 1 FROM released) AS released
  FROM target t;

-- name: extend_claim^
-- The heartbeat of a runner still driving the persona: its own live lease runs on to now
-- + :lease_seconds. As in release_claim, the row is locked first, so the answer
-- (extended; no live lease; held by another runner) is the state the write saw: a lease
-- that lapsed, was released or was claimed by another runner is never revived.
WITH target AS (
    SELECT user_id, lease_runner, lease_until,
           coalesce(lease_until > now(), false) AS live
      FROM personas.personas
     WHERE user_id = :persona_id
       FOR NO KEY UPDATE
), extended AS (
    UPDATE personas.personas p
       SET lease_until = now() + :lease_seconds::int * interval '1 second',
           reserved_until = CASE WHEN p.reserved_usd IS NOT NULL
                                 THEN now() + :lease_seconds::int * interval '1 second' END
      FROM target t
     WHERE p.user_id = t.user_id AND t.live AND t.lease_runner = :runner_id
 RETURNING p.lease_until
)
SELECT t.live,
       t.lease_until,
       (SELECT lease_until FROM extended) AS extended_until
  FROM target t;
