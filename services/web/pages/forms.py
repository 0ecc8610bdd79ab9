"""What the nonconformity and CAPA pages share: reading posted forms, and turning
an API's refusal into messages on the form that was sent.

Not a page module (no router): the pages import it.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..client import ApiError
from .wording import GENERIC_DETAIL, LABELS, plain

# Refusals a person can act on are shown on the form with the API's status; the
# rest (401, 404, 503) go to the app's error handler (sign-in, error page).
FORM_STATUSES = {400: 422, 403: 403, 409: 409, 412: 412, 422: 422, 428: 412}

STALE_MESSAGE = ("Someone else changed this first. The page now shows the current version; "
                 "check it and send your change again.")


@dataclass
class FormState:
    """The outcome of one form on a page: which form, what was posted, what went wrong."""

    name: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    stale: bool = False
    status: int = 200

    def of(self, name: str) -> "FormState":
        """This state if it belongs to form ``name``, else an empty one (so only the
        form that was sent shows values and errors)."""
        return self if self.name == name else FormState(name=name)

    def value(self, key: str, default: Any = "") -> Any:
        return self.values.get(key, default)


def refused(name: str, exc: ApiError, values: dict[str, Any],
            aliases: dict[str, str] | None = None, stale_message: str = STALE_MESSAGE,
            explain: Callable[[str, str], str | None] | None = None) -> FormState:
    """The form state for an API refusal; re-raises what is no form problem.

    Every message is put in plain words (wording.plain); ``explain(api_field,
    message)`` may word one more precisely (the 5-Whys rows), or return None.
    """
    status = FORM_STATUSES.get(exc.status)
    if status is None:
        raise exc
    errors: dict[str, str] = {}
    unplaced: list[str] = []
    for key, raw in exc.field_errors().items():
        message = (explain(key, raw) if explain else None) or plain(raw)
        target = _place(key, values, aliases or {})
        if target is not None:
            errors.setdefault(target, message)
        elif key in ("", "body"):  # about the whole form (a cross-field rule)
            unplaced.append(message)
        else:
            unplaced.append(f"{LABELS.get(key, key)}: {message}")
    if exc.status == 428:  # the form lacked its ETag; the re-rendered page carries one
        message = "The page did not say which version you edited; it now shows the " \
                  "current one. Check it and send your change again."
    elif status == 412:
        message = stale_message
    elif status == 403:
        message = f"You are not allowed to do this: {plain(str(exc))}"
    elif str(exc) == GENERIC_DETAIL and unplaced and not errors:
        # Only messages no field shows: they are the whole story.
        message, unplaced = "; ".join(unplaced), []
    else:
        message = plain(str(exc))
    if unplaced:
        message = f"{message} ({'; '.join(unplaced)})"
    return FormState(name=name, values=values, errors=errors, message=message,
                     stale=status == 412, status=status)


def _place(key: str, values: dict[str, Any], aliases: dict[str, str]) -> str | None:
    """The form field an API error belongs to: "lesson.tags.0" -> the alias of
    "lesson.tags" or "lesson", else a posted field of that name."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in aliases:
            return aliases[prefix]
        if prefix in values:
            return prefix
    return None


async def posted(request: Request) -> dict[str, str]:
    """The posted fields (single values); the CSRF token is left out."""
    form = await request.form()
    return {k: v.strip() if isinstance(v, str) else "" for k, v in form.items()
            if k != "csrf_token"}


async def posted_list(request: Request, name: str) -> list[str]:
    form = await request.form()
    return [v if isinstance(v, str) else "" for v in form.getlist(name)]


def text(value: str | None) -> str | None:
    """A blank field means "not given": the APIs refuse empty strings."""
    value = (value or "").strip()
    return value or None


def words(value: str | None) -> list[str]:
    """Tags typed as "a, b c" -> ["a", "b", "c"]."""
    return [w for w in (value or "").replace(",", " ").split() if w]


def lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def new_idempotency_key() -> str:
    """Put in a create form when it is shown: sending the form twice (double click,
    resend after a timeout) creates one record, not two."""
    return str(uuid.uuid4())


def valid_uuid(value: str, what: str) -> str:
    """A path id that is no UUID is a page that does not exist (not a 422)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, f"There is no {what} '{value[:60]}'.") from None


def allowed(value: str | None, options: tuple[str, ...]) -> str | None:
    """A filter value the API knows, else none (a stale bookmark is not an error)."""
    return value if value in options else None


def capa_request(values: dict[str, str], *, kind: str,
                 nonconformity_id: str | None = None) -> dict[str, Any]:
    """The POST /v1/capas body from an "open a CAPA" form (blank fields left out)."""
    body: dict[str, Any] = {
        "kind": kind, "nonconformity_id": nonconformity_id,
        "title": values.get("title", ""), "severity": values.get("severity", ""),
        "description": text(values.get("description")), "owner": text(values.get("owner")),
        "due_date": text(values.get("due_date")), "source": text(values.get("source")),
    }
    if values.get("likelihood", "").isdigit():
        body["likelihood"] = int(values["likelihood"])
    return {k: v for k, v in body.items() if v is not None}
