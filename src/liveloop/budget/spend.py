"""Paid-media spend: a day's spend per channel (as ad platforms report it), imported whole or not at
all, and the daily frame of GMV and spend the media model fits."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from liveloop.core.clock import checked_time
from liveloop.core.errors import ValidationFailed
from liveloop.core.ids import is_valid_id
from liveloop.ingest.tables import read_table
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

CURRENCY = "CNY"
MAX_SPEND = 1e10  # CNY a day on one channel: anything larger is a unit error


def _row(i: int, raw: Mapping[str, Any]) -> tuple[date, str, float, str | None]:
    where = f"row {i + 1}"
    unknown = set(raw) - {"day", "channel", "spend", "source", "currency"}
    if unknown:
        raise ValidationFailed(f"{where}: unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    currency = raw.get("currency")
    if currency not in (None, "", CURRENCY):
        raise ValidationFailed(
            f"{where}: spend in {currency!r}; liveloop keeps spend in {CURRENCY}: convert it first",
            field="currency",
        )
    try:
        day = raw["day"] if isinstance(raw.get("day"), date) else date.fromisoformat(str(raw.get("day")))
        checked_time(datetime(day.year, day.month, day.day, tzinfo=UTC), "day")  # every write path's range
    except ValueError:
        raise ValidationFailed(
            f"{where}: day {raw.get('day')!r} is not a date (YYYY-MM-DD)", field="day"
        ) from None
    except ValidationFailed as exc:
        raise ValidationFailed(f"{where}: {exc.detail}", field="day") from None
    channel = str(raw.get("channel") or "")
    if not is_valid_id(channel):
        raise ValidationFailed(f"{where}: channel {channel!r} is not a valid name", field="channel")
    try:
        spend = float(raw.get("spend"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"{where}: spend {raw.get('spend')!r} is not a number", field="spend"
        ) from None
    if not math.isfinite(spend) or spend < 0 or spend > MAX_SPEND:
        raise ValidationFailed(f"{where}: spend {spend} is not an amount of CNY (0 or more)", field="spend")
    source = raw.get("source")
    return day, channel, round(spend, 2), str(source) if source not in (None, "") else None


def record_spend(
    wh: Warehouse, rows: Iterable[Mapping[str, Any]], *, source: str | None = None
) -> dict[str, int]:
    """Write daily spend rows (``day``, ``channel``, ``spend`` in CNY, optional ``source``); a row for a
    day and channel already held replaces it. Every row is checked first: one bad row writes nothing."""
    checked = [_row(i, r) for i, r in enumerate(rows)]
    if not checked:
        raise ValidationFailed("no spend rows", field="rows")
    keys = [(d, c) for d, c, _, _ in checked]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("the same day and channel twice in one import", field="rows")
    frame = pd.DataFrame(
        {
            "day": [d for d, _, _, _ in checked],
            "channel": [c for _, c, _, _ in checked],
            "spend": [s for _, _, s, _ in checked],
            "source": [src or source for _, _, _, src in checked],
        }
    )
    with wh.transaction() as con:
        con.register("_spend_rows", frame)
        try:
            replaced = con.execute(
                "SELECT count(*) FROM ad_spend JOIN _spend_rows USING (day, channel)"
            ).fetchall()[0][0]
            con.execute("INSERT OR REPLACE INTO ad_spend SELECT day, channel, spend, source FROM _spend_rows")
        finally:
            con.unregister("_spend_rows")
    return {"rows": len(checked), "replaced": int(replaced), "channels": frame["channel"].nunique()}


def read_spend_file(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (its encoding detected as ``liveloop import`` does: ad platforms export GBK too),
    JSON-lines or Parquet file of daily spend."""
    frame, _ = read_table(path)
    missing = {"day", "channel", "spend"} - set(map(str, frame.columns))
    if missing:
        has = ", ".join(map(str, frame.columns))
        raise ValidationFailed(
            f"{path.name} has no {', '.join(sorted(missing))} column (it has {has})", field="file"
        )
    return frame.to_dict("records")


def daily_frame(
    wh: Warehouse, tz: str, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """One row per local day both the spend and the sales cover: ``day``, ``gmv`` (paid orders) and a
    column of spend per channel (a channel without a row that day spent 0)."""
    where, params = [], []
    if start:
        where.append("day >= ?")
        params.append(start)
    if end:
        where.append("day <= ?")
        params.append(end)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    spend = wh.arrow(f"SELECT day, channel, spend FROM ad_spend {clause}", params).to_pandas()
    if spend.empty:
        return pd.DataFrame(columns=["day", "gmv"])
    first, last = spend["day"].min(), spend["day"].max()
    local = "CAST(timezone(?, ts) AS DATE)"
    began, sold = wh.sql(f"SELECT min({local}), max({local}) FROM orders WHERE {paid()}", [tz, tz])[0]
    if sold is None or sold < first or began > last:
        return pd.DataFrame(columns=["day", "gmv"])
    # the days both cover: spend reported before the first sale says nothing, the newest day may be partial
    first = max(first, began)
    last = min(last, sold - timedelta(days=1)) if sold <= last else last
    gmv = wh.arrow(
        f"SELECT CAST(timezone(?, ts) AS DATE) AS day, sum(amount)::DOUBLE AS gmv FROM orders "
        f"WHERE {paid()} AND CAST(timezone(?, ts) AS DATE) BETWEEN ? AND ? GROUP BY 1",
        [tz, tz, first, last],
    ).to_pandas()
    wide = spend.pivot_table(index="day", columns="channel", values="spend", aggfunc="sum", fill_value=0.0)
    days = pd.DataFrame({"day": pd.date_range(first, last, freq="D").date})
    out = days.merge(gmv, on="day", how="left").merge(wide.reset_index(), on="day", how="left")
    out["gmv"] = out["gmv"].fillna(0.0)
    channels = sorted(wide.columns)
    out[channels] = out[channels].fillna(0.0)
    return out[["day", "gmv", *channels]]
