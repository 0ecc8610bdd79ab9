"""Who owns a CAPA opened by an escalation: the owner policy.

An escalated CAPA used to get the NC's owner or nobody, and a CAPA nobody owns
is a CAPA nobody works on (issue 16). The policy names an owner per cause
category, NC source or severity, and a fallback, so every escalated CAPA has a
person from the moment it opens. The NC's own owner, when it has one, still
wins: the person who triaged it knows it best.

The setting is a JSON object (``CAPA_OWNER_POLICY``)::

    {"monitoring": "sre-lead", "audit": "qa-lead",
     "category:payments": "payments-lead", "severity:critical": "quality-manager",
     "*": "quality-manager"}

A bare key is an NC source; ``category:`` and ``severity:`` keys name the
others; ``*`` is the fallback. The most specific rule wins: category (what the
problem is) before source (where it came from) before severity (how bad it is)
before the fallback. Categories compare without regard to case, as the
escalation policy compares them.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.events.base import Severity
from shared.identity import InvalidIdentity, canonical_identity
from shared.vocabulary import Source

FALLBACK = "*"
CATEGORY_PREFIX = "category:"
SEVERITY_PREFIX = "severity:"


class InvalidOwnerPolicy(ValueError):
    """The setting names an unknown source or severity, or an owner that is no identity."""


@dataclass(frozen=True)
class OwnerPolicy:
    by_category: Mapping[str, str] = field(default_factory=dict)
    by_source: Mapping[str, str] = field(default_factory=dict)
    by_severity: Mapping[str, str] = field(default_factory=dict)
    fallback: str | None = None

    def owner_for(self, *, source: str | None, category: str | None,
                  severity: str | None) -> tuple[str, str] | None:
        """The owner and the rule that chose it (``"source:monitoring"``), or None
        when no rule applies and there is no fallback."""
        if category and (owner := self.by_category.get(category.strip().casefold())):
            return owner, f"{CATEGORY_PREFIX}{category.strip().casefold()}"
        if source and (owner := self.by_source.get(source)):
            return owner, f"source:{source}"
        if severity and (owner := self.by_severity.get(severity)):
            return owner, f"{SEVERITY_PREFIX}{severity}"
        if self.fallback:
            return self.fallback, FALLBACK
        return None


NO_POLICY = OwnerPolicy()


def parse_owner_policy(rules: Mapping[str, str]) -> OwnerPolicy:
    """The policy of the setting's object; every owner in its canonical form.

    Raises :class:`InvalidOwnerPolicy` naming the first bad rule, so a typo is a
    start-up error rather than CAPAs silently left without an owner.
    """
    by_category: dict[str, str] = {}
    by_source: dict[str, str] = {}
    by_severity: dict[str, str] = {}
    fallback: str | None = None
    sources = {s.value for s in Source}
    severities = {s.value for s in Severity}
    for raw_key, raw_owner in rules.items():
        key = raw_key.strip()
        owner = _owner(raw_key, raw_owner)
        if key == FALLBACK:
            fallback = owner
        elif key.startswith(CATEGORY_PREFIX):
            category = key.removeprefix(CATEGORY_PREFIX).strip().casefold()
            if not category or len(category) > 100:
                raise InvalidOwnerPolicy(f"{raw_key!r}: name a category of 1 to 100 "
                                         "characters after 'category:'")
            by_category[category] = owner
        elif key.startswith(SEVERITY_PREFIX):
            severity = key.removeprefix(SEVERITY_PREFIX).strip()
            if severity not in severities:
                raise InvalidOwnerPolicy(f"{raw_key!r}: unknown severity; one of "
                                         f"{', '.join(sorted(severities))}")
            by_severity[severity] = owner
        elif key in sources:
            by_source[key] = owner
        else:
            raise InvalidOwnerPolicy(
                f"{raw_key!r}: not a source ({', '.join(sorted(sources))}), "
                "'category:<name>', 'severity:<level>' or '*'")
    return OwnerPolicy(by_category=by_category, by_source=by_source,
                       by_severity=by_severity, fallback=fallback)


def _owner(key: str, owner: object) -> str:
    if not isinstance(owner, str) or not owner.strip():
        raise InvalidOwnerPolicy(f"{key!r}: the owner must be a person's identity (text)")
    if len(owner) > 127:
        raise InvalidOwnerPolicy(f"{key!r}: the owner is longer than 127 characters")
    try:
        return canonical_identity(owner)
    except InvalidIdentity as exc:
        raise InvalidOwnerPolicy(f"{key!r}: the owner {exc}") from None
