-- name: retention_cutoff$
-- The moment before which actions are expired, fixed once per run so that a dry run
-- and a real run over the same data agree, and the run has a clear end.
SELECT now() - :days::int * interval '1 day';

-- name: count_expired_actions$
SELECT count(*) FROM personas.persona_actions WHERE created_at < :cutoff;

-- name: delete_expired_actions!
-- One bounded batch, oldest first along the created_at index. Each batch is its own
-- short transaction, so no lock is held over millions of rows and writers of new
-- actions never wait on the prune. Ratings (persona_feedback) are never pruned.
-- Rows are picked by their physical address: an id is not unique (migration 0016).
DELETE FROM personas.persona_actions
 WHERE ctid = ANY (ARRAY(SELECT ctid
                           FROM personas.persona_actions
                          WHERE created_at < :cutoff
                          ORDER BY created_at
                          LIMIT :batch_size));

-- name: count_expired_transcripts$
SELECT count(*) FROM personas.persona_transcripts WHERE created_at < :cutoff;

-- name: delete_expired_transcripts!
-- As for actions: one bounded batch, oldest first along the created_at index (0017).
-- The tick record stays; only what was said in it goes.
DELETE FROM personas.persona_transcripts tr
 USING (SELECT persona_id, tick_id
          FROM personas.persona_transcripts
         WHERE created_at < :cutoff
         ORDER BY created_at
         LIMIT :batch_size) expired
 WHERE tr.persona_id = expired.persona_id
   AND tr.tick_id = expired.tick_id;
