CREATE INDEX personas_activity_order_idx ON personas.personas (last_active_at NULLS FIRST, user_id);
DROP INDEX personas.personas_lease_until_idx;
DROP INDEX personas.personas_claimable_order_idx;
