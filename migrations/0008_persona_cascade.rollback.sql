ALTER TABLE personas.persona_activity DROP CONSTRAINT persona_activity_persona_fk;
ALTER TABLE personas.persona_feedback DROP CONSTRAINT persona_feedback_persona_fk;
ALTER TABLE personas.persona_actions DROP CONSTRAINT persona_actions_persona_fk;
-- The function as 0004 made it. The orphans the migration removed stay removed.
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
CREATE OR REPLACE FUNCTION personas.clear_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE personas.persona_activity;
    RETURN NULL;
END
$$;
