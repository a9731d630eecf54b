-- The one statement of "is this persona due?", shared by /due and by claims so the two
-- can never drift apart. A plain SQL expression: the planner inlines it into each query.
-- depends: 0004_activity_rollup

CREATE FUNCTION personas.is_due(
    tick_cadence text, last_active_at timestamptz, run_requested_at timestamptz,
    lease_until timestamptz, at timestamptz
) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- A persona under a live lease is being driven by a claiming runner.
    SELECT (lease_until IS NULL OR lease_until <= at)
       -- An operator's "run now" makes it due whatever its cadence and the weekday.
       AND (run_requested_at IS NOT NULL
            OR CASE tick_cadence
                 WHEN 'hourly' THEN
                   last_active_at IS NULL OR last_active_at <= at - interval '1 hour'
                 WHEN 'daily' THEN
                   last_active_at IS NULL OR last_active_at <= at - interval '24 hours'
                 WHEN 'weekdays' THEN
                   extract(isodow FROM at AT TIME ZONE 'UTC') < 6
                   AND (last_active_at IS NULL OR last_active_at <= at - interval '24 hours')
               END)
$$;
