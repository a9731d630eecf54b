-- personas_due_idx (tick_cadence, last_active_at) came with the first schema, for a due
-- query that filtered on those columns. The due rule is now personas.is_due(...) over
-- each row, and claims walk personas_claimable_order_idx: the planner picks this index
-- for no query in sql/, while every persona write still pays to keep it.
-- depends: 0008_persona_cascade

DROP INDEX personas.personas_due_idx;
