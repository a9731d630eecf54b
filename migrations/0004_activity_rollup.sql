-- A per-persona count of actions in 8-day spans (with each span's running hourly counts),
-- kept by the database itself, so the admin list's 7-day activity reads at most two rows
-- per persona instead of every action of the week: a 7-day window always lies within
-- two consecutive spans. Statement-level triggers with transition tables keep it right
-- however rows arrive or leave: the API, prune, an operator's backfill, an UPDATE that
-- moves rows in time, a TRUNCATE.
-- depends: 0003_insights

-- Spans are numbered from 2000-01-01 (UTC): span n covers days 8n to 8n + 7.
CREATE FUNCTION personas.activity_span(at timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((at AT TIME ZONE 'UTC')::date - date '2000-01-01') / 8
$$;

-- The hour of its span a moment falls in: 0 to 191.
CREATE FUNCTION personas.activity_hour(at timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((at AT TIME ZONE 'UTC')::date - date '2000-01-01') % 8 * 24
           + extract(hour FROM at AT TIME ZONE 'UTC')::integer
$$;

CREATE TABLE personas.persona_activity (
    persona_id   text    NOT NULL,
    span         integer NOT NULL,
    total        integer NOT NULL,
    -- through_hour[h + 1]: the span's actions up to the end of its hour h, so the actions
    -- after hour h are total - through_hour[h + 1], with no array to walk.
    through_hour integer[] NOT NULL CHECK (cardinality(through_hour) = 192),
    PRIMARY KEY (persona_id, span)
);

-- The 7-day activity reads the last two spans of every persona: one range of this index,
-- however much history the table keeps.
CREATE INDEX persona_activity_span_idx ON personas.persona_activity (span);

-- Element-wise sum of two vectors (running counts add up element by element).
CREATE FUNCTION personas.add_hours(a integer[], b integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(x + y ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;

-- The 192 running counts of a span from its (hour, count) pairs.
CREATE FUNCTION personas.hour_vector(hours integer[], counts integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(running ORDER BY h)
      FROM (SELECT g.h, (sum(coalesce(c.n, 0)) OVER (ORDER BY g.h))::int AS running
              FROM generate_series(0, 191) AS g(h)
              LEFT JOIN (SELECT h, sum(n)::int AS n FROM unnest(hours, counts) AS u(h, n) GROUP BY h) c
                     ON c.h = g.h) r
$$;

-- Adds (sign 1) or removes (sign -1) a set of actions from the rollup. Called by the
-- trigger function below with its transition table's rows, grouped first so that each
-- (persona, span) is touched once, in key order (no deadlock between two statements).
CREATE FUNCTION personas.apply_activity(persona_ids text[], created timestamptz[], sign integer)
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

CREATE FUNCTION personas.track_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM personas.apply_activity(
            (SELECT array_agg(persona_id) FROM old_rows),
            (SELECT array_agg(created_at) FROM old_rows), -1)
          WHERE EXISTS (SELECT 1 FROM old_rows);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM personas.apply_activity(
            (SELECT array_agg(persona_id) FROM new_rows),
            (SELECT array_agg(created_at) FROM new_rows), 1)
          WHERE EXISTS (SELECT 1 FROM new_rows);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION personas.clear_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE personas.persona_activity;
    RETURN NULL;
END
$$;

CREATE TRIGGER persona_actions_activity_insert
    AFTER INSERT ON personas.persona_actions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_activity();

CREATE TRIGGER persona_actions_activity_delete
    AFTER DELETE ON personas.persona_actions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_activity();

CREATE TRIGGER persona_actions_activity_update
    AFTER UPDATE ON personas.persona_actions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_activity();

CREATE TRIGGER persona_actions_activity_truncate
    AFTER TRUNCATE ON personas.persona_actions
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_activity();

-- Whatever is already in the table.
DO $$
BEGIN
    PERFORM personas.apply_activity(array_agg(persona_id), array_agg(created_at), 1)
       FROM personas.persona_actions
     HAVING count(*) > 0;
END
$$;
