-- The persona's display name, as the admin list and detail answer it: from the upsert
-- body, else from the mana-auth user found or registered. Null for rows upserted before
-- this column existed, until their next upsert fills it.
-- depends: 0006_claimable_index

ALTER TABLE personas.personas ADD COLUMN name text NULL;
