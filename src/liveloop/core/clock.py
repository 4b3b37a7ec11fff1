"""One place to ask for the time, so tests and the simulator can pin it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def display_time(value: datetime | float | None, zone: str) -> str:
    """A time in the display zone with the zone shown (``2021-12-30 19:34 CST``); ``—`` when missing."""
    from zoneinfo import ZoneInfo

    if value is None:
        return "—"
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
