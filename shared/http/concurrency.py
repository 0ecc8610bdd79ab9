"""Optimistic concurrency for edits: ETag on reads, If-Match required on updates."""

from shared.http.errors import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """428 without If-Match, 412 when it names another version than the current one."""
    if not if_match:
        raise Problem(428, "Send the ETag you last read in an If-Match header.",
                      title="Precondition required")
    # Weak tags compare as strong ones here; a bare version number is taken too.
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    tags |= {f'"{t}"' for t in tags if t.isdigit()}
    if "*" not in tags and etag(current_version) not in tags:
        raise Problem(412, "Someone changed this since you read it; reload and apply your "
                      "change again.", title="Precondition failed",
                      current_etag=etag(current_version))
