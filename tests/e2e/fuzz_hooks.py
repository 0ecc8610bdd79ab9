"""schemathesis hooks for tests/e2e/test_fuzz.py (loaded via SCHEMATHESIS_HOOKS).

An Idempotency-Key names one request: a client sends a fresh key with each new
request and the same key only when it retries the same body. schemathesis
draws header values from a small pool, so it would send one key with many
bodies, which the server rightly refuses with 422 (draft-ietf-httpapi-
idempotency-key-header §2.7) and which no schema can rule out. A well-formed
key is therefore replaced by a fresh one, as a client would send; a malformed
one (the negative tests) is left as drawn.
"""

import re
import uuid
from typing import Any

import schemathesis

_WELL_FORMED = re.compile(r"^\S(.*\S)?$")


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    for name, value in list((case.headers or {}).items()):
        if (name.lower() == "idempotency-key" and isinstance(value, str)
                and len(value) <= 255 and _WELL_FORMED.match(value)):
            case.headers[name] = str(uuid.uuid4())
