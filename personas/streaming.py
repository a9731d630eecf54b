"""List answers streamed from a server-side cursor: `{"<field>": [rows...], ...tail}`.

The bytes are those `jsonify` would write for the whole list, but the rows travel in
batches, so a worker holds one batch however large the fleet (a /due of 10,000 personas
with the longest prompts is over 200 MB of JSON).

Everything that can fail on the way in (no connection, the query, its first batch)
happens before the response starts, so it still gets its JSON error (503 when the
database is away). A failure after the first byte cannot change the status any more:
the stream stops and the HTTP connection is closed without the chunked body's final
chunk, so a client sees a broken transfer, never a shorter list that parses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import orjson
from flask import Response, stream_with_context
from psycopg import Connection, ServerCursor

from personas.db import get_db
from personas.jsonio import OrjsonProvider
from personas.paging import PageKey, encode_cursor
from personas.validation import PageQuery

log = logging.getLogger(__name__)

# Rows per FETCH: sized so a batch is about BATCH_BYTES of JSON (2 MB: 100 rows at the
# largest allowed prompt, several hundred of the usual ones), small enough for several
# streams per worker, large enough that round trips to PostgreSQL cost little. Within
# FIRST_BATCH_ROWS..MAX_BATCH_ROWS, so one batch is at most about 11 MB however the
# row sizes change along the list.
BATCH_BYTES = 2_000_000
FIRST_BATCH_ROWS = 100
MAX_BATCH_ROWS = 500


def next_batch_rows(rows: int, encoded: int) -> int:
    """The next FETCH size, from the size of the last batch of `rows` rows."""
    wanted = rows * BATCH_BYTES // max(encoded, 1)
    return max(FIRST_BATCH_ROWS, min(MAX_BATCH_ROWS, 2 * rows, wanted))


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=OrjsonProvider.options)


class ListStream:
    """How one route's rows become its answer: `field` holds the rows, `tail` is what
    follows the list (read on the list's connection, in its transaction, before the
    response starts), and `page_key` is a row's sort key for `nextCursor`."""

    def __init__(
        self,
        route: str,
        field: str,
        *,
        page_key: Callable[[dict], PageKey],
        tail: Callable[[Connection], dict] = lambda conn: {},
    ) -> None:
        self.route = route
        self.head = _dumps({field: []})[:-2]  # b'{"field":['
        self.page_key = page_key
        self.tail = tail

    def respond(self, query: Callable[..., Any], page: PageQuery, **params: Any) -> Response:
        """Run `query` for `page` (asking for one row more than its limit, to know whether
        a next page exists; `now` null: the database's clock) and stream its rows; the
        pool connection is held until the last byte."""
        limit = page.limit
        params = {"now": None, **page.after_params(), **params}
        with ExitStack() as held:
            conn = held.enter_context(get_db().connection())
            # Entered after the connection, so closed before it goes back to the pool:
            # a cursor never outlives its transaction.
            cursor = held.enter_context(
                query.declare(conn, limit=None if limit is None else limit + 1, **params)
            )
            first = cursor.fetchmany(FIRST_BATCH_ROWS)
            tail = self.tail(conn)
            # From here the response owns the connection: the body returns it to the pool
            # when it ends, fails or is abandoned by the client (or, never started, on close).
            owned = held.pop_all()
        body = self._body(owned, cursor, first, limit, tail)
        response = Response(stream_with_context(body), mimetype="application/json")
        response.call_on_close(owned.close)
        return response

    def _body(
        self, owned: ExitStack, cursor: ServerCursor, first: list[dict], limit: int | None, tail: dict
    ) -> Iterator[bytes]:
        with owned:
            try:
                rows = self._rows(cursor, first, limit, tail)
                del first  # the rows generator holds (and drops) the first batch from here
                yield self.head
                yield from rows
            except Exception:
                log.warning("the %s list broke off after its first byte; closing the connection", self.route)
                raise

    def _rows(
        self, cursor: ServerCursor, fetched: list[dict], limit: int | None, tail: dict
    ) -> Iterator[bytes]:
        sent = 0
        last: dict | None = None
        more = False
        while fetched:
            more = limit is not None and sent + len(fetched) > limit
            batch = fetched[: limit - sent] if more else fetched
            size, separator = len(fetched), b"," if sent else b""
            encoded = _dumps(batch)[1:-1] if batch else b""
            if batch:
                sent += len(batch)
                last = batch[-1]
            # Only the encoded batch stays alive while it is sent, none while the next is read.
            del fetched, batch
            if encoded:
                if separator:
                    yield separator  # its own piece: joining it to the batch would copy the batch
                yield encoded
            encoded_bytes, encoded = len(encoded), b""
            if more:
                break
            fetched = cursor.fetchmany(next_batch_rows(size, encoded_bytes))
        if more and last is not None:
            tail = {**tail, "nextCursor": encode_cursor(self.route, self.page_key(last))}
        yield b"]" + (b"," + _dumps(tail)[1:] if tail else b"}")
