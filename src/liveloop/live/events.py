"""Room events as the copilot sees them: a small normalised record and the parser that makes one."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from liveloop.core.clock import checked_time
from liveloop.core.errors import ValidationFailed
from liveloop.live.text import to_text

#: Accepted event types, with the synonyms the warehouse, Bilibili logs and SDKs use.
EVENT_TYPES: dict[str, str] = {
    "comment": "comment",
    "danmaku": "comment",
    "chat": "comment",
    "enter": "enter",
    "enter_room": "enter",
    "leave": "leave",
    "leave_room": "leave",
    "like": "like",
    "share": "share",
    "follow": "follow",
    "gift": "gift",
    "super_chat": "gift",
    "click": "click",
    "cart": "cart",
    "add_to_cart": "cart",
    "purchase": "purchase",
    "viewers": "viewers",
    "online": "viewers",
    "stage": "stage",
    "present": "stage",
    "explain": "stage",
}
#: Room event types as the warehouse's ``events`` table names them (the others are not user events).
WAREHOUSE_TYPES: dict[str, str] = {
    "comment": "comment",
    "enter": "enter_room",
    "leave": "leave_room",
    "like": "like",
    "share": "share",
    "follow": "follow",
    "gift": "gift",
    "click": "click",
    "cart": "add_to_cart",
    "purchase": "purchase",
}
MAX_ID = 128


@dataclass(slots=True)
class RoomEvent:
    """One comment or room event, time as epoch seconds (event time, used by the windows)."""

    type: str
    ts: float
    user_id: str = ""
    text: str = ""
    product_id: str | None = None
    amount: float = 0.0
    quantity: int = 1
    count: int = 0
    props: dict[str, Any] = field(default_factory=dict)
    received: float = 0.0  # monotonic time it reached the copilot (latency measurement)
    event_id: str | None = None  # the client's id (idempotency in the warehouse), if it sent one


def _ts(value: Any, index: int) -> float:
    """Epoch seconds of an event time, inside the range every write path shares (``core.clock``)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not ISO 8601: checked_time names the field
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return checked_time(value, f"events[{index}].ts").timestamp()


def _number(raw: dict[str, Any], key: str, default: float, index: int) -> float:
    value = raw.get(key, default)
    if value is None:
        return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"event {index}: {key} must be a number", field=f"events[{index}].{key}"
        ) from None
    if not math.isfinite(out) or out < 0:
        raise ValidationFailed(
            f"event {index}: {key} must be finite and >= 0", field=f"events[{index}].{key}"
        )
    return out


#: The fields a live event may have; anything else belongs in ``props``.
FIELDS = frozenset(
    {"type", "ts", "user_id", "text", "product_id", "amount", "quantity", "count", "props", "event_id"}
)


def parse_event(raw: dict[str, Any], index: int = 0, received: float = 0.0) -> RoomEvent:
    """A validated :class:`RoomEvent` from a JSON-like dict; bad fields raise ValidationFailed naming them."""
    if not isinstance(raw, dict):
        raise ValidationFailed(f"event {index} must be an object", field=f"events[{index}]")
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        raise ValidationFailed(
            f"event {index}: unknown field {unknown[0]!r} (known: {', '.join(sorted(FIELDS))}; "
            "put anything else in props)",
            field=f"events[{index}].{unknown[0]}",
        )
    etype = EVENT_TYPES.get(str(raw.get("type", "")).lower())
    if etype is None:
        raise ValidationFailed(
            f"event {index}: type must be one of {', '.join(sorted(set(EVENT_TYPES.values())))}",
            field=f"events[{index}].type",
        )
    user = to_text(raw.get("user_id"))[:MAX_ID]
    product = raw.get("product_id")
    event_id = raw.get("event_id")
    return RoomEvent(
        type=etype,
        ts=_ts(raw.get("ts"), index),
        user_id=user,
        text=to_text(raw.get("text"))[:4000],
        product_id=to_text(product)[:MAX_ID] if product not in (None, "") else None,
        amount=_number(raw, "amount", 0.0, index),
        quantity=int(_number(raw, "quantity", 1, index)),
        count=int(_number(raw, "count", 0, index)),
        props=props if isinstance(props := raw.get("props"), dict) else {},
        received=received,
        event_id=to_text(event_id)[:MAX_ID] if event_id not in (None, "") else None,
    )
