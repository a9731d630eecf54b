-- name: insert_user^
-- A new user, or nothing when the email is taken (whatever its case): a concurrent
-- registration of the same email loses cleanly instead of failing on the index.
INSERT INTO devauth.users (id, email, name, password_hash)
VALUES (:id, :email, :name, :password_hash)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING id, email, name;

-- name: user_by_email^
SELECT id, email, name, password_hash, role, access_tier
  FROM devauth.users
 WHERE lower(email) = lower(:email);

-- name: user_by_id^
-- The user as stored (all but the password hash), for /dev/users/:id.
SELECT id, email, name, role, kind,
       access_tier AS "accessTier", email_verified AS "emailVerified", created_at AS "createdAt"
  FROM devauth.users
 WHERE id = :id;

-- name: count_matching_users$
SELECT count(*)
  FROM devauth.users
 WHERE strpos(lower(email), lower(:search)) > 0
    OR strpos(lower(name), lower(:search)) > 0;

-- name: search_users
-- Substring match on email or name (strpos, so `_` and `%` are plain characters).
-- An exact email match comes first, so a caller looking for one email finds it on page 1.
SELECT id, email, name, role, created_at AS "createdAt"
  FROM devauth.users
 WHERE strpos(lower(email), lower(:search)) > 0
    OR strpos(lower(name), lower(:search)) > 0
 ORDER BY lower(email) = lower(:search) DESC, created_at, id
 LIMIT :limit OFFSET :offset;

-- name: stamp_persona^
-- Idempotent: stamping twice leaves the same row.
UPDATE devauth.users
   SET kind = 'persona', access_tier = :access_tier, email_verified = true
 WHERE id = :id
RETURNING id;

-- name: delete_user^
-- Its memberships and the invitations it sent go with it (ON DELETE CASCADE).
DELETE FROM devauth.users
 WHERE id = :id
RETURNING id, email;
