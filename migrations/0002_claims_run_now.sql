-- Leases, so that many runners can share the fleet without driving a persona twice,
-- and "run now", so that an operator can make one persona due at once.
-- depends: 0001_personas_schema

-- A lease is the pair (runner, until); it is live while lease_until is in the future.
-- Expired leases are left in place and simply ignored: nothing has to sweep them.
ALTER TABLE personas.personas
    ADD COLUMN lease_runner     text NULL,
    ADD COLUMN lease_until      timestamptz NULL,
    ADD COLUMN run_requested_at timestamptz NULL,
    ADD CONSTRAINT personas_lease_pair CHECK ((lease_runner IS NULL) = (lease_until IS NULL));

-- /due and claims hand personas out oldest activity first (never-active first of all);
-- walking this index in that order lets a claim stop after its LIMIT rows instead of
-- sorting every due persona. (0006 replaced it with personas_claimable_order_idx, the
-- same order over the personas no lease holds.)
CREATE INDEX personas_activity_order_idx ON personas.personas (last_active_at NULLS FIRST, user_id);
