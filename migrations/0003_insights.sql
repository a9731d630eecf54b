-- Indexes for the insights route.
-- depends: 0001_personas_schema

-- The weekly trends read every rating of the last weeks: with the columns they need in
-- the index, that is one index-only range scan instead of a visit to every heap page.
CREATE INDEX persona_feedback_trends_idx
    ON personas.persona_feedback (created_at) INCLUDE (module, rating, persona_id);

-- Friction notes are the newest low ratings with a note: a small slice of the table,
-- read newest first, so a partial index answers them however rare they are.
CREATE INDEX persona_feedback_friction_idx
    ON personas.persona_feedback (created_at DESC)
 WHERE rating <= 2 AND btrim(notes) <> '';
