"""What a use case answers when it refuses; the API maps each to a problem."""

from typing import Any


class UseCaseError(Exception):
    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(UseCaseError):
    pass


class Conflict(UseCaseError):
    """The request is fine but the CAPA's state does not allow it now."""


class NotPermitted(UseCaseError):
    """The caller holds the role but may not do this to this CAPA (e.g. owner verifying)."""


class Invalid(UseCaseError):
    """Input a schema cannot judge alone: ``errors`` lists field and message."""

    def __init__(self, detail: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(detail, errors=[{"field": f, "message": m} for f, m in errors])


class BadRequest(UseCaseError):
    """A query parameter that cannot be used (e.g. a cursor this API never gave out)."""
