"""The SSRF guard checks the IPv4 carried by IPv6 transition forms (issue 13.8)."""

import ipaddress

import pytest

from services.notifications.channels.addresses import embedded_ipv4, refused_target_address
from services.notifications.channels.guard import TargetRefused, check_target
from services.notifications.domain import parse_networks

PRODUCTION: tuple[()] = ()  # the production allow-list: nothing
LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])


@pytest.mark.parametrize(("address", "form", "ipv4", "kind"), [
    ("2002:7f00:1::", "6to4", "127.0.0.1", "loopback"),
    ("2002:a9fe:a9fe::", "6to4", "169.254.169.254", "link-local"),
    ("64:ff9b::7f00:1", "NAT64", "127.0.0.1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64", "169.254.169.254", "link-local"),
    # Local-use NAT64 with a /48 prefix: the IPv4 straddles the reserved octet.
    ("64:ff9b:1:7f00:0:100::", "NAT64", "127.0.0.1", "loopback"),
    # Teredo: the client's IPv4 is stored inverted in the last 32 bits ...
    ("2001:0:4136:e378::80ff:fffe", "Teredo client", "127.0.0.1", "loopback"),
    # ... and the relay's (server) IPv4 sits in bits 32..63.
    ("2001:0:a00:1::a247:28f1", "Teredo server", "10.0.0.1", "private"),
    ("::7f00:1", "IPv4-compatible", "127.0.0.1", "loopback"),
    ("::ffff:0:a9fe:a9fe", "IPv4-translated", "169.254.169.254", "link-local"),
    # ISATAP interface ids behind a global prefix, with and without the u/l bit.
    ("2600::5efe:7f00:1", "ISATAP", "127.0.0.1", "loopback"),
    ("2600::200:5efe:a9fe:a9fe", "ISATAP", "169.254.169.254", "link-local"),
])
async def test_an_ipv6_literal_wrapping_a_refused_ipv4_is_refused(
        address: str, form: str, ipv4: str, kind: str) -> None:
    with pytest.raises(TargetRefused, match="non-public") as refused:
        await check_target(f"http://[{address}]/hook", PRODUCTION)
    assert f"{form} for {ipv4}" in str(refused.value)
    assert kind in str(refused.value)


async def test_a_name_resolving_to_6to4_around_the_metadata_address_is_refused() -> None:
    asked: list[tuple[str, int]] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["2606:4700:4700::1111", "2002:a9fe:a9fe::1"]

    with pytest.raises(TargetRefused, match=r"6to4 for 169\.254\.169\.254"):
        await check_target("https://Hooks.Example/x", PRODUCTION, resolver=resolver)
    assert asked == [("hooks.example", 443)]


@pytest.mark.parametrize("address", [
    "2606:4700:4700::1111",  # plain global IPv6: nothing embedded
    "2600::200:5efe:5db8:d70e",  # ISATAP around a public IPv4 (93.184.215.14)
])
async def test_global_ipv6_without_a_refused_ipv4_passes(address: str) -> None:
    checked = await check_target(f"https://[{address}]:8443/hook", PRODUCTION)
    assert checked.addresses == (address,) and checked.port == 8443


def test_the_allow_list_applies_to_the_embedded_ipv4_too() -> None:
    # Mapped addresses are the IPv4 itself, as before.
    assert refused_target_address("::ffff:127.0.0.1", LOOPBACK) is None
    # NAT64 to loopback stays refused: the IPv6 itself (64:ff9b::/96 is not
    # 127.0.0.0/8) must be allowed or public too.
    assert refused_target_address("64:ff9b::7f00:1", LOOPBACK) is not None
    assert refused_target_address("::1", LOOPBACK) is None  # not "IPv4-compatible"


def test_embedded_forms_listed() -> None:
    def forms(address: str) -> list[tuple[str, str]]:
        return [(form, str(v4)) for form, v4
                in embedded_ipv4(ipaddress.IPv6Address(address))]

    assert forms("2001:0:4136:e378::80ff:fffe") == [("Teredo server", "65.54.227.120"),
                                                    ("Teredo client", "127.0.0.1")]
    assert ("NAT64", "127.0.0.1") in forms("64:ff9b:1::7f00:1")  # the /96 position
    assert forms("::1") == forms("::") == forms("2606:4700:4700::1111") == []
