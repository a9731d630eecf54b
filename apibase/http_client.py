"""JSON over HTTP for the clients of our services (the runner's and the operator scripts'):
one `requests.Session` per base URL, an explicit (connect, read) timeout on every call,
and every failure a named error (apibase.client_errors)."""

from __future__ import annotations

import re
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apibase.client_errors import AuthError, NetworkError, StatusError, UnexpectedResponse

_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")

# A server closes a keep-alive connection once it has been idle for its keep-alive (the
# web process after 5 s, gunicorn's default 2 s). A request sent on such a connection just
# as the server closes it fails although the server is up, which a runner polling every
# few seconds would hit again and again. Connections idle longer than this are therefore
# never reused: below any server's keep-alive, reuse cannot race the server's close.
IDLE_REUSE_LIMIT_S = 1.0


class _FreshConnections:
    """A connection pool that reconnects rather than reuse a connection idle too long."""

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.idle_since = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(conn, "idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > IDLE_REUSE_LIMIT_S:
            conn.close()  # urllib3 connects it afresh when the request is sent
        return conn


class _FreshHTTPPool(_FreshConnections, HTTPConnectionPool):
    pass


class _FreshHTTPSPool(_FreshConnections, HTTPSConnectionPool):
    pass


class FreshConnectionAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _FreshHTTPPool, "https": _FreshHTTPSPool}


class JsonHttp:
    def __init__(
        self,
        base_url: str,
        timeout: tuple[float, float],
        headers: dict[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.mount("http://", FreshConnectionAdapter())
        self.session.mount("https://", FreshConnectionAdapter())
        self.session.headers.update({"Accept": "application/json", **(headers or {})})

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        """The decoded JSON body of a 2xx answer (None for an empty one), else a named error."""
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            response = self.session.request(
                method, url, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.ConnectTimeout:
            raise NetworkError(method, url, f"no connection within {self.timeout[0]}s") from None
        except requests.Timeout:
            raise NetworkError(method, url, f"no answer within {self.timeout[1]}s") from None
        except requests.RequestException as exc:
            raise NetworkError(method, url, short_reason(exc)) from None
        return decode(method, url, response)

    def close(self) -> None:
        self.session.close()


def decode(method: str, url: str, response: requests.Response) -> Any:
    if response.status_code >= 400:
        body = error_body(response)
        if response.status_code in (401, 403):
            raise AuthError(method, url, response.status_code, body)
        raise StatusError(method, url, response.status_code, body, retry_after(response))
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponse(
            f"{method} {url}: {response.status_code} with a body that is not JSON"
        ) from None


def error_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]


def retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare enough to ignore)."""
    raw = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def short_reason(exc: requests.RequestException) -> str:
    """'[Errno 111] Connection refused' rather than urllib3's paragraph about pools."""
    text = str(exc)
    match = _ERRNO.search(text)
    if match:
        return match.group(0).strip()
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return text[:200]
