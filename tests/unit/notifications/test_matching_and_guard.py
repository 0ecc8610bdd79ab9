"""Matching against cached filters, and the SSRF guard's literal-address fast path."""

import asyncio
import socket
import uuid
from typing import Any

import pytest

from services.notifications.channels.guard import TargetRefused, check_target
from services.notifications.domain import EventFilter, parse_networks
from services.notifications.service.matching import SubscriptionIndex

from .test_domain import NC

LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])


@pytest.mark.parametrize("filter_", [
    EventFilter(), EventFilter(event_types=("capaflow.capa.*",)),
    EventFilter(event_types=("*.reported.v1",), tags=("pump",)),
    EventFilter(min_severity="critical"), EventFilter(sources=("alertmanager",)),
])
@pytest.mark.parametrize("event_type", ["capaflow.capa.opened.v1",
                                        "capaflow.nonconformity.reported.v1"])
def test_type_and_data_halves_agree_with_matches(filter_: EventFilter, event_type: str) -> None:
    assert filter_.matches(event_type, NC) is (
        filter_.matches_type(event_type) and filter_.matches_data(NC))


def test_index_matches_like_the_filters_and_reuses_its_type_candidates() -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    index = SubscriptionIndex(7, [
        (ids[0], EventFilter(event_types=("capaflow.capa.*",))),
        (ids[1], EventFilter(event_types=("*.reported.v1",), tags=("pump",))),
        (ids[2], EventFilter(tags=("valve",))),
        (ids[3], EventFilter()),
    ])
    assert index.matching("capaflow.nonconformity.reported.v1", NC) == [ids[1], ids[3]]
    assert index.matching("capaflow.capa.opened.v1", {}) == [ids[0], ids[3]]
    # Same type, other data: the type's candidates are reused, the data still decides.
    assert index.matching("capaflow.nonconformity.reported.v1", {"tags": ["valve"]}) \
        == [ids[2], ids[3]]


@pytest.fixture
async def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails any getaddrinfo of the running loop; records the hosts asked for."""
    asked: list[str] = []
    loop = asyncio.get_running_loop()

    async def refuse(host: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        raise socket.gaierror("no DNS in this test")

    monkeypatch.setattr(loop, "getaddrinfo", refuse)
    return asked


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://[::1]:9000/hook",
                                 "https://127.0.0.2/x"])
async def test_literal_loopback_is_checked_without_dns(no_dns: list[str], url: str) -> None:
    await check_target(url, LOOPBACK)
    with pytest.raises(TargetRefused, match="loopback"):
        await check_target(url, ())
    assert no_dns == []


@pytest.mark.parametrize("url", ["http://10.0.0.7/hook", "http://169.254.169.254/latest",
                                 "http://[::ffff:192.168.0.1]/x", "http://[fe80::1]/x"])
async def test_literal_private_addresses_are_refused_without_dns(no_dns: list[str],
                                                                 url: str) -> None:
    with pytest.raises(TargetRefused, match="non-public"):
        await check_target(url, LOOPBACK)
    assert no_dns == []


async def test_literal_public_address_passes_without_dns(no_dns: list[str]) -> None:
    await check_target("https://93.184.215.14/hook", ())
    assert no_dns == []


@pytest.mark.parametrize("host", ["localhost", "hooks.example", "127.1", "0x7f.0.0.1"])
async def test_names_and_odd_literals_still_go_through_the_resolver(no_dns: list[str],
                                                                    host: str) -> None:
    with pytest.raises(TargetRefused, match="does not resolve"):
        await check_target(f"http://{host}/hook", LOOPBACK)
    assert no_dns == [host]


async def test_a_name_resolving_to_a_private_address_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def resolve(host: str, port: int, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(loop, "getaddrinfo", resolve)
    with pytest.raises(TargetRefused, match="private"):
        await check_target("https://rebound.example/hook", ())
