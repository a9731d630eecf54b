-- The cadence rules: how often a persona ticks, when it is due, when it counts as stale.
-- This file is the one home of these rules. `python -m personas.migrate` applies every
-- file of sql/functions/ after the migrations, each time it runs, so a change to a rule
-- is a diff to this file alone. CREATE OR REPLACE cannot change a function's arguments or
-- result type: such a change needs a migration that drops the old function first.

-- The shortest gap between two ticks of a cadence.
CREATE OR REPLACE FUNCTION personas.cadence_interval(tick_cadence text)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE tick_cadence
             WHEN 'hourly' THEN interval '1 hour'
             WHEN 'daily' THEN interval '24 hours'
             WHEN 'weekdays' THEN interval '24 hours'
           END
$$;

-- The longest gap a healthy runner leaves: a weekdays persona goes from Friday to
-- Monday without a tick, so its gap is taken as two days. Twice this gap without a
-- tick, and the persona is stale (insights).
CREATE OR REPLACE FUNCTION personas.expected_gap(tick_cadence text)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT personas.cadence_interval(tick_cadence)
           * CASE tick_cadence WHEN 'weekdays' THEN 2 ELSE 1 END
$$;

-- "Is this persona due at :at?", shared by /due and by claims so the two can never drift
-- apart. A plain SQL expression: the planner inlines it into each query.
CREATE OR REPLACE FUNCTION personas.is_due(
    tick_cadence text, last_active_at timestamptz, run_requested_at timestamptz,
    lease_until timestamptz, at timestamptz
) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- A persona under a live lease is being driven by a claiming runner.
    SELECT (lease_until IS NULL OR lease_until <= at)
       -- An operator's "run now" makes it due whatever its cadence and the weekday.
       AND (run_requested_at IS NOT NULL
            OR ((tick_cadence <> 'weekdays' OR extract(isodow FROM at AT TIME ZONE 'UTC') < 6)
                AND (last_active_at IS NULL
                     OR last_active_at <= at - personas.cadence_interval(tick_cadence))))
$$;
