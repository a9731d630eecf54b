-- name: insert_organization^
-- A new space, or nothing when its slug is taken: a concurrent create of the same slug
-- loses cleanly instead of failing on the index.
INSERT INTO devauth.organizations (id, name, slug, metadata)
VALUES (:id, :name, :slug, :metadata)
ON CONFLICT (slug) DO NOTHING
RETURNING id, name, slug, metadata, created_at AS "createdAt";

-- name: insert_member^
-- The user's membership; a user who already belongs keeps the membership and role it had.
INSERT INTO devauth.members (organization_id, user_id, role)
VALUES (:organization_id, :user_id, :role)
ON CONFLICT (organization_id, user_id) DO UPDATE SET role = devauth.members.role
RETURNING id, user_id AS "userId", organization_id AS "organizationId", role, created_at AS "createdAt";

-- name: organizations_of
-- Every space the user belongs to, in no particular order: Better Auth promises none.
SELECT o.id, o.name, o.slug, o.metadata, o.created_at AS "createdAt"
  FROM devauth.organizations o
  JOIN devauth.members m ON m.organization_id = o.id
 WHERE m.user_id = :user_id;

-- name: organization_by_id^
SELECT id, name, slug, metadata, created_at AS "createdAt"
  FROM devauth.organizations
 WHERE id = :id;

-- name: membership^
SELECT id, role
  FROM devauth.members
 WHERE organization_id = :organization_id AND user_id = :user_id;

-- name: members_of
SELECT m.id, m.organization_id AS "organizationId", m.user_id AS "userId", m.role,
       m.created_at AS "createdAt", jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name) AS "user"
  FROM devauth.members m
  JOIN devauth.users u ON u.id = m.user_id
 WHERE m.organization_id = :organization_id
 ORDER BY m.created_at, m.id;

-- name: member_by_email^
SELECT m.id
  FROM devauth.members m
  JOIN devauth.users u ON u.id = m.user_id
 WHERE m.organization_id = :organization_id AND lower(u.email) = lower(:email);

-- name: insert_invitation^
-- A new pending invitation, or nothing when one is pending already for this space and
-- email (any case): concurrent invitations of one person lose cleanly, not on the index.
INSERT INTO devauth.invitations (organization_id, email, role, inviter_id, expires_at)
VALUES (:organization_id, lower(:email), :role, :inviter_id, :expires_at)
ON CONFLICT (organization_id, lower(email)) WHERE status = 'pending' DO NOTHING
RETURNING id, email, role, organization_id AS "organizationId", status,
          inviter_id AS "inviterId", expires_at AS "expiresAt", created_at AS "createdAt";

-- name: drop_expired_invitation!
-- An expired invitation counts for nothing (Better Auth ignores it): a new one replaces it.
DELETE FROM devauth.invitations
 WHERE organization_id = :organization_id AND lower(email) = lower(:email)
   AND status = 'pending' AND expires_at <= now();

-- name: renew_invitation^
-- `resend`: the pending invitation, as it was, with a new expiry.
UPDATE devauth.invitations
   SET expires_at = :expires_at
 WHERE organization_id = :organization_id AND lower(email) = lower(:email)
   AND status = 'pending' AND expires_at > now()
RETURNING id, email, role, organization_id AS "organizationId", status,
          inviter_id AS "inviterId", expires_at AS "expiresAt", created_at AS "createdAt";

-- name: invitations_of
SELECT id, email, role, organization_id AS "organizationId", status,
       inviter_id AS "inviterId", expires_at AS "expiresAt", created_at AS "createdAt"
  FROM devauth.invitations
 WHERE organization_id = :organization_id
 ORDER BY created_at, id;

-- name: invitation_for_update^
-- Locked, so two accepts of one invitation take turns and the second finds it accepted.
SELECT id, email, role, organization_id AS "organizationId", status,
       inviter_id AS "inviterId", expires_at AS "expiresAt", created_at AS "createdAt",
       expires_at <= now() AS expired
  FROM devauth.invitations
 WHERE id = :id
   FOR UPDATE;

-- name: accept_invitation^
UPDATE devauth.invitations
   SET status = 'accepted'
 WHERE id = :id
RETURNING id, email, role, organization_id AS "organizationId", status,
          inviter_id AS "inviterId", expires_at AS "expiresAt", created_at AS "createdAt";

-- name: organization_ids_of
SELECT organization_id AS id
  FROM devauth.members
 WHERE user_id = :user_id;

-- name: delete_invitations_to!
DELETE FROM devauth.invitations
 WHERE lower(email) = lower(:email);

-- name: delete_empty_organizations!
-- Spaces (of those named) that nobody belongs to any more: a space outlives a member who
-- leaves, but not its last one.
DELETE FROM devauth.organizations o
 WHERE o.id = ANY(:ids)
   AND NOT EXISTS (SELECT 1 FROM devauth.members m WHERE m.organization_id = o.id);
