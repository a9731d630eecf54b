-- Claims walk only the personas no lease holds. A lease takes its persona out of this
-- partial index and the end of the lease (feedback, release, or the sweep of expired
-- leases that every claim runs first) puts it back, so a claim reads about `limit`
-- index entries however many personas are leased; before, it stepped over every
-- leased persona at the front of the due order.
-- depends: 0005_due_rule

CREATE INDEX personas_claimable_order_idx
    ON personas.personas (last_active_at NULLS FIRST, user_id)
 WHERE lease_until IS NULL;

-- The leases, live or expired: the sweep reads the expired end of this range.
CREATE INDEX personas_lease_until_idx
    ON personas.personas (lease_until)
 WHERE lease_until IS NOT NULL;

DROP INDEX personas.personas_activity_order_idx;
