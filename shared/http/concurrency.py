"""Optimistic concurrency for edits (ETag on reads, If-Match required on updates)
and the Idempotency-Key header of retry-safe creations."""

from typing import Annotated

from fastapi import Header

from shared.errors import PreconditionFailed, PreconditionRequired

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


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """428 without If-Match, 412 when it names another version than the current one."""
    if not if_match:
        raise PreconditionRequired("Send the ETag you last read in an If-Match header.")
    # Weak tags compare as strong ones here; a bare version number is taken too.
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    tags |= {f'"{t}"' for t in tags if t.isdigit()}
    if "*" not in tags and etag(current_version) not in tags:
        raise PreconditionFailed("Someone changed this since you read it; reload and apply your "
                      "change again.", current_etag=etag(current_version))
