-- What happened in a tick: its transcript (the persona's words, each call with its
-- arguments and output, its ratings, why it stopped) and its trace id.
-- depends: 0016_row_keys

-- The OpenTelemetry trace the runner recorded the tick under, when it did.
ALTER TABLE personas.persona_ticks
    ADD COLUMN trace_id text NULL CHECK (trace_id ~ '^[0-9a-f]{32}$');

-- One transcript a tick, written once. `events` is zlib of the events' JSON: for
-- catalog-like ticks (bench/transcripts.py) it keeps 28% of the raw bytes, where the same
-- events as jsonb keep 40% under PostgreSQL's pglz and 47% under lz4 (TOAST compresses
-- only values over about 2 kB, and whole values, not across rows). The service never
-- queries inside a transcript, only hands it back whole, so jsonb buys nothing.
-- STORAGE EXTERNAL: compressed once, by us; PostgreSQL moves a large value out of line
-- without trying to compress it again.
-- `digest` is the SHA-256 of that canonical JSON: a retried upload is told apart from a
-- different one without decompressing anything. The foreign key to the tick cascades, so
-- a transcript goes with its tick and its persona (whose delete cascades to the ticks).
CREATE TABLE personas.persona_transcripts (
    persona_id  text NOT NULL,
    tick_id     text NOT NULL,
    digest      bytea NOT NULL,
    events      bytea NOT NULL,
    raw_bytes   integer NOT NULL CHECK (raw_bytes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (persona_id, tick_id),
    FOREIGN KEY (persona_id, tick_id)
        REFERENCES personas.persona_ticks (persona_id, tick_id) ON DELETE CASCADE
);
ALTER TABLE personas.persona_transcripts ALTER COLUMN events SET STORAGE EXTERNAL;

-- prune removes the transcripts past TRANSCRIPT_RETENTION_DAYS, oldest first, in batches.
CREATE INDEX persona_transcripts_created_idx ON personas.persona_transcripts (created_at);
