"""Which webhook URLs we send to. A webhook is a request our network makes for whoever
registered it: cloud metadata addresses never, internal addresses only where the operator
says the receivers live there (ALERTS_ALLOW_PRIVATE_URLS)."""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

URL_MAX = 2000
# Where cloud providers serve instance credentials: a webhook there would hand them out.
# getaddrinfo has no timeout of its own: it runs on these threads, and we stop waiting
# after RESOLVE_SECONDS (threads start on first use, after any fork).
RESOLVE_SECONDS = 3.0
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve-webhook-host")
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class RefusedUrl(ValueError):
    """A URL we do not send to; the message says why."""


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        found = future.result(timeout=RESOLVE_SECONDS)
    except TimeoutError:
        raise RefusedUrl(f"its host {host!r} did not resolve within {RESOLVE_SECONDS:g} s") from None
    except (OSError, UnicodeError):
        raise RefusedUrl(f"its host {host!r} does not resolve") from None
    addresses = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        # ::ffff:10.0.0.1 is 10.0.0.1.
        mapped = getattr(address, "ipv4_mapped", None)
        addresses.append(mapped or address)
    return addresses


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def check_url(url: str, allow_private: bool) -> None:
    """Refuse (RefusedUrl) a URL we must not send to: not http(s), too long, a metadata
    address, or (unless `allow_private`) a host resolving to an internal address."""
    if len(url) > URL_MAX:
        raise RefusedUrl(f"must be at most {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedUrl("is not a valid URL") from None
    if parts.scheme not in {"http", "https"}:
        raise RefusedUrl("must be an http or https URL")
    if not parts.hostname:
        raise RefusedUrl("has no host")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("must not carry credentials; the signature authenticates us")
    for address in _addresses(parts.hostname, port):
        if address in METADATA:
            raise RefusedUrl(f"points at a cloud metadata address ({address}), which is always refused")
        if _internal(address) and not allow_private:
            raise RefusedUrl(
                f"resolves to an internal address ({address}); set ALERTS_ALLOW_PRIVATE_URLS=true to allow it"
            )
