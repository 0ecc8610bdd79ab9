"""Which target addresses the SSRF guard refuses, IPv4 carried inside IPv6 included.

An IPv6 address can carry an IPv4 one that a relay, a NAT64 gateway or the
host's own stack reaches on our behalf: ``2002:7f00:1::`` (6to4) ends at
127.0.0.1, ``64:ff9b::a9fe:a9fe`` (NAT64) at the cloud metadata service.
Judging such an address by its IPv6 ranges alone (Python's tables differ
between versions: 6to4 counts as global before 3.12.4) would let those
through, so every IPv4 such a form embeds is checked too, with the same
rules and allow-list as a plain IPv4 target.
"""

import ipaddress
from collections.abc import Sequence

from ..domain import IPNetwork, refused_address

_V4 = 2**32 - 1
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291, deprecated
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215
# Where RFC 6052 puts the IPv4 for each prefix length a 64:ff9b:1::/48 network
# may use (it picks one; we cannot know which): the byte offsets of its four
# octets. Byte 8 (bits 64..71) is the reserved "u" octet, always skipped.
_NAT64_OFFSETS = {48: (6, 7, 9, 10), 56: (7, 9, 10, 11), 64: (9, 10, 11, 12),
                  96: (12, 13, 14, 15)}


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Every IPv4 address ``ip`` carries, each with the name of the form carrying it.

    IPv4-mapped addresses (``::ffff:a.b.c.d``) are not listed: the guard
    treats them as the IPv4 itself, which is what the socket connects to.
    """
    value = int(ip)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo  # the client's bits are already un-inverted
        found += [("Teredo server", server), ("Teredo client", client)]
    if ip in _NAT64_WELL_KNOWN:
        found.append(("NAT64", ipaddress.IPv4Address(value & _V4)))
    elif ip in _NAT64_LOCAL_USE:
        packed = ip.packed
        found += [("NAT64", ipaddress.IPv4Address(bytes(packed[i] for i in offsets)))
                  for offsets in _NAT64_OFFSETS.values()]
    if ip in _IPV4_COMPATIBLE and value > 1:  # :: and ::1 are not IPv4-compatible
        found.append(("IPv4-compatible", ipaddress.IPv4Address(value & _V4)))
    if ip in _IPV4_TRANSLATED:
        found.append(("IPv4-translated", ipaddress.IPv4Address(value & _V4)))
    # ISATAP interface id (RFC 5214): 0000:5efe or 0200:5efe (the u/l and group
    # bits may be set) then the IPv4, behind any /64 prefix.
    if (value >> 32) & 0xFCFFFFFF == 0x00005EFE:
        found.append(("ISATAP", ipaddress.IPv4Address(value & _V4)))
    return found


def refused_target_address(address: str, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a resolved target address is refused, or None when it may be called.

    Refused when the address itself is neither allowed nor public, or when any
    IPv4 it embeds is neither allowed nor public.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        for form, ipv4 in embedded_ipv4(ip):
            reason = refused_address(str(ipv4), allowed)
            if reason is not None:
                return f"{address} is {form} for {ipv4}, and {reason}"
    return refused_address(address, allowed)
