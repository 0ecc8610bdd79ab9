"""SSRF guard: resolve a target URL's host and refuse non-public addresses."""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from ..domain import IPNetwork, refused_address


def _literal_address(host: str) -> set[str] | None:
    """The address of an IP-literal host (``127.0.0.1``, ``::1``), or None for a name.

    A literal needs no DNS, so it skips getaddrinfo, which asyncio runs in its
    thread pool (a thread hand-off per send). Only canonical literals qualify;
    anything else (``127.1``, ``0x7f.1``, names such as ``localhost``) is
    resolved as before and checked the same way.
    """
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        return None


class TargetRefused(Exception):
    """The target URL may not be called; the message says why, for a person."""


def check_url_shape(url: str) -> tuple[str, int]:
    try:
        # The sender's own parser: a URL it refuses (http://01.01.01.01/ resolves
        # through getaddrinfo, yet httpx rejects the host) could never be sent.
        httpx.URL(url)
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
    return parts.hostname, port


async def check_target(url: str, allowed: Sequence[IPNetwork]) -> None:
    """Raise :class:`TargetRefused` unless every address the host resolves to is allowed.

    Checked when a subscription is created and again before every send: DNS
    may have changed in between.
    """
    host, port = check_url_shape(url)
    addresses = _literal_address(host)
    if addresses is None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise TargetRefused(f"The target host {host!r} does not resolve.") from exc
        addresses = {str(info[4][0]) for info in infos}
    if not addresses:
        raise TargetRefused(f"The target host {host!r} does not resolve.")
    for address in sorted(addresses):
        reason = refused_address(address, allowed)
        if reason is not None:
            raise TargetRefused(f"The target host {host!r} resolves to a non-public address "
                                f"({reason}); it is not allowed.")
