DROP FUNCTION IF EXISTS personas.hold_budget(numeric, numeric, integer);
DROP FUNCTION IF EXISTS personas.fleet_held_usd();
DROP TABLE IF EXISTS personas.budget_holds;
