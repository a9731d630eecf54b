-- A budgeted claim reads what the claims in flight have reserved from a running total
-- instead of summing every persona holding a reservation, twice per claim (its room, under
-- the budget's turn, then its answer's reservedUsd). The total of the reservations recorded
-- on personas (reserved_usd wherever reserved_until is set) is kept in 16 slots, each
-- writer adding to the one of its backend (pid modulo 16), so concurrent claims rarely
-- wait for each other's slot; a reader sums the 16 rows. Lapsed reservations stay on their
-- personas until a write clears them, so the budget's reader takes those off the total
-- (sql/functions/budget.sql; personas_reserved_idx of 0015 finds them).
-- depends: 0024_runs_by_driver

CREATE TABLE personas.budget_reserved (
    slot         smallint PRIMARY KEY CHECK (slot BETWEEN 0 AND 15),
    reserved_usd numeric  NOT NULL DEFAULT 0
);

-- One statement's change to the total: the reservations on the rows it wrote less those on
-- the rows it replaced or removed (reserved_usd is null exactly when reserved_until is).
-- Static statements, planned once per session: this runs after every write of personas,
-- and most (activity, leases, heartbeats) leave the total as it was and write nothing.
CREATE FUNCTION personas.track_budget_reserved() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta numeric;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE personas.budget_reserved SET reserved_usd = 0 WHERE reserved_usd <> 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT sum(reserved_usd) INTO delta FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -sum(reserved_usd) INTO delta FROM old_rows;
    ELSE
        SELECT coalesce((SELECT sum(reserved_usd) FROM new_rows), 0)
               - coalesce((SELECT sum(reserved_usd) FROM old_rows), 0)
          INTO delta;
    END IF;
    IF delta <> 0 THEN
        UPDATE personas.budget_reserved
           SET reserved_usd = reserved_usd + delta
         WHERE slot = pg_backend_pid() % 16;
    END IF;
    RETURN NULL;
END
$$;

-- Every UPDATE, not only of the reservation columns: a trigger with transition tables
-- cannot name columns.
CREATE TRIGGER personas_budget_reserved_insert AFTER INSERT ON personas.personas
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_budget_reserved();
CREATE TRIGGER personas_budget_reserved_delete AFTER DELETE ON personas.personas
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_budget_reserved();
CREATE TRIGGER personas_budget_reserved_update AFTER UPDATE ON personas.personas
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_budget_reserved();
CREATE TRIGGER personas_budget_reserved_truncate AFTER TRUNCATE ON personas.personas
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_budget_reserved();

-- The reservations recorded so far, in slot 0. The triggers above already hold their lock
-- on personas (it blocks writes until this commits), so none is missed or counted twice.
INSERT INTO personas.budget_reserved (slot, reserved_usd)
SELECT slot, CASE WHEN slot = 0 THEN (SELECT coalesce(sum(reserved_usd), 0) FROM personas.personas) ELSE 0 END
  FROM generate_series(0, 15) slot;
