"""Authorisation: every route declares the roles it allows with ``require_roles``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from liveloop.core.types import Role


def require_roles(*roles: Role) -> Callable[..., Any]:
    """A dependency that admits only callers holding one of ``roles`` (admin always allowed)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def dependency(request: Request) -> Any:
        raise NotImplementedError("service shell pending")  # replaced by the service-shell work

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency
