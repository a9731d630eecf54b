-- What the insights answer needs, kept by the database itself so that no request reads
-- the action audit, the ratings or the ticks row by row:
--   tool_calls_daily: per UTC day and tool, the calls, the errors and a histogram of the
--                     calls' latencies;
--   tick_runs_daily:  per UTC day a tick started, its runs by state, tokens and cost;
--   rating_weekly:    per week (Monday, UTC), module and archetype, the sum and count of
--                     the ratings.
-- As with the activity rollup (0004, 0008), statement-level triggers with transition tables
-- keep each one exact however rows arrive or leave: the API, prune, a persona's cascade, an
-- operator's UPDATE or backfill, a TRUNCATE. Each statement touches its rollup rows once,
-- in key order (no deadlock between two statements), and drops rows that fall to zero.
-- These rollups are fleet-wide (not one persona's rows), so they carry no persona id: a
-- persona's cascade simply subtracts what it removes.
-- depends: 0009_persona_ticks

-- Latency buckets are log-spaced by a factor of 1.2: bucket 0 holds calls of at most 1 ms,
-- bucket k (1..99) those above 1.2^(k-1) and at most 1.2^k ms, the last one everything
-- slower. A percentile read as its bucket's upper bound is never below the true value and
-- at most 20% above it. Calls with no latency go to bucket -1, counted but not timed.
CREATE FUNCTION personas.latency_bucket(latency_ms integer) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN latency_ms IS NULL THEN -1
                WHEN latency_ms <= 1 THEN 0
                ELSE least(99, ceil(ln(latency_ms) / ln(1.2)))::smallint END
$$;

CREATE FUNCTION personas.latency_bucket_bound(bucket smallint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN bucket < 0 THEN NULL ELSE ceil(power(1.2, bucket))::integer END
$$;

-- A latency histogram is an array of calls per bucket: element k + 1 counts bucket k, and it
-- ends at the last bucket with calls (most tools never reach the slow buckets), so '{}'
-- when none of the calls was timed. Two histograms add element by element.
CREATE FUNCTION personas.latency_histogram(buckets smallint[], counts bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH given AS (
        SELECT b, sum(n) AS n FROM unnest(buckets, counts) AS u(b, n) WHERE b >= 0 GROUP BY b
    )
    SELECT coalesce(array_agg(coalesce(g.n, 0)::bigint ORDER BY k), '{}')
      FROM generate_series(0, (SELECT max(b) FROM given WHERE n <> 0)) AS k
      LEFT JOIN given g ON g.b = k
$$;

CREATE FUNCTION personas.latency_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT personas.latency_histogram(array_agg((i - 1)::smallint), array_agg(coalesce(x, 0) + coalesce(y, 0)))
      FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;

-- One row per day and tool, whatever the spread of latencies: a window of days reads as
-- many rows as it has days and tools.
CREATE TABLE personas.tool_calls_daily (
    tool    text     NOT NULL,
    day     date     NOT NULL,
    calls   bigint   NOT NULL,
    errors  bigint   NOT NULL,
    latency bigint[] NOT NULL,
    PRIMARY KEY (day, tool)
);

CREATE TABLE personas.tick_runs_daily (
    day           date           NOT NULL PRIMARY KEY,
    ticks         bigint         NOT NULL,
    ok            bigint         NOT NULL,
    failed        bigint         NOT NULL,
    timeout       bigint         NOT NULL,
    running       bigint         NOT NULL,
    input_tokens  bigint         NOT NULL,
    output_tokens bigint         NOT NULL,
    cost_usd      numeric(20, 6) NOT NULL
);

-- Ratings are counted under the archetype their persona had when it rated: the feedback row
-- carries it (filled on insert), so a persona that changes archetype moves its future
-- ratings, not its past ones, and its ratings leave the right rollup row when it is deleted.
-- Existing ratings take their persona's archetype of today (before any trigger is here).
ALTER TABLE personas.persona_feedback ADD COLUMN archetype text NULL;
UPDATE personas.persona_feedback f SET archetype = p.archetype
  FROM personas.personas p WHERE p.user_id = f.persona_id;

CREATE TABLE personas.rating_weekly (
    week      date   NOT NULL,
    module    text   NOT NULL,
    archetype text   NOT NULL,
    total     bigint NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (week, module, archetype)
);

CREATE FUNCTION personas.stamp_rating_archetype() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.archetype IS NULL THEN
        SELECT p.archetype INTO NEW.archetype FROM personas.personas p WHERE p.user_id = NEW.persona_id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER persona_feedback_archetype
    BEFORE INSERT ON personas.persona_feedback
    FOR EACH ROW EXECUTE FUNCTION personas.stamp_rating_archetype();

-- The rows a statement changed, signed: old rows count -1, new rows +1. A trigger reads
-- only the transition tables its event has, hence a query text per event.
CREATE FUNCTION personas.changed_rows(event text, columns text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE event
           WHEN 'INSERT' THEN format('SELECT 1 AS sign, %s FROM new_rows', columns)
           WHEN 'DELETE' THEN format('SELECT -1 AS sign, %s FROM old_rows', columns)
           ELSE format('SELECT -1 AS sign, %1$s FROM old_rows UNION ALL SELECT 1, %1$s FROM new_rows', columns)
           END
$$;

-- The three trigger functions: one upsert per statement, then the rows it left at zero go.
CREATE FUNCTION personas.track_tool_calls() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zero_days date[];
    zero_tools text[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%s),
    per_bucket AS (
        SELECT tool_name AS tool, (created_at AT TIME ZONE 'UTC')::date AS day,
               personas.latency_bucket(latency_ms) AS bucket,
               sum(sign) AS calls, coalesce(sum(sign) FILTER (WHERE result = 'error'), 0) AS errors
          FROM changed
         GROUP BY 1, 2, 3
    ),
    delta AS (
        SELECT tool, day, sum(calls)::bigint AS calls, sum(errors)::bigint AS errors,
               personas.latency_histogram(array_agg(bucket), array_agg(calls)::bigint[]) AS latency
          FROM per_bucket
         GROUP BY tool, day
    ),
    written AS (
        INSERT INTO personas.tool_calls_daily AS d (tool, day, calls, errors, latency)
        SELECT tool, day, calls, errors, latency FROM delta
         WHERE calls <> 0 OR errors <> 0 OR latency <> '{}'
         ORDER BY day, tool
            ON CONFLICT (day, tool) DO UPDATE
           SET calls = d.calls + EXCLUDED.calls, errors = d.errors + EXCLUDED.errors,
               latency = personas.latency_add(d.latency, EXCLUDED.latency)
        RETURNING d.day, d.tool, d.calls
    )
    SELECT array_agg(day), array_agg(tool)
      FROM written WHERE calls = 0
    $q$, personas.changed_rows(TG_OP, 'tool_name, created_at, result, latency_ms'))
    INTO zero_days, zero_tools;
    -- A second statement: the upsert's own statement cannot see the rows it wrote.
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tool_calls_daily d
         USING unnest(zero_days, zero_tools) AS z(day, tool)
         WHERE d.day = z.day AND d.tool = z.tool AND d.calls = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION personas.track_tick_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zero_days date[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%s),
    delta AS (
        SELECT (started_at AT TIME ZONE 'UTC')::date AS day,
               sum(sign) AS ticks,
               coalesce(sum(sign) FILTER (WHERE state = 'ok'), 0) AS ok,
               coalesce(sum(sign) FILTER (WHERE state = 'failed'), 0) AS failed,
               coalesce(sum(sign) FILTER (WHERE state = 'timeout'), 0) AS timeout,
               coalesce(sum(sign) FILTER (WHERE state = 'running'), 0) AS running,
               sum(sign * input_tokens) AS input_tokens,
               sum(sign * output_tokens) AS output_tokens,
               sum(sign * cost_usd) AS cost_usd
          FROM changed
         GROUP BY 1
    ),
    written AS (
        INSERT INTO personas.tick_runs_daily AS d
               (day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd)
        SELECT * FROM delta
         WHERE (ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd)
               IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0)
         ORDER BY day
            ON CONFLICT (day) DO UPDATE
           SET ticks = d.ticks + EXCLUDED.ticks,
               ok = d.ok + EXCLUDED.ok,
               failed = d.failed + EXCLUDED.failed,
               timeout = d.timeout + EXCLUDED.timeout,
               running = d.running + EXCLUDED.running,
               input_tokens = d.input_tokens + EXCLUDED.input_tokens,
               output_tokens = d.output_tokens + EXCLUDED.output_tokens,
               cost_usd = d.cost_usd + EXCLUDED.cost_usd
        RETURNING d.day, d.ticks
    )
    SELECT array_agg(day) FROM written WHERE ticks = 0
    $q$, personas.changed_rows(TG_OP, 'started_at, state, input_tokens, output_tokens, cost_usd'))
    INTO zero_days;
    IF zero_days IS NOT NULL THEN
        DELETE FROM personas.tick_runs_daily WHERE day = ANY (zero_days) AND ticks = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION personas.track_ratings() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    zero_weeks date[];
    zero_modules text[];
    zero_archetypes text[];
BEGIN
    EXECUTE format($q$
    WITH changed AS (%s),
    delta AS (
        SELECT date_trunc('week', created_at AT TIME ZONE 'UTC')::date AS week, module,
               coalesce(archetype, '') AS archetype, sum(sign * rating) AS total, sum(sign) AS n
          FROM changed
         GROUP BY 1, 2, 3
    ),
    written AS (
        INSERT INTO personas.rating_weekly AS d (week, module, archetype, total, n)
        SELECT week, module, archetype, total, n FROM delta
         WHERE n <> 0 OR total <> 0
         ORDER BY week, module, archetype
            ON CONFLICT (week, module, archetype) DO UPDATE
           SET total = d.total + EXCLUDED.total, n = d.n + EXCLUDED.n
        RETURNING d.week, d.module, d.archetype, d.n
    )
    SELECT array_agg(week), array_agg(module), array_agg(archetype)
      FROM written WHERE n = 0
    $q$, personas.changed_rows(TG_OP, 'created_at, module, archetype, rating'))
    INTO zero_weeks, zero_modules, zero_archetypes;
    IF zero_weeks IS NOT NULL THEN
        DELETE FROM personas.rating_weekly d
         USING unnest(zero_weeks, zero_modules, zero_archetypes) AS z(week, module, archetype)
         WHERE d.week = z.week AND d.module = z.module AND d.archetype = z.archetype AND d.n = 0;
    END IF;
    RETURN NULL;
END
$$;

-- A TRUNCATE of a source (or a TRUNCATE personas CASCADE) empties its rollup. A DELETE,
-- not a nested TRUNCATE: see 0008.
CREATE FUNCTION personas.clear_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM personas.%I', TG_ARGV[0]);
    RETURN NULL;
END
$$;

CREATE TRIGGER persona_actions_tools_insert AFTER INSERT ON personas.persona_actions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_tool_calls();
CREATE TRIGGER persona_actions_tools_delete AFTER DELETE ON personas.persona_actions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_tool_calls();
CREATE TRIGGER persona_actions_tools_update AFTER UPDATE ON personas.persona_actions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_tool_calls();
CREATE TRIGGER persona_actions_tools_truncate AFTER TRUNCATE ON personas.persona_actions
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_rollup('tool_calls_daily');

CREATE TRIGGER persona_ticks_runs_insert AFTER INSERT ON personas.persona_ticks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_tick_runs();
CREATE TRIGGER persona_ticks_runs_delete AFTER DELETE ON personas.persona_ticks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_tick_runs();
CREATE TRIGGER persona_ticks_runs_update AFTER UPDATE ON personas.persona_ticks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_tick_runs();
CREATE TRIGGER persona_ticks_runs_truncate AFTER TRUNCATE ON personas.persona_ticks
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_rollup('tick_runs_daily');

CREATE TRIGGER persona_feedback_ratings_insert AFTER INSERT ON personas.persona_feedback
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_ratings();
CREATE TRIGGER persona_feedback_ratings_delete AFTER DELETE ON personas.persona_feedback
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_ratings();
CREATE TRIGGER persona_feedback_ratings_update AFTER UPDATE ON personas.persona_feedback
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION personas.track_ratings();
CREATE TRIGGER persona_feedback_ratings_truncate AFTER TRUNCATE ON personas.persona_feedback
    FOR EACH STATEMENT EXECUTE FUNCTION personas.clear_rollup('rating_weekly');

-- The failing personas are found from their recent failures: a small slice of the ticks.
CREATE INDEX persona_ticks_failures_idx ON personas.persona_ticks (started_at DESC) INCLUDE (persona_id)
 WHERE state IN ('failed', 'timeout');

-- Whatever is already in the tables.
INSERT INTO personas.rating_weekly (week, module, archetype, total, n)
SELECT date_trunc('week', created_at AT TIME ZONE 'UTC')::date, module, coalesce(archetype, ''),
       sum(rating), count(*)
  FROM personas.persona_feedback
 GROUP BY 1, 2, 3;

INSERT INTO personas.tool_calls_daily (tool, day, calls, errors, latency)
SELECT tool, day, sum(calls), sum(errors), personas.latency_histogram(array_agg(bucket), array_agg(calls))
  FROM (SELECT tool_name AS tool, (created_at AT TIME ZONE 'UTC')::date AS day,
               personas.latency_bucket(latency_ms) AS bucket,
               count(*) AS calls, count(*) FILTER (WHERE result = 'error') AS errors
          FROM personas.persona_actions
         GROUP BY 1, 2, 3) per_bucket
 GROUP BY tool, day;

INSERT INTO personas.tick_runs_daily
       (day, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd)
SELECT (started_at AT TIME ZONE 'UTC')::date, count(*),
       count(*) FILTER (WHERE state = 'ok'), count(*) FILTER (WHERE state = 'failed'),
       count(*) FILTER (WHERE state = 'timeout'), count(*) FILTER (WHERE state = 'running'),
       sum(input_tokens), sum(output_tokens), sum(cost_usd)
  FROM personas.persona_ticks
 GROUP BY 1;
