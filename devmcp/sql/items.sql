-- name: insert_item^
INSERT INTO devmcp.items (id, space_id, module, title, body, fields, created_by)
VALUES (:id, :space_id, :module, :title, :body, :fields, :created_by)
RETURNING id, title, body, fields, done, created_by AS "createdBy", created_at AS "createdAt";

-- name: list_items
-- A space's items of one module, newest first; everyone in the space sees them.
SELECT id, title, body, fields, done, created_by AS "createdBy", created_at AS "createdAt"
  FROM devmcp.items
 WHERE space_id = :space_id AND module = :module AND (:include_done OR NOT done)
 ORDER BY created_at DESC, id
 LIMIT :limit;

-- name: update_item^
-- Only what was given changes; an item of another space or module is not found.
UPDATE devmcp.items
   SET title = coalesce(:title, title),
       body = coalesce(:body, body),
       fields = fields || coalesce(:fields, '{}'::jsonb),
       updated_at = now()
 WHERE id = :id AND space_id = :space_id AND module = :module
RETURNING id, title, body, fields, done, created_by AS "createdBy", created_at AS "createdAt";

-- name: complete_item^
UPDATE devmcp.items
   SET done = true, updated_at = now()
 WHERE id = :id AND space_id = :space_id AND module = :module
RETURNING id, title, body, fields, done, created_by AS "createdBy", created_at AS "createdAt";
