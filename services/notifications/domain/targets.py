"""What a subscription's target looks like, per channel: one pattern for the
OpenAPI document and for the server, so the schema admits exactly the targets
the server takes apart from what no schema can know (where a host name points).

A webhook or Slack target is an http(s) URL whose shape the SSRF guard (and
the HTTP client behind it) accepts; tests/unit/notifications/test_targets.py
checks generated URLs against the guard. Whether its host resolves, and to a
public address, is checked afterwards: that refusal has its own problem type.
"""

import re

from shared.text import BLANKS

from .kinds import Channel

# service.subscriptions.check_subscription_target's rule since the start, with the blanks of
# Python's \s spelt out (so every regex engine reads it alike), and no NUL.
EMAIL_TARGET = rf"^[^@<>\x00{BLANKS}]+@[^@<>\x00{BLANKS}]+\.[^@<>\x00{BLANKS}]+$"

_H16 = "[0-9A-Fa-f]{1,4}"
_IPV6 = "|".join([  # the RFC 4291 text forms without an embedded IPv4 address
    f"(?:{_H16}:){{7}}{_H16}", f"(?:{_H16}:){{1,7}}:",
    *[f"(?:{_H16}:){{1,{7 - n}}}(?::{_H16}){{1,{n}}}" for n in range(1, 7)],
    f":(?::{_H16}){{1,7}}", "::"])
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The last label starts with a letter, so a name never reads as a malformed
# IPv4 address (01.01.01.01), which the HTTP client refuses.
_TOP_LABEL = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = ("(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
         "|6553[0-5])")
# No user name or password (the guard refuses them); printable ASCII after the
# host (an international name is given in its xn-- form, a path percent-encoded).
WEB_TARGET = (rf"^https?://(?:(?:{_LABEL}\.)*{_TOP_LABEL}\.?|{_OCTET}(?:\.{_OCTET}){{3}}"
              rf"|\[(?:{_IPV6})\])(?::{_PORT})?(?:[/?#][!-~]*)?$")
# A PATCH does not repeat the channel: its target is one kind or the other.
ANY_TARGET = f"(?:{EMAIL_TARGET})|(?:{WEB_TARGET})"

# The problem type of a target the SSRF guard refuses: its host does not
# resolve, or resolves to an address that is not public (or not allowed here).
TARGET_NOT_ALLOWED = "urn:capaflow:problem:target-not-allowed"

_EMAIL = re.compile(EMAIL_TARGET)
_WEB = re.compile(WEB_TARGET)


def fits(channel: Channel, target: str) -> bool:
    """Whether ``target`` has the shape of a target of ``channel``."""
    return bool((_EMAIL if channel is Channel.email else _WEB).match(target))
