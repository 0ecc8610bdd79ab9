"""The headers of optimistic concurrency (If-Match) and of retry-safe creations
(Idempotency-Key); shared.versions checks the version a change was based on."""

from typing import Annotated

from fastapi import Header

# HTTP strips a header value's surrounding white space, so the patterns ask
# for a visible first and last character: what the schema admits arrives whole.
_VISIBLE = r"^\S(.*\S)?$"

# Declared required, so the OpenAPI says what the server enforces; a request
# without it still gets the 428 below (see errors.install_problem_handlers),
# not a generic 422: "precondition required" tells the client what to do.
IfMatch = Annotated[str, Header(alias="If-Match", pattern=_VISIBLE,
                                description="The ETag you last read. Without it: 428; "
                                            "when someone changed it since: 412.")]
# Where a lifecycle step may also be taken blind (correction, close, reopen).
OptionalIfMatch = Annotated[str | None, Header(
    alias="If-Match", pattern=_VISIBLE,
    description="Optional: the ETag you last read; when someone changed it since: 412.")]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255, pattern=_VISIBLE,
    description="Any unique value: a retry with the same key and body gets the first "
                "answer; the same key with another body is a 422.")]
