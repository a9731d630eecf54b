-- name: upsert_persona$
-- Create the persona or refresh its settings (:settings, PersonaSettings as JSON); true
-- when it was created. The rule and the columns: personas.upsert_persona.
SELECT personas.upsert_persona(:user_id, :email, :settings);

-- name: persona_by_email^
SELECT user_id FROM personas.personas WHERE lower(email) = lower(:email);

-- name: claim_delete$
-- A delete takes the persona for :seconds (the time it may spend on mana-auth), in a
-- statement of its own: no lock or connection is held while mana-auth answers. A second
-- delete meanwhile finds it taken, as a retry after the first would find no row. No row:
-- no persona, or one being deleted. A claim that outlived its deadline (a crash between
-- the steps) can be taken again.
UPDATE personas.personas
   SET deleting_until = now() + :seconds::float8 * interval '1 second'
 WHERE user_id = :persona_id AND (deleting_until IS NULL OR deleting_until <= now())
RETURNING deleting_until;

-- name: release_delete!
-- mana-auth refused the delete: the persona is whole and deletable again (a retry
-- finishes the job), unless another delete has taken it since.
UPDATE personas.personas SET deleting_until = NULL
 WHERE user_id = :persona_id AND deleting_until = :claimed_until;

-- name: list_personas
-- Newest first, each with its number of actions in the rolling last 7 x 24 hours.
-- The count reads the activity rollup, not the actions: a 7-day window lies within two
-- consecutive 8-day spans, so it is the first span's count after the window's first
-- hour (from its running hourly counts), plus the next span's total, plus that first,
-- partial hour from the actions table itself (an hour of rows, however large the
-- table grows). The edge values are sub-selects, known before the scans start, so the
-- rollup is read as one range of its span index; all parts meet in one aggregate.
-- Paging: the page starts strictly after the previous page's last row, (:after_at,
-- :after_id), in the same order; :limit caps the rows (null: all of them).
-- Search (each null: any): :email is a part of the address (any case, a prefix included),
-- :archetype and :cadence are exact, :failing is the rule of sql/functions/failing.sql
-- (true: failing only, false: the others). At 10,000 personas a search reads the personas
-- table in order until the page is full; `failing` probes each one's newest ticks.
WITH edge AS (
    SELECT since,
           personas.activity_span(since) AS first_span,
           personas.activity_hour(since) AS first_hour,
           date_trunc('hour', since, 'UTC') + interval '1 hour' AS first_full_hour
      FROM (SELECT coalesce(:now::timestamptz, now()) - interval '7 days' AS since) w
), counts AS (
    SELECT persona_id, sum(n) AS n
      FROM (SELECT persona_id,
                   CASE WHEN span = (SELECT first_span FROM edge)
                        THEN total - through_hour[(SELECT first_hour FROM edge) + 1]
                        ELSE total END AS n
              FROM personas.persona_activity
             WHERE span >= (SELECT first_span FROM edge)
            UNION ALL
            SELECT persona_id, 1
              FROM personas.persona_actions
             WHERE created_at > (SELECT since FROM edge)
               AND created_at < (SELECT first_full_hour FROM edge)) parts
     GROUP BY persona_id
)
SELECT l.*, coalesce(c.n, 0)::int AS "actions7d"
  FROM personas.personas p
 CROSS JOIN LATERAL personas.persona_summary(p) l
  LEFT JOIN counts c ON c.persona_id = p.user_id
 WHERE (:after_id::text IS NULL
        OR p.created_at < :after_at::timestamptz
        OR (p.created_at = :after_at::timestamptz AND p.user_id > :after_id::text))
   AND (:email::text IS NULL OR strpos(lower(p.email), lower(:email::text)) > 0)
   AND (:archetype::text IS NULL OR p.archetype = :archetype::text)
   AND (:cadence::text IS NULL OR p.tick_cadence = :cadence::text)
   AND (:failing::boolean IS NULL OR personas.is_failing(p.user_id) = :failing::boolean)
 ORDER BY p.created_at DESC, p.user_id
 LIMIT :limit::bigint;

-- name: persona_detail^
SELECT d.*
  FROM personas.personas p
 CROSS JOIN LATERAL personas.persona_descriptor(p) d
 WHERE p.user_id = :persona_id;

-- name: recent_actions
SELECT id, persona_id AS "personaId", tick_id AS "tickId", tool_name AS "toolName", input_hash AS "inputHash", result,
       error_message AS "errorMessage", latency_ms AS "latencyMs", created_at AS "createdAt"
  FROM personas.persona_actions
 WHERE persona_id = :persona_id
 ORDER BY created_at DESC, id DESC
 LIMIT :limit;

