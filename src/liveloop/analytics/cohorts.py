"""Retention by cohort: users grouped by the week (or month) of their first paid order, and the share of
each cohort that bought again in each later period (period 0 is the first purchase itself).

Periods are local weeks (Monday) or months in the display time zone; orders are the paid ones, as every
KPI counts them (``analytics.kpis``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

PERIODS = ("week", "month")
MAX_OFFSETS = 52
_PAID = paid()


def retention(
    wh: Warehouse,
    *,
    period: str = "week",
    offsets: int = 12,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Cohorts whose first paid order falls in ``[start, end)``: size, and for each offset 0..``offsets``
    the users who bought in that period and their share of the cohort."""
    if period not in PERIODS:
        raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}", field="period")
    if isinstance(offsets, bool) or not isinstance(offsets, int) or not 1 <= offsets <= MAX_OFFSETS:
        raise ValidationFailed(f"offsets must be 1 to {MAX_OFFSETS}", field="offsets")
    if start and end and end <= start:
        raise ValidationFailed("the window's end must be after its start", field="end")
    lo = start or datetime(1970, 1, 1).astimezone()
    hi = end or datetime(9999, 1, 1).astimezone()
    unit = "week" if period == "week" else "month"
    diff = "datediff('week', c.cohort, a.p)" if period == "week" else "datediff('month', c.cohort, a.p)"
    rows = wh.sql(
        f"WITH paid AS (SELECT user_id, date_trunc('{unit}', timezone(?, ts))::DATE AS p FROM orders "
        f"WHERE {_PAID}), "
        "firsts AS (SELECT user_id, min(p) AS cohort FROM paid GROUP BY 1), "
        "c AS (SELECT * FROM firsts WHERE cohort >= timezone(?, ?::TIMESTAMPTZ)::DATE "
        "AND cohort < timezone(?, ?::TIMESTAMPTZ)::DATE), "
        f"a AS (SELECT DISTINCT user_id, p FROM paid) "
        f"SELECT c.cohort, {diff} AS k, count(DISTINCT c.user_id) FROM c JOIN a USING (user_id) "
        f"WHERE {diff} BETWEEN 0 AND ? GROUP BY 1, 2 ORDER BY 1, 2",
        [tz, tz, lo, tz, hi, offsets],
    )
    newest = wh.sql(
        f"SELECT max(date_trunc('{unit}', timezone(?, ts))::DATE) FROM orders WHERE {_PAID}", [tz]
    )[0][0]
    cohorts: dict[Any, list[int]] = {}
    for cohort, k, users in rows:
        cohorts.setdefault(cohort, [0] * (offsets + 1))[int(k)] = int(users)
    out: list[dict[str, Any]] = []
    for cohort, counts in sorted(cohorts.items()):
        seen = _periods_between(cohort, newest, period)  # later periods have not happened yet
        size = counts[0]
        out.append(
            {
                "cohort": str(cohort),
                "size": size,
                "retained": [c if k <= seen else None for k, c in enumerate(counts)],
                "rates": [round(c / size, 4) if size and k <= seen else None for k, c in enumerate(counts)],
            }
        )
    overall: list[float | None] = []
    for k in range(offsets + 1):
        ripe = [c for c in out if c["retained"][k] is not None]
        base = sum(c["size"] for c in ripe)
        overall.append(round(sum(c["retained"][k] for c in ripe) / base, 4) if base else None)
    return {"period": period, "offsets": offsets, "cohorts": out, "overall": overall}


def _periods_between(first: Any, last: Any, period: str) -> int:
    if period == "week":
        return (last - first).days // 7
    return (last.year - first.year) * 12 + last.month - first.month
