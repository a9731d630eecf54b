-- Every row about a persona goes with it. Foreign keys with ON DELETE CASCADE from the
-- actions, the ratings and the activity rollup to personas(user_id): a row can no longer
-- be written for a persona that is gone, and deleting a persona removes its rows with a
-- fresh look at the tables, so a batch that committed while the delete waited for the
-- persona's row lock goes too. Before, the delete's own statements read a snapshot taken
-- before that batch committed, and left it behind with no persona.
-- depends: 0006_claimable_index

-- Writes wait while this runs: the same lock ADD FOREIGN KEY takes, taken first so no
-- orphan can appear between the clean-up below and the constraints. Personas first, the
-- order every writer locks in.
LOCK TABLE personas.personas, personas.persona_actions, personas.persona_feedback,
           personas.persona_activity
    IN SHARE ROW EXCLUSIVE MODE;

-- Removing actions of a persona that is gone leaves its rollup alone: under a cascade the
-- rollup's own rows may already be gone (or are about to go), and recording the removal
-- would write rows for a persona that no longer exists. Otherwise as in 0004.
CREATE OR REPLACE FUNCTION personas.apply_activity(persona_ids text[], created timestamptz[], sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO personas.persona_activity AS d (persona_id, span, total, through_hour)
    SELECT persona_id, span, sign * sum(n)::int,
           personas.hour_vector(array_agg(hour), array_agg(sign * n))
      FROM (SELECT a.persona_id,
                   personas.activity_span(a.created_at) AS span,
                   personas.activity_hour(a.created_at) AS hour,
                   count(*)::int AS n
              FROM unnest(persona_ids, created) AS a(persona_id, created_at)
             WHERE sign > 0
                OR EXISTS (SELECT 1 FROM personas.personas p WHERE p.user_id = a.persona_id)
             GROUP BY 1, 2, 3) per_hour
     GROUP BY persona_id, span
     ORDER BY persona_id, span
        ON CONFLICT (persona_id, span) DO UPDATE
       SET total = d.total + EXCLUDED.total,
           through_hour = personas.add_hours(d.through_hour, EXCLUDED.through_hour);
    DELETE FROM personas.persona_activity d
     USING (SELECT DISTINCT p, personas.activity_span(c) AS span
              FROM unnest(persona_ids, created) AS t(p, c)) touched
     WHERE sign < 0 AND d.persona_id = touched.p AND d.span = touched.span AND d.total = 0;
$$;

-- Emptying the actions empties the rollup with a DELETE now, not a nested TRUNCATE: with
-- the foreign keys, TRUNCATE personas.personas CASCADE empties the rollup in the same
-- statement, and PostgreSQL refuses to truncate a table twice at once.
CREATE OR REPLACE FUNCTION personas.clear_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM personas.persona_activity;
    RETURN NULL;
END
$$;

-- The orphans earlier deletes left behind: nothing can reach them any more.
DELETE FROM personas.persona_actions a
 WHERE NOT EXISTS (SELECT 1 FROM personas.personas p WHERE p.user_id = a.persona_id);
DELETE FROM personas.persona_feedback f
 WHERE NOT EXISTS (SELECT 1 FROM personas.personas p WHERE p.user_id = f.persona_id);
DELETE FROM personas.persona_activity d
 WHERE NOT EXISTS (SELECT 1 FROM personas.personas p WHERE p.user_id = d.persona_id);

-- Each child's primary key leads with persona_id, so a cascade reads one index range.
ALTER TABLE personas.persona_actions
    ADD CONSTRAINT persona_actions_persona_fk FOREIGN KEY (persona_id)
        REFERENCES personas.personas (user_id) ON DELETE CASCADE;
ALTER TABLE personas.persona_feedback
    ADD CONSTRAINT persona_feedback_persona_fk FOREIGN KEY (persona_id)
        REFERENCES personas.personas (user_id) ON DELETE CASCADE;
ALTER TABLE personas.persona_activity
    ADD CONSTRAINT persona_activity_persona_fk FOREIGN KEY (persona_id)
        REFERENCES personas.personas (user_id) ON DELETE CASCADE;
