"""The error family every face renders the same way: CLI one line, API RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class LiveloopError(Exception):
    """A failure with a clear, user-facing reason (never shown as a traceback)."""

    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """RFC 9457 problem details for this error."""
        body: dict[str, Any] = {
            "type": f"https://liveloop.dev/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.field:
            body["field"] = self.field
            body["errors"] = [{"field": self.field, "message": self.detail}]
        body.update(self.extra)
        return body


class ValidationFailed(LiveloopError):
    status, title, type_slug = 422, "Validation failed", "validation"


class NotFound(LiveloopError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(LiveloopError):
    status, title, type_slug = 409, "Conflict", "conflict"


class PermissionDenied(LiveloopError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class Unauthorized(LiveloopError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"


class WarehouseInUse(Conflict):
    """Another process (usually ``liveloop serve``) holds the warehouse file."""


class DataMissing(LiveloopError):
    """A public data set file is absent from LIVELOOP_DATA_HOME."""

    status, title, type_slug = 404, "Data set missing", "data-missing"


class InsufficientData(LiveloopError):
    """A model or report cannot be computed honestly from the data at hand."""

    status, title, type_slug = 409, "Insufficient data", "insufficient-data"


class Unavailable(LiveloopError):
    """A tool the request needs is not installed here (say which, and how to get it)."""

    status, title, type_slug = 503, "Unavailable", "unavailable"


class WarehouseVersionError(LiveloopError):
    status, title, type_slug = 409, "Warehouse version", "warehouse-version"


def reject_unknown(data: Any, known: Any, what: str, prefix: str = "") -> None:
    """A clear error naming the first key of ``data`` that is not in ``known`` (a dataclass or names)."""
    names = set(getattr(known, "__dataclass_fields__", known))
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValidationFailed(f"unknown {what} field {unknown[0]!r}", field=f"{prefix}{unknown[0]}")
