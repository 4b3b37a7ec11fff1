"""Ground floor: settings, errors, identifiers, clock and the domain enums."""

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import (
    Conflict,
    DataMissing,
    InsufficientData,
    LiveloopError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from liveloop.core.types import Channel, EventType, Role

__all__ = [
    "Channel",
    "Conflict",
    "DataMissing",
    "EventType",
    "InsufficientData",
    "LiveloopError",
    "NotFound",
    "PermissionDenied",
    "Role",
    "Settings",
    "ValidationFailed",
    "get_settings",
]
