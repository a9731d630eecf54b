"""JSON in and out through orjson: faster than the standard library, strict about UTF-8.

One leniency on the way in: a lone UTF-16 surrogate escape (`"\\ud83d"`). It is valid
JSON, and clients written in JavaScript send it whenever they cut a string by UTF-16
units (`slice(0, 1000)`) through an emoji; orjson refuses it and PostgreSQL text cannot
hold it, so it becomes U+FFFD, one character for one, and every other rule still applies.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from flask.json.provider import JSONProvider

# One escape at a time, left to right, so `\\ud83d` (an escaped backslash, then text)
# is never read as an escape: a valid surrogate pair, a lone surrogate, or any other.
_ESCAPE = re.compile(
    rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|(u[dD][89a-fA-F][0-9a-fA-F]{2})"
    rb"|.)",
    re.DOTALL,
)
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate_to_replacement(match: re.Match[bytes]) -> bytes:
    return b"\\ufffd" if match.group(1) else match.group(0)


def loads(raw: str | bytes) -> Any:
    """orjson.loads, with lone surrogate escapes read as U+FFFD.

    The rewrite runs only after orjson has refused the text, so valid bodies pay nothing.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        if not _MAYBE_SURROGATE.search(data):
            raise
    return orjson.loads(_ESCAPE.sub(_lone_surrogate_to_replacement, data))


class OrjsonProvider(JSONProvider):
    options = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, option=self.options).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(orjson.dumps(obj, option=self.options), mimetype="application/json")
