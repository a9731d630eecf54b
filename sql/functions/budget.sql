-- The budget's readers that read tables are PL/pgSQL, not SQL: PostgreSQL plans the body
-- of a SQL function it cannot inline (one with a FROM) again on every call, PL/pgSQL once
-- per session, and a budgeted claim calls them in its turn (BENCHMARKS.md).

-- The fleet budget's measure: today's spend, the cost of the ticks started this UTC day.
-- Read from today's row of the daily runs rollup the ticks keep by trigger (spent_usd,
-- migration 0020: kept when a persona's ticks are deleted), so a claim reads one row, not
-- every tick of the day. Claims decide the budget with it (and say where it stands);
-- insights report it.
CREATE OR REPLACE FUNCTION personas.fleet_spent_today()
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(sum(spent_usd), 0)
              FROM personas.tick_runs_daily
             WHERE day = (now() AT TIME ZONE 'UTC')::date);
END
$$;

-- When today's spend starts again from nothing: the next UTC midnight.
CREATE OR REPLACE FUNCTION personas.budget_resets_at()
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT date_trunc('day', now(), 'UTC') + interval '1 day'
$$;

-- What the claims in flight have reserved: the expected cost of each leased persona whose
-- tick is not reported yet. A reservation counts until its lease's end (heartbeats move
-- it on), so one whose report never comes stops counting by itself. Read as the total of
-- the reservations recorded on personas (16 rows the writes of personas keep, migration
-- 0025) less those that lapsed, which no write has cleared yet: a claim reads those few,
-- not every reservation in flight.
CREATE OR REPLACE FUNCTION personas.fleet_reserved_usd()
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(sum(reserved_usd), 0) FROM personas.budget_reserved)
           - (SELECT coalesce(sum(reserved_usd), 0) FROM personas.personas WHERE reserved_until <= now());
END
$$;

-- The expected cost of one tick: the mean cost of the fleet's 50 newest finished ticks
-- that cost something (a tick that failed at login or ran the scripted driver costs $0,
-- which says nothing about the next one; an abandoned tick's cost is unknown), or
-- :estimate (always > 0, config.py) before there are any.
CREATE OR REPLACE FUNCTION personas.expected_tick_cost(estimate numeric)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(avg(cost_usd), estimate)
              FROM (SELECT cost_usd
                      FROM personas.persona_ticks
                     WHERE finished_at IS NOT NULL AND cost_usd > 0 AND step IS DISTINCT FROM 'abandoned'
                     ORDER BY finished_at DESC
                     LIMIT 50) newest);
END
$$;

-- What the claims taking their turn right now hold: the room each decided on, until its
-- claim commits the reservations that replace it (hold_budget, claims.sql).
CREATE OR REPLACE FUNCTION personas.fleet_held_usd()
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(sum(personas * tick_cost), 0)
              FROM personas.budget_holds
             WHERE held_until > now());
END
$$;

-- How many more ticks the budget covers: while spend, reservations and holds are below it,
-- as many as it takes to reach it, so the day ends at most one tick's cost over. A tick
-- cost that is not above 0 covers nothing: reserving $0 a persona would lift the budget.
CREATE OR REPLACE FUNCTION personas.budget_room(budget numeric, tick_cost numeric)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    used numeric := personas.fleet_spent_today() + personas.fleet_reserved_usd() + personas.fleet_held_usd();
BEGIN
    RETURN CASE WHEN budget - used <= 0 OR NOT coalesce(tick_cost > 0, false) THEN 0
                ELSE least(ceil((budget - used) / tick_cost), 9223372036854775807)::bigint END;
END
$$;

-- A budgeted claim's turn, the only part of it that claims take one after the other: hold
-- the room for up to `wanted` ticks at the expected cost, or none (no row) when the budget
-- has no room. The turn is a transaction-scoped advisory lock, so the caller commits this
-- statement alone and at once (its COMMIT sent with it): the next claim's turn then sees
-- this hold, and every hold or reservation committed before it. Volatile, so the room is
-- read with a snapshot taken after the turn is ours, not at the statement's start. The
-- expected cost is read before the turn: it need not agree with any other claim's.
CREATE OR REPLACE FUNCTION personas.hold_budget(budget numeric, estimate numeric, wanted integer)
RETURNS TABLE (hold_id bigint, tick_cost numeric)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cost numeric := personas.expected_tick_cost(estimate);
    room bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('personas.fleet_budget'));
    SELECT least(wanted, personas.budget_room(budget, cost)) INTO room;
    IF room > 0 THEN
        -- Two minutes: far longer than a claim's own transaction runs after its turn
        -- (each statement is bounded by the statement timeout), short enough that the
        -- hold of a claim that died between the two gives its room back soon.
        RETURN QUERY
        INSERT INTO personas.budget_holds AS h (personas, tick_cost, held_until)
        VALUES (room, cost, now() + interval '2 minutes')
        RETURNING h.hold_id, h.tick_cost;
    END IF;
    DELETE FROM personas.budget_holds WHERE held_until <= now();
END
$$;
