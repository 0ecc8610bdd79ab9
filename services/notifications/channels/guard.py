"""SSRF guard: resolve a target URL's host once and refuse non-public addresses.

The addresses it checked are what a send connects to (see ``pinning``): a
second lookup by the HTTP client could answer differently (DNS rebinding).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..domain import IPNetwork
from .addresses import refused_target_address

# host, port -> the addresses, in the order to try them. Injectable for tests.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class TargetRefused(Exception):
    """The target URL may not be called; the message says why, for a person."""


@dataclass(frozen=True)
class CheckedTarget:
    host: str  # as the HTTP client connects to it: lower case, IDNA (xn--) form
    port: int
    addresses: tuple[str, ...]  # every one checked, in the resolver's order


async def resolve(host: str, port: int) -> list[str]:
    """The running loop's getaddrinfo, looked up at call time (tests replace it)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"The target host {host!r} does not resolve.") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal_address(host: str) -> list[str] | None:
    """The address of an IP-literal host (``127.0.0.1``, ``::1``), or None for a name.

    A literal needs no DNS, so it skips getaddrinfo, which asyncio runs in its
    thread pool (a thread hand-off per send). Only canonical literals qualify;
    anything else (``127.1``, ``0x7f.1``, names such as ``localhost``) is
    resolved as before and checked the same way.
    """
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return None


def check_url_shape(url: str) -> tuple[str, int]:
    """The host (as the HTTP client will connect to it) and port of a sendable URL."""
    try:
        # The sender's own parser: a URL it refuses (http://01.01.01.01/ resolves
        # through getaddrinfo, yet httpx rejects the host) could never be sent.
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"The target URL is not valid: {exc}.") from exc
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("The target must be an http:// or https:// URL.")
    if not parts.hostname:
        raise TargetRefused("The target URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("The target URL must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("The target URL has an invalid port.") from exc
    # httpx's host, not urlsplit's: the connection is made to this exact name
    # (IDNA 2008, lower case), so it is the one to resolve and check.
    return parsed.raw_host.decode("ascii"), port


async def check_target(url: str, allowed: Sequence[IPNetwork], *,
                       resolver: Resolver = resolve) -> CheckedTarget:
    """The target's addresses, all checked; :class:`TargetRefused` unless every one is allowed.

    Checked when a subscription is created and again before every send: DNS
    may have changed in between.
    """
    host, port = check_url_shape(url)
    addresses = _literal_address(host)
    if addresses is None:
        addresses = list(dict.fromkeys(await resolver(host, port)))
    if not addresses:
        raise TargetRefused(f"The target host {host!r} does not resolve.")
    for address in addresses:
        reason = refused_target_address(address, allowed)
        if reason is not None:
            raise TargetRefused(f"The target host {host!r} resolves to a non-public address "
                                f"({reason}); it is not allowed.")
    return CheckedTarget(host, port, tuple(addresses))
