"""The data window a profile is built from: everything strictly before ``cutoff`` (and after ``start``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from liveloop.profiles.portable import epoch_seconds


@dataclass(frozen=True)
class Window:
    """``[start, cutoff)`` in UTC; ``start=None`` is all history. Nothing at or after ``cutoff`` is read.

    ``sample`` (0-1) keeps a deterministic share of users, chosen by a hash of ``user_id``: models that
    train on a bounded number of users read only those users' rows. ``user_id`` keeps one user's rows
    (the served, per-user reads). ``refused`` (an Ibis table of ``user_id`` and whether it lists the only
    users allowed) leaves out the users who refused profiling: none of their rows is read."""

    cutoff: datetime
    start: datetime | None = None
    timezone: str = "Asia/Shanghai"
    sample: float | None = None
    user_id: str | None = None
    refused: tuple[Any, bool] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("cutoff", "start"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.start is not None and self.start >= self.cutoff:
            raise ValueError("the window start must be before its cutoff")
        if self.sample is not None and not 0 < self.sample <= 1:
            raise ValueError("the user sample must be a share in (0, 1]")

    @classmethod
    def ending(
        cls,
        cutoff: datetime,
        days: float | None = None,
        timezone: str = "Asia/Shanghai",
        sample: float | None = None,
    ) -> Window:
        if cutoff.tzinfo is None:
            cutoff = cutoff.replace(tzinfo=UTC)
        start = cutoff - timedelta(days=days) if days else None
        return cls(cutoff=cutoff, start=start, timezone=timezone, sample=sample if sample != 1 else None)

    @property
    def cutoff_epoch(self) -> float:
        return self.cutoff.timestamp()

    @property
    def utc_offset_s(self) -> int:
        """Offset of the display zone at the cutoff (hour-of-day features use local time)."""
        offset = self.cutoff.astimezone(ZoneInfo(self.timezone)).utcoffset()
        return int(offset.total_seconds()) if offset else 0

    def label(self) -> str:
        start = self.start.isoformat() if self.start else "-inf"
        return f"[{start}, {self.cutoff.isoformat()})"

    def users(self, table: Any) -> Any:
        """``table`` restricted to the window's user or sampled users (all rows when it has neither)."""
        if self.user_id is not None:
            table = table.filter(table.user_id == self.user_id)
        if self.refused is not None:
            ids, everyone_but = self.refused
            listed = table.user_id.isin(ids.user_id)
            table = table.filter(listed if everyone_but else ~listed)
        if self.sample is None:
            return table
        buckets = 1_000_000
        return table.filter((table.user_id.hash() % buckets).abs() < round(self.sample * buckets))

    def clip(self, table: Any, column: str = "ts") -> Any:
        """``table`` restricted to rows dated inside the window (and to the sampled users)."""
        ts = table[column]
        cond = ts < ibis.timestamp(self.cutoff)
        if self.start is not None:
            cond &= ts >= ibis.timestamp(self.start)
        return self.users(table.filter(cond))

    def days_before_cutoff(self, ts: Any) -> Any:
        """Days between ``ts`` and the cutoff, as a float Ibis expression."""
        return (ibis.literal(self.cutoff_epoch) - epoch_seconds(ts)) / 86400.0
