-- Budgeted claims take their turn for one short statement, not for the whole claim. A
-- claim first holds the room it will use (one row here, committed on its own), then
-- leases and reserves per persona in its own transaction, which deletes the hold as it
-- commits: every other claim sees either the hold or the reservations that replace it.
-- A hold whose claim never ran (its worker died between the two) stops counting at
-- held_until.
-- depends: 0021_tick_product

CREATE TABLE personas.budget_holds (
    hold_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    personas   integer     NOT NULL CHECK (personas > 0),
    tick_cost  numeric     NOT NULL CHECK (tick_cost > 0),
    held_until timestamptz NOT NULL
);
