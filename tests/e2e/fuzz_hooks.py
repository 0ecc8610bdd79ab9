"""schemathesis hooks for tests/e2e/test_fuzz.py (loaded via SCHEMATHESIS_HOOKS).

An Idempotency-Key names one request: a client sends a fresh key with each new
request and the same key only when it retries the same body. schemathesis
draws header values from a small pool, so it would send one key with many
bodies, which the server rightly refuses with 422 (draft-ietf-httpapi-
idempotency-key-header §2.7) and which no schema can rule out. A well-formed
key is therefore replaced by a fresh one, as a client would send; a malformed
one (the negative tests) is left as drawn.

A webhook or Slack target of the right shape may still point somewhere the SSRF
guard refuses: a host name that does not resolve (schemathesis invents names)
or one that resolves to a non-public address. That depends on DNS and the
network, not on the request, so no schema can predict it. The notifications
service answers it with a 422 of its own documented problem type
(services/notifications/domain/targets.TARGET_NOT_ALLOWED); only that refusal of
schema-valid data is dropped, every other one still fails the run.

Likewise a SCAR's due date in the past (or more than a year ahead): the schema
states the calendar's range, but what "today" is belongs to the clock. The CAPA
service answers it with a 422 of its own documented problem type
(services/capa/domain/scar.DATE_OUTSIDE_WINDOW); only that one is dropped. A
review meeting's `held_on` after today is the same refusal. So is a supplier's
contact listed twice (services/capa/domain/supplier.DUPLICATE_CONTACT): each
address is valid, but two spellings of one address are one contact, which a
list's schema cannot state.

Likewise a report's period that does not run forward (`since` at or after
`until`, or a `since` later than now with `until` left to default): each
parameter is a valid time on its own, and a rule across two of them is
something no OpenAPI schema states. The review pack, the review figures, the
supplier scorecards, the NC review report and a review meeting's pack reference
answer it with a 422 of its own documented problem type
(shared/periods.PERIOD_NOT_FORWARD); only that one is dropped.

Likewise an evidence upload: the schema says "a file", but whether its bytes
are a PDF or an image (and what the part's Content-Type claims) is the
content's business, which no schema states. Its refusal is a 415 of its own
documented problem type (shared/evidence/rules.TYPE_REFUSED); only that one is
dropped.
"""

import re
import uuid
from typing import Any

import schemathesis

from services.capa.domain.scar import DATE_OUTSIDE_WINDOW
from services.capa.domain.supplier import DUPLICATE_CONTACT
from services.notifications.domain.targets import TARGET_NOT_ALLOWED
from shared.evidence.rules import TYPE_REFUSED
from shared.periods import PERIOD_NOT_FORWARD

_WELL_FORMED = re.compile(r"^\S(.*\S)?$")
# schemathesis' code for "schema-valid request rejected" (positive_data_acceptance).
_REJECTED_POSITIVE_DATA = "ST202"


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    for name, value in list((case.headers or {}).items()):
        if (name.lower() == "idempotency-key" and isinstance(value, str)
                and len(value) <= 255 and _WELL_FORMED.match(value)):
            case.headers[name] = str(uuid.uuid4())


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a guard's refusal of where a valid target points, the
    evidence rules' refusal of what a valid file holds, a date outside the window
    today sets, a contact listed twice, and a period that does not run forward."""
    expected = {422: {TARGET_NOT_ALLOWED, DATE_OUTSIDE_WINDOW, DUPLICATE_CONTACT,
                      PERIOD_NOT_FORWARD},
                415: {TYPE_REFUSED}}.get(response.status_code)
    if failure.code != _REJECTED_POSITIVE_DATA or expected is None:
        return True
    try:
        problem = response.json()
    except ValueError:
        return True
    return not (isinstance(problem, dict) and problem.get("type") in expected)
