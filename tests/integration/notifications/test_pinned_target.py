"""A send connects to the address the SSRF guard checked, never to a second lookup's
answer (DNS rebinding, issue 13.8), for webhooks, Slack and https alike."""

import asyncio
import datetime as dt
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notifications.channels import webhook
from services.notifications.channels.guard import CheckedTarget
from services.notifications.channels.pinning import pinned, pinned_client
from services.notifications.domain import Outcome, parse_networks
from services.notifications.service.attempts import Due, send
from services.notifications.service.delivery import DeliveryWorker
from services.notifications.service.messages import Links
from services.notifications.settings import NotificationsSettings

NOW = datetime(2026, 11, 26, 8, tzinfo=UTC)
NAME = "hooks.test"
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


@dataclass
class Listener:
    """A bare HTTP/1.1 server on one address that answers 204 and records each request head."""

    heads: list[str] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.lower().startswith("content-length:")), 0)
            await reader.readexactly(length)
            self.heads.append(head)
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def host_headers(self) -> list[str]:
        return [line.split(":", 1)[1].strip() for head in self.heads
                for line in head.split("\r\n") if line.lower().startswith("host:")]


async def _listen(address: str, port: int, ssl_context: ssl.SSLContext | None = None
                  ) -> Listener:
    listener = Listener()
    listener.server = await asyncio.start_server(listener.handle, address, port,
                                                 ssl=ssl_context)
    return listener


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Listener, Listener, int]]:
    """The checked receiver on 127.0.0.1 and a rebinding target on 127.0.0.2, same port."""
    for _ in range(20):
        checked = await _listen("127.0.0.1", 0)
        assert checked.server is not None
        port = checked.server.sockets[0].getsockname()[1]
        try:
            rebound = await _listen("127.0.0.2", port)
        except OSError:  # the port is taken on 127.0.0.2: try another
            checked.server.close()
            continue
        break
    else:
        pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")
    yield checked, rebound, port
    for listener in (checked, rebound):
        assert listener.server is not None
        listener.server.close()
        await listener.server.wait_closed()


@pytest.fixture
async def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """The loop's resolver for NAME: 127.0.0.1 the first time, 127.0.0.2 after that
    (what a rebinding DNS server does). Other names resolve as usual. Returns the
    list of NAME lookups made."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[str] = []

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # anyio (httpx's own lookup) passes the name as bytes, the guard as str.
        name = host.decode() if isinstance(host, bytes) else host
        if name != NAME:
            return await real(host, port, *args, **kwargs)
        lookups.append(name)
        address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return lambda: lookups


def _due(channel: str, target: str) -> Due:
    return Due(id=uuid.uuid4(), subscription_id=uuid.uuid4(), subject="s", event_id="e",
               event_type="capaflow.capa.opened.v1",
               payload='{"type": "capaflow.capa.opened.v1", "data": {"title": "Leak"}}',
               attempts=0, channel=channel, target=target, secret="whsec_" + "A" * 32,
               previous_secret=None, previous_secret_expires_at=None)


@pytest.mark.parametrize("channel", ["webhook", "slack"])
async def test_the_send_goes_to_the_checked_address_not_a_second_lookup(
        pair: tuple[Listener, Listener, int], rebinding_dns: Callable[[], list[str]],
        channel: str) -> None:
    checked, rebound, port = pair
    # Only the first answer is allowed: a second lookup would answer 127.0.0.2.
    allowed = parse_networks(["127.0.0.1/32"])
    async with pinned_client(limits=LIMITS) as client:
        result = await send(_due(channel, f"http://{NAME}:{port}/hook"), client=client,
                            settings=NotificationsSettings(), allowed=allowed,
                            links=Links("https://capa.example", "https://nc.example"), now=NOW)
    assert result.outcome is Outcome.delivered, result.error
    assert rebinding_dns() == [NAME]  # resolved once, by the guard
    assert checked.host_headers() == [f"{NAME}:{port}"]  # the name travels in Host
    assert rebound.heads == []


async def test_an_unchecked_host_is_never_connected_to(
        pair: tuple[Listener, Listener, int]) -> None:
    checked, _, port = pair
    async with pinned_client(limits=LIMITS) as client:
        with pytest.raises(httpx.ConnectError, match="not checked"):
            await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
        # A pin for another name does not open this one either.
        with (pinned(CheckedTarget("other.test", port, ("127.0.0.1",))),
              pytest.raises(httpx.ConnectError, match="not checked")):
            await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert checked.heads == []


async def test_the_next_checked_address_is_tried_when_one_does_not_answer(
        pair: tuple[Listener, Listener, int]) -> None:
    checked, rebound, port = pair
    # 127.0.0.3 has no listener on the port: connection refused, then 127.0.0.1.
    target = CheckedTarget(NAME, port, ("127.0.0.3", "127.0.0.1"))
    async with pinned_client(limits=LIMITS) as client:
        with pinned(target):
            response = await client.post(f"http://{NAME}:{port}/hook", content=b"{}")
    assert response.status_code == 204
    assert len(checked.heads) == 1 and rebound.heads == []


def _tls(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name`` (signed by a throwaway CA)
    and a client context trusting only that CA."""
    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def build(subject: str, issuer: str, public: Any, signer: Any, ca: bool,
              san: x509.ExtensionType) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(hours=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .add_extension(san, critical=False)
                .sign(signer, hashes.SHA256()))

    ca_key, leaf_key = key(), key()
    ca = build("test CA", "test CA", ca_key.public_key(), ca_key, True,
               x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()))
    leaf = build(name, "test CA", leaf_key.public_key(), ca_key, False,
                 x509.SubjectAlternativeName([x509.DNSName(name)]))
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@pytest.mark.parametrize(("certified", "delivered"), [(NAME, True), ("other.test", False)])
async def test_https_to_a_pinned_address_sends_and_verifies_the_name(
        tmp_path: Path, rebinding_dns: Callable[[], list[str]], certified: str,
        delivered: bool) -> None:
    server_tls, client_tls = _tls(tmp_path, certified)
    names: list[str | None] = []

    def record_sni(_sock: Any, name: str | None, _ctx: Any) -> None:
        names.append(name)

    server_tls.sni_callback = record_sni
    listener = await _listen("127.0.0.1", 0, server_tls)
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    try:
        async with pinned_client(limits=LIMITS, verify=client_tls) as client:
            result = await webhook.post(client, url=f"https://{NAME}:{port}/hook", body="{}",
                                        headers={}, allowed=parse_networks(["127.0.0.1/32"]),
                                        timeout=5, now=NOW)
    finally:
        listener.server.close()
        await listener.server.wait_closed()
    assert names == [NAME]  # SNI carries the name, though the socket went to 127.0.0.1
    assert rebinding_dns() == [NAME]
    if delivered:
        assert result.outcome is Outcome.delivered, result.error
        assert listener.host_headers() == [f"{NAME}:{port}"]
    else:  # the certificate is checked against the name: another name's is refused
        assert result.outcome is Outcome.retry
        assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
        assert listener.heads == []



async def test_the_delivery_worker_sends_through_a_pinned_client(
        pair: tuple[Listener, Listener, int]) -> None:
    checked, _, port = pair
    worker = DeliveryWorker(sessions=None,  # type: ignore[arg-type]  # not used here
                            settings=NotificationsSettings())
    client = worker._client  # its own client, as production builds it
    try:
        with pytest.raises(httpx.ConnectError, match="not checked"):
            await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    finally:
        await client.aclose()
    assert checked.heads == []
