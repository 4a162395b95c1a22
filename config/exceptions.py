"""Domain errors and the one place they become HTTP responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused an operation.

    Services raise subclasses; the DRF exception handler renders them as
    ``{"detail", "code", "extra"}`` with the class's HTTP status. Services never
    import DRF, so the status lives here as a plain int.
    """

    code: str = "domain_error"
    status: int = 400
    default_detail: str = "The request was refused."

    def __init__(
        self, detail: str | None = None, *, code: str | None = None, status: int | None = None, **extra: Any
    ) -> None:
        self.detail = detail or self.default_detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra
        super().__init__(self.detail)

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, "extra": self.extra}


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_detail = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_detail = "The request conflicts with the current state."


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
    default_detail = "Invalid input."


class BodyTooLarge(DomainError):
    """The request body is larger than this endpoint takes; ``extra["max_bytes"]`` says how large it may be."""

    code = "request_too_large"
    status = 413
    default_detail = "The request body is too large."

    def __init__(self, *, max_bytes: int) -> None:
        super().__init__(max_bytes=max_bytes)
