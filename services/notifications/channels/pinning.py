"""Connect only to addresses the SSRF guard checked (no second DNS lookup).

The guard resolves a target's host and checks every address; if the HTTP
client then resolved the name again, a DNS server answering a public address
to the first lookup and 127.0.0.1 to the second (DNS rebinding) would get a
request past the guard. So the delivery client's network backend never
resolves: :func:`pinned` tells it, for the current task, which checked
addresses a host may be reached at, and it connects to those or refuses.

The request itself keeps the name: the connection pool is keyed by it, the
``Host`` header carries it and TLS sends it as SNI and verifies the
certificate against it, exactly as without pinning. A pooled connection is
reused only for its own name and was made to an address checked then.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx
from typing_extensions import override

from shared import tracing

from .guard import CheckedTarget

_PINS: ContextVar[dict[str, tuple[str, ...]] | None] = ContextVar("pinned_targets",
                                                                   default=None)


@contextmanager
def pinned(target: CheckedTarget) -> Iterator[None]:
    """Within this block (in this task), ``target.host`` connects only to its checked addresses."""
    pins = dict(_PINS.get() or {})
    pins[target.host] = target.addresses
    token = _PINS.set(pins)
    try:
        yield
    finally:
        _PINS.reset(token)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to pinned addresses only; any other host is refused."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        addresses = (_PINS.get() or {}).get(host)
        if not addresses:
            # Fail closed: a connection the guard did not check is never made.
            raise httpcore.ConnectError(f"{host} was not checked by the SSRF guard")
        failure: Exception | None = None
        # In the resolver's order, as getaddrinfo's caller would: the next
        # checked address when one does not answer.
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    @override
    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not delivery targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_client(*, limits: httpx.Limits,
                  verify: Any = True) -> httpx.AsyncClient:
    """The delivery client: no redirects, no proxies from the environment, pinned connections."""
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, limits=limits)
    # httpx has no public way to pass a network backend, so its pool is replaced
    # by one built with the same settings plus ours (tests/.../test_pinned_target
    # fails if an httpx upgrade stops using ``_pool``).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PinnedBackend())
    client = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
    tracing.instrument_client(client)  # client spans when an exporter is configured
    return client
