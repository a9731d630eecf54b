-- The fleet budget's measure: today's spend, the cost of the ticks started this UTC day.
-- Read from the fleet_spend rollup the ticks keep by trigger (migration 0012), so a claim
-- sums a few rows, not every tick of the day. Claims decide the budget with it (and say
-- where it stands); insights report it.
CREATE OR REPLACE FUNCTION personas.fleet_spent_today()
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(sum(cost_usd), 0)
      FROM personas.fleet_spend
     WHERE day = (now() AT TIME ZONE 'UTC')::date
$$;

-- When today's spend starts again from nothing: the next UTC midnight.
CREATE OR REPLACE FUNCTION personas.budget_resets_at()
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT date_trunc('day', now(), 'UTC') + interval '1 day'
$$;
