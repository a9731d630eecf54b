-- Back to summing the reservations of the personas themselves: the reader as
-- sql/functions/budget.sql had it before 0025 (the code rolled back to applies its own
-- again), then the total and what keeps it.
CREATE OR REPLACE FUNCTION personas.fleet_reserved_usd()
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(sum(reserved_usd), 0)
      FROM personas.personas
     WHERE reserved_until IS NOT NULL AND reserved_until > now()
$$;
DROP TRIGGER IF EXISTS personas_budget_reserved_insert ON personas.personas;
DROP TRIGGER IF EXISTS personas_budget_reserved_delete ON personas.personas;
DROP TRIGGER IF EXISTS personas_budget_reserved_update ON personas.personas;
DROP TRIGGER IF EXISTS personas_budget_reserved_truncate ON personas.personas;
DROP FUNCTION IF EXISTS personas.track_budget_reserved();
DROP TABLE IF EXISTS personas.budget_reserved;