-- name: recent_ticks
-- The persona's newest runs, shaped as PUT /internal/<id>/ticks answers them
-- (personas.tick_answer).
SELECT a.*
  FROM (SELECT persona_id, tick_id, started_at
          FROM personas.persona_ticks
         WHERE persona_id = :persona_id
         ORDER BY started_at DESC, tick_id DESC
         LIMIT :limit) t
 CROSS JOIN LATERAL personas.tick_answer(t.persona_id, t.tick_id) a
 ORDER BY t.started_at DESC, t.tick_id DESC;

-- name: feedback_by_module
-- Per module: the mean rating (a real mean, not a count), its spread, and the latest word.
SELECT module,
       round(avg(rating), 2)::float8 AS "avgRating",
       count(*) AS count,
       min(rating) AS "minRating",
       max(rating) AS "maxRating",
       (array_agg(rating ORDER BY created_at DESC, id DESC))[1] AS "lastRating",
       (array_agg(notes ORDER BY created_at DESC, id DESC) FILTER (WHERE notes IS NOT NULL))[1]
         AS "lastNote",
       max(created_at) AS "lastRatedAt"
  FROM personas.persona_feedback
 WHERE persona_id = :persona_id
 GROUP BY module
 ORDER BY avg(rating), module;

-- name: delete_persona_rows!
-- The persona and, by the foreign keys' ON DELETE CASCADE, everything recorded about it.
-- The cascade looks at the tables after the persona's row lock is taken, so a batch that
-- was being written meanwhile (it locks that row first) is removed with the rest. Only the
-- delete that claimed the persona (claim_delete) removes it.
DELETE FROM personas.personas WHERE user_id = :persona_id AND deleting_until = :claimed_until;

-- name: shared_spaces
-- The shared spaces the persona ticked in (spaces another persona ticked in too, the rule
-- of sql/functions/spaces.sql), the :spaces most recently used first; in each, every
-- partner (the persona first) with its :ticks newest ticks there and what they did: the
-- tool calls, the failed ones, the tools called. Each partner's ticks are one range of
-- persona_ticks_space_idx (0013); each tick's actions one range of the tick index (0012).
-- Columns are named as the JSON answer names them.
WITH spaces AS (
    SELECT space_id, max(started_at) AS last_at
      FROM personas.persona_ticks
     WHERE persona_id = :persona_id AND space_id IS NOT NULL
     GROUP BY space_id
),
members AS (
    SELECT DISTINCT s.space_id, t.persona_id
      FROM spaces s
      JOIN personas.persona_ticks t ON t.space_id = s.space_id
),
shared AS (
    SELECT s.space_id, s.last_at
      FROM spaces s
     WHERE EXISTS (SELECT 1 FROM members m WHERE m.space_id = s.space_id AND m.persona_id <> :persona_id)
     ORDER BY s.last_at DESC, s.space_id
     LIMIT :spaces
),
partners AS (
    SELECT m.space_id, p.user_id, p.email,
           coalesce((SELECT json_agg(json_build_object(
                                'tickId', t.tick_id, 'state', t.state, 'startedAt', t.started_at,
                                'finishedAt', t.finished_at, 'toolCalls', a.calls, 'toolErrors', a.errors,
                                'tools', a.tools)
                            ORDER BY t.started_at DESC, t.tick_id DESC)
                       FROM (SELECT tick_id, state, started_at, finished_at
                               FROM personas.persona_ticks
                              WHERE space_id = m.space_id AND persona_id = m.persona_id
                              ORDER BY started_at DESC, tick_id DESC
                              LIMIT :ticks) t
                      CROSS JOIN LATERAL (
                            SELECT count(*) AS calls, count(*) FILTER (WHERE result = 'error') AS errors,
                                   coalesce(array_agg(DISTINCT tool_name) FILTER (WHERE tool_name IS NOT NULL),
                                            '{}') AS tools
                              FROM personas.persona_actions
                             WHERE persona_id = m.persona_id AND tick_id = t.tick_id) a),
                    '[]') AS recent_ticks
      FROM members m
      JOIN shared s ON s.space_id = m.space_id
      JOIN personas.personas p ON p.user_id = m.persona_id
)
SELECT s.space_id AS "spaceId",
       json_agg(json_build_object('userId', pt.user_id, 'email', pt.email, 'recentTicks', pt.recent_ticks)
                ORDER BY pt.user_id <> :persona_id, pt.email, pt.user_id) AS partners
  FROM shared s
  JOIN partners pt ON pt.space_id = s.space_id
 GROUP BY s.space_id, s.last_at
 ORDER BY s.last_at DESC, s.space_id;
