"""Optimistic concurrency: which version of a record a change was based on.

Reads carry the version as an ETag; a change names the one it was based on
(HTTP's If-Match, passed through as given). The check is here, outside the
HTTP package, because use cases make it inside their transaction, against
the row they locked.
"""

from shared.errors import PreconditionFailed, PreconditionRequired


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
        raise PreconditionFailed("Someone changed this since you read it; reload and apply "
                                 "your change again.", current_etag=etag(current_version))
