"""What a use case answers when it refuses: one family for every service.

Use cases and domain rules raise these; they never speak HTTP. The HTTP edge
(shared.http.errors.install_problem_handlers) maps each kind to its status and
a problem+json document in one place, so a refusal reads the same in every
service.
"""

from typing import Any, ClassVar


class UseCaseError(Exception):
    """A refusal: ``detail`` is shown to the caller, ``extensions`` are added to the problem."""

    status: ClassVar[int] = 400
    # With the type about:blank, the title is the status's phrase (RFC 9457 §4.2.1);
    # a refusal clients tell apart by title overrides it.
    kind_title: ClassVar[str] = "Bad Request"

    def __init__(self, detail: str, *, title: str | None = None,
                 type_uri: str = "about:blank", headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        # A more precise title where callers tell refusals of one kind apart.
        self.title = title or self.kind_title
        # A problem type URI where clients branch on the kind (RFC 9457 ``type``).
        self.type_uri = type_uri
        # Advice for the retry, e.g. Retry-After; the edge sends them as headers.
        self.headers = headers
        self.extensions = extensions


class BadRequest(UseCaseError):
    """A parameter that cannot be used (e.g. a cursor this API never gave out)."""


class NotFound(UseCaseError):
    status, kind_title = 404, "Not Found"


class Conflict(UseCaseError):
    """The request is fine but the record's state does not allow it now."""

    status, kind_title = 409, "Conflict"


class NotPermitted(UseCaseError):
    """The caller is known but may not do this (to this record)."""

    status, kind_title = 403, "Forbidden"


class PreconditionRequired(UseCaseError):
    """A change that must name the version it was based on (If-Match) did not."""

    status, kind_title = 428, "Precondition Required"


class PreconditionFailed(UseCaseError):
    """The version the change was based on is not the current one."""

    status, kind_title = 412, "Precondition Failed"


class Invalid(UseCaseError):
    """Input a schema cannot judge alone: ``errors`` lists field and message."""

    status, kind_title = 422, "Validation failed"

    def __init__(self, detail: str, errors: list[tuple[str, str]] | None = None,
                 *, title: str | None = None, **extensions: Any) -> None:
        if errors is not None:
            extensions["errors"] = [{"field": f, "message": m} for f, m in errors]
        super().__init__(detail, title=title, **extensions)


class TooLarge(UseCaseError):
    """More than a limit allows (an evidence file over its size limit)."""

    status, kind_title = 413, "Content Too Large"


class UnsupportedType(UseCaseError):
    """Content of a type this endpoint does not take (or not the type it claims)."""

    status, kind_title = 415, "Unsupported Media Type"


class Unavailable(UseCaseError):
    """Something the use case needs is not reachable now; the caller may retry."""

    status, kind_title = 503, "Temporarily unavailable"
