-- The stand-in's own schema, created idempotently at every start. Each gunicorn worker
-- runs this at boot; the advisory lock makes concurrent starts take turns, because two
-- concurrent `CREATE ... IF NOT EXISTS` of the same object can still collide.
SELECT pg_advisory_xact_lock(hashtext('devauth.schema'));

CREATE SCHEMA IF NOT EXISTS devauth;

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

CREATE TABLE IF NOT EXISTS devauth.organizations (
    id         text PRIMARY KEY,
    owner_id   text NOT NULL REFERENCES devauth.users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    slug       text NOT NULL,
    metadata   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS organizations_owner_idx ON devauth.organizations (owner_id);

-- Signing keys live here so that every worker signs with, and publishes, the same ones.
-- The private half is stored in the clear: this is a development stand-in.
CREATE TABLE IF NOT EXISTS devauth.signing_keys (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kid         text NOT NULL UNIQUE,
    private_key bytea NOT NULL,
    public_key  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

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
