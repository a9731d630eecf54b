-- devmcp's own schema, created idempotently at every start. The advisory lock makes
-- concurrent starts take turns: two concurrent CREATE ... IF NOT EXISTS can still collide.
SELECT pg_advisory_xact_lock(hashtext('devmcp.schema'));

CREATE SCHEMA IF NOT EXISTS devmcp;

-- One generic item store for every module: what a todo, a note or an event is differs
-- only in its title and fields, which the stand-in keeps as they came.
CREATE TABLE IF NOT EXISTS devmcp.items (
    id           text PRIMARY KEY,
    space_id     text NOT NULL,
    module       text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL DEFAULT '',
    fields       jsonb NOT NULL DEFAULT '{}',
    done         boolean NOT NULL DEFAULT false,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS items_space_module_idx ON devmcp.items (space_id, module, created_at);
