-- The stand-in's own tables, created idempotently at every start, in the schema and
-- under the lock that StandIn.create_schema (apibase/standin.py) takes first.

CREATE TABLE IF NOT EXISTS devauth.users (
    id             text PRIMARY KEY,
    email          text NOT NULL,
    name           text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    kind           text NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'persona')),
    access_tier    text NOT NULL DEFAULT 'public',
    email_verified boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique whatever their case, as mana-auth treats them.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON devauth.users (lower(email));

-- Spaces (Better Auth's organizations): every user has a `personal` one; shared ones
-- (family, team, practice, brand) are made through the organization routes. Who belongs
-- to a space is only ever said by devauth.members.
CREATE TABLE IF NOT EXISTS devauth.organizations (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    slug       text NOT NULL,
    metadata   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS organizations_slug_key ON devauth.organizations (slug);

CREATE TABLE IF NOT EXISTS devauth.members (
    id              text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id text NOT NULL REFERENCES devauth.organizations (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES devauth.users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, user_id)
);
CREATE INDEX IF NOT EXISTS members_user_idx ON devauth.members (user_id);

-- Invitations are addressed to an email, as in Better Auth: whoever logs in with that
-- email may accept. One pending invitation per space and email (any case).
CREATE TABLE IF NOT EXISTS devauth.invitations (
    id              text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    organization_id text NOT NULL REFERENCES devauth.organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    role            text NOT NULL CHECK (role IN ('admin', 'member')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted')),
    inviter_id      text NOT NULL REFERENCES devauth.users (id) ON DELETE CASCADE,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS invitations_pending_key
    ON devauth.invitations (organization_id, lower(email)) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS invitations_email_idx ON devauth.invitations (lower(email));

-- Databases made before memberships existed said who owned a space in owner_id: each
-- owner becomes its space's member, and the column goes, so membership has one home.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = 'devauth' AND table_name = 'organizations'
                  AND column_name = 'owner_id') THEN
        INSERT INTO devauth.members (organization_id, user_id, role, created_at)
        SELECT id, owner_id, 'owner', created_at FROM devauth.organizations
        ON CONFLICT DO NOTHING;
        ALTER TABLE devauth.organizations DROP COLUMN owner_id;
    END IF;
END
$$;

-- Signing keys live here so that every worker signs with, and publishes, the same ones.
-- The private half is stored in the clear: this is a development stand-in.
CREATE TABLE IF NOT EXISTS devauth.signing_keys (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kid         text NOT NULL UNIQUE,
    private_key bytea NOT NULL,
    public_key  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Development switches (/dev/settings): one row, shared by every worker.
CREATE TABLE IF NOT EXISTS devauth.settings (
    only_row                   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    require_email_verification boolean NOT NULL DEFAULT false
);
INSERT INTO devauth.settings DEFAULT VALUES ON CONFLICT DO NOTHING;

-- Faults injected by tests; shared by every worker, consumed one call at a time.
CREATE TABLE IF NOT EXISTS devauth.faults (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path       text NOT NULL,
    method     text,
    status     integer,
    delay_ms   integer NOT NULL DEFAULT 0,
    remaining  integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
