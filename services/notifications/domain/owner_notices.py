"""Owner notices: reminders and overdue notices e-mailed to the person they concern.

Subscriptions are what people and tools ask for; an owner notice is sent
whether or not anyone subscribed, to the owner of the record: the action's
owner for an action reminder or overdue action, the CAPA's owner otherwise.
Owners are identities, not addresses: an owner that is an e-mail address is
written to as it is; another is written to at ``<owner>@<owner e-mail
domain>`` when a deployment sets that domain; else no owner notice is sent
(subscriptions still hear of the event).
"""

import re
from collections.abc import Mapping
from typing import Any

from .targets import EMAIL_TARGET

# Event type -> the field of its data naming the person to tell.
OWNER_NOTICES: Mapping[str, str] = {
    "capaflow.capa.action_due_soon.v1": "action_owner",
    "capaflow.capa.due_soon.v1": "owner",
    "capaflow.capa.effectiveness_check_due.v1": "owner",
    "capaflow.capa.action_overdue.v1": "action_owner",
    "capaflow.capa.overdue.v1": "owner",
    # A supplier's answer to a SCAR falling due or late: the CAPA's owner follows up.
    "capaflow.scar.due_soon.v1": "owner",
    "capaflow.scar.overdue.v1": "owner",
}

_EMAIL = re.compile(EMAIL_TARGET)
# What may stand before "@domain": the identity characters an address's local
# part takes without quoting (identities are stored case-folded).
_LOCAL_PART = re.compile(r"^[a-z0-9._+'-]+$")


def recipient(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The identity an owner notice of this event goes to (None: not a notice, or no owner)."""
    field = OWNER_NOTICES.get(event_type)
    person = data.get(field) if field else None
    return person.strip() or None if isinstance(person, str) else None


def owner_address(identity: str, domain: str | None) -> str | None:
    """The e-mail address of an owner, or None when there is none to write to."""
    if "@" in identity:
        return identity if _EMAIL.match(identity) else None
    if domain and _LOCAL_PART.match(identity):
        address = f"{identity}@{domain}"
        return address if _EMAIL.match(address) else None
    return None
