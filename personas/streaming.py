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
from itertools import chain
from typing import Any

import orjson
from flask import Response, stream_with_context

from personas.db import get_db
from personas.jsonio import OrjsonProvider
from personas.paging import PageKey, encode_cursor

log = logging.getLogger(__name__)

# Rows per FETCH: at the largest allowed prompt about 2 MB of JSON, small enough for
# several streams per worker, large enough that round trips cost little.
BATCH_ROWS = 100


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=OrjsonProvider.options)


class ListStream:
    """How one route's rows become its answer: `field` holds the rows, `shape` turns a row
    into its JSON (None drops it), `tail` is what follows the list (from the first row,
    None when there is none), and `page_key` is a row's sort key for `nextCursor`."""

    def __init__(
        self,
        route: str,
        field: str,
        *,
        page_key: Callable[[dict], PageKey],
        shape: Callable[[dict], dict | None] = lambda row: row,
        tail: Callable[[dict | None], dict] = lambda first: {},
    ) -> None:
        self.route = route
        self.head = _dumps({field: []})[:-2]  # b'{"field":['
        self.page_key = page_key
        self.shape = shape
        self.tail = tail

    def respond(self, query: Callable[..., Any], *, limit: int | None, **params: Any) -> Response:
        """Run `query` (asking for one row more than `limit`, to know whether a next page
        exists) and stream its rows; the pool connection is held until the last byte."""
        with ExitStack() as held:
            conn = held.enter_context(get_db().connection())
            batches = query.stream(
                conn, batch_rows=BATCH_ROWS, limit=None if limit is None else limit + 1, **params
            )
            # Closed before the connection goes back: a cursor must never outlive its transaction.
            held.callback(batches.close)
            first = next(batches, [])
            # From here the response owns the connection: the body returns it to the pool
            # when it ends, fails or is abandoned by the client (or, never started, on close).
            owned = held.pop_all()
        body = self._body(owned, chain([first], batches), limit, self.tail(first[0] if first else None))
        response = Response(stream_with_context(body), mimetype="application/json")
        response.call_on_close(owned.close)
        return response

    def _body(
        self, owned: ExitStack, batches: Iterator[list[dict]], limit: int | None, tail: dict
    ) -> Iterator[bytes]:
        with owned:
            try:
                yield self.head
                yield from self._rows(batches, limit, tail)
            except Exception:
                log.warning("the %s list broke off after its first byte; closing the connection", self.route)
                raise

    def _rows(self, batches: Iterator[list[dict]], limit: int | None, tail: dict) -> Iterator[bytes]:
        sent = 0
        last: dict | None = None
        more = False
        for fetched in batches:
            more = limit is not None and sent + len(fetched) > limit
            batch = fetched[: limit - sent] if more else fetched
            rows = [shaped for shaped in map(self.shape, batch) if shaped is not None]
            if rows:
                if sent:
                    yield b","  # its own piece: joining it to the batch would copy the batch
                yield _dumps(rows)[1:-1]
                sent += len(rows)
                last = batch[-1]
            if more:
                break
        if more and last is not None:
            tail = {**tail, "nextCursor": encode_cursor(self.route, self.page_key(last))}
        yield b"]" + (b"," + _dumps(tail)[1:] if tail else b"}")
