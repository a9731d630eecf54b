-- name: insert_first_key!
-- The first key, unless a concurrent worker's boot already made one (boot holds the
-- schema's advisory lock, so the check and the insert cannot interleave).
INSERT INTO devauth.signing_keys (kid, private_key, public_key)
SELECT :kid, :private_key, :public_key
 WHERE NOT EXISTS (SELECT 1 FROM devauth.signing_keys);

-- name: insert_key!
INSERT INTO devauth.signing_keys (kid, private_key, public_key)
VALUES (:kid, :private_key, :public_key);

-- name: current_key^
SELECT kid, private_key
  FROM devauth.signing_keys
 ORDER BY seq DESC
 LIMIT 1;

-- name: published_keys
-- The JWKS: the current key and the one before it, so tokens signed just before a
-- rotation stay verifiable until the next one.
SELECT kid, public_key
  FROM devauth.signing_keys
 ORDER BY seq DESC
 LIMIT 2;
