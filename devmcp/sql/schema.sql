-- devmcp's own tables, created idempotently at every start, in the schema and under the
-- lock that StandIn.create_schema (apibase/standin.py) takes first.

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
