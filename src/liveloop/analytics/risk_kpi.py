"""Sudden drops in a KPI: a robust seasonal baseline and interval for each hour or day.

The expected value of a point is the median of the same phase in the ``seasons`` periods before it (the
same hour on each of the previous 14 days; for days, the previous 14 days), which a festival or an
earlier outage barely moves. The spread is the larger of two one-sided MADs (1.4826 × the median size
of the negative residuals, which the high side — a festival, growth — cannot inflate): over the trailing
window, and over the same phase (an hour whose one session sometimes does not run is volatile); it is
floored by the Poisson spread √expected for counts. A point is a drop when
it is below ``expected − k·sd`` and at least ``min_drop`` below the expected value; points with fewer
than ``min_seasons`` periods of history are not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from liveloop.analytics import kpis
from liveloop.analytics.risk_params import Env, RiskParams, Scope
from liveloop.analytics.risk_store import Finding
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

GRAINS = {"hour": 24, "day": 1}
#: Metrics with an hourly series (counts and money summed per hour); daily series take any KPI.
HOURLY = {
    "gmv": f"sum(amount) FILTER (WHERE {paid()})",
    "orders": f"count(*) FILTER (WHERE {paid()})",
    "room_views": "count(*)",
    "viewers": "count(DISTINCT user_id)",
}
COUNTS = {"orders", "buyers", "viewers", "room_views"}
#: What a scan watches by default.
WATCHED = (
    ("gmv", "day"),
    ("orders", "day"),
    ("room_views", "day"),
    ("orders", "hour"),
    ("room_views", "hour"),
)


@dataclass(frozen=True)
class Drop:
    index: int
    value: float
    expected: float
    low: float
    high: float
    z: float


def detect_drops(
    values: np.ndarray | list[float],
    period: int,
    *,
    seasons: int = 14,
    min_seasons: int = 5,
    k: float = 3.0,
    min_drop: float = 0.3,
    count: bool = False,
) -> list[Drop]:
    """Points of ``values`` (equally spaced, ``period`` points a season; NaN: missing) far below their
    seasonal median: below ``expected − k·sd`` and at least ``min_drop`` below it. Each with its expected
    value and the interval ``expected ± k·sd``."""
    x = np.asarray(values, dtype=np.float64)
    if period < 1 or seasons < 1 or min_seasons < 1 or min_seasons > seasons:
        raise ValidationFailed(
            "period, seasons and min_seasons must be positive, min ≤ seasons", field="period"
        )
    n = len(x)
    lagged = np.full((seasons, n), np.nan)
    for j in range(1, seasons + 1):
        if j * period < n:
            lagged[j - 1, j * period :] = x[: -j * period]
    ok = np.sum(~np.isnan(lagged), axis=0) >= min_seasons
    expected = np.full(n, np.nan)
    if ok.any():
        expected[ok] = np.nanmedian(lagged[:, ok], axis=0)
    resid = x - expected
    window = seasons * period
    drops = []
    for t in np.flatnonzero(ok & ~np.isnan(x)):
        recent = _low_mad(resid[max(0, t - window) : t], min_seasons)
        phase = _low_mad(resid[t - period : t - window - 1 if t > window else None : -period], min_seasons)
        sd = max(recent, phase, float(np.sqrt(max(expected[t], 0.0))) if count else 0.0, 1e-9)
        low = expected[t] - k * sd
        if x[t] < low and x[t] <= (1 - min_drop) * expected[t]:
            z = float((x[t] - expected[t]) / sd)
            drops.append(
                Drop(int(t), float(x[t]), float(expected[t]), float(low), float(expected[t] + k * sd), z)
            )
    return drops


def _low_mad(resid: np.ndarray, least: int) -> float:
    """1.4826 × the median size of the negative residuals (0 with fewer than ``least`` residuals, or none
    negative): for residuals symmetric about 0 this is their MAD, and the high side (a festival, growth)
    that a drop detector does not care about cannot inflate it."""
    v = resid[~np.isnan(resid)]
    below = -v[v < 0]
    return 1.4826 * float(np.median(below)) if len(v) >= least and len(below) else 0.0


def kpi_series(
    wh: Warehouse, metric: str, grain: str, *, tz: str = "Asia/Shanghai", scope: Scope | None = None
) -> tuple[list[datetime], np.ndarray]:
    """The metric per local hour or day, every bucket from the first to the last (empty ones as 0 for
    sums and counts, NaN for ratios)."""
    if grain not in GRAINS:
        raise ValidationFailed(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}", field="grain")
    scope = scope or Scope()
    if grain == "hour":
        if metric not in HOURLY:
            raise ValidationFailed(
                f"metric {metric!r} has no hourly series; use one of {', '.join(HOURLY)}", field="metric"
            )
        source = (
            "orders" if metric in ("gmv", "orders") else "(SELECT * FROM events WHERE type = 'enter_room')"
        )
        where, params = scope.where(session=False)
        rows = wh.sql(
            f"SELECT date_trunc('hour', timezone(?, ts)) AS h, {HOURLY[metric]} FROM {source} x "
            f"WHERE TRUE{where} GROUP BY 1 ORDER BY 1",
            [tz, *params],
        )
        points = {r[0]: float(r[1] or 0.0) for r in rows}
        step = timedelta(hours=1)
    else:
        result = kpis.compute(wh, [metric], "day", start=scope.start, end=scope.end, tz=tz)
        points = {
            datetime.fromisoformat(r["key"]): (np.nan if r[metric] is None else float(r[metric]))
            for r in result["rows"]
            if r["key"] is not None
        }
        step = timedelta(days=1)
    if not points:
        return [], np.zeros(0)
    first, last = min(points), max(points)
    stamps = [first + i * step for i in range(int((last - first) / step) + 1)]
    empty = 0.0 if metric in HOURLY or metric in COUNTS else np.nan
    return stamps, np.array([points.get(s, empty) for s in stamps], dtype=np.float64)


def complete_series(
    wh: Warehouse, metric: str, grain: str, *, tz: str = "Asia/Shanghai", scope: Scope | None = None
) -> tuple[list[datetime], np.ndarray]:
    """``kpi_series`` without its last buckets when the data (orders and room entries alike) end before
    those buckets do: a day that is not over yet is not a drop."""
    stamps, values = kpi_series(wh, metric, grain, tz=tz, scope=scope)
    horizon = wh.sql(
        "SELECT least((SELECT epoch(max(ts)) FROM orders), "
        "(SELECT epoch(max(ts)) FROM events WHERE type = 'enter_room'))"
    )[0][0]
    step = timedelta(hours=1) if grain == "hour" else timedelta(days=1)
    zone = ZoneInfo(tz)
    while stamps and (stamps[-1] + step).replace(tzinfo=zone).timestamp() > (horizon or 0.0) + 1:
        stamps, values = stamps[:-1], values[:-1]
    return stamps, values


def kpi_drops(
    wh: Warehouse,
    p: RiskParams,
    scope: Scope,
    env: Env,
    *,
    watched: tuple[tuple[str, str], ...] = WATCHED,
    tz: str = "Asia/Shanghai",
) -> list[Finding]:
    """Drops of each watched (metric, grain) series (a KPI where lower is better is watched for rises)."""
    out = []
    for metric, grain in watched:
        if metric not in kpis.METRICS:
            raise ValidationFailed(f"unknown metric {metric!r}", field="metric")
        stamps, values = complete_series(wh, metric, grain, tz=tz, scope=Scope(scope.start, scope.end))
        better_high = kpis.METRICS[metric].higher_is_better
        series = values if better_high else -values
        for d in detect_drops(
            series,
            GRAINS[grain],
            seasons=p.kpi_seasons,
            min_seasons=p.kpi_min_seasons,
            k=p.kpi_k,
            min_drop=p.kpi_min_drop if better_high else 0.0,
            count=metric in COUNTS,
        ):
            bucket = stamps[d.index].strftime("%Y-%m-%dT%H:00" if grain == "hour" else "%Y-%m-%d")
            sign = 1.0 if better_high else -1.0
            value, expected = sign * d.value, sign * d.expected
            low, high = sorted((sign * d.low, sign * d.high))
            out.append(
                Finding(
                    kind="kpi_drop",
                    subject_type="kpi",
                    subject=f"{metric}:{grain}:{bucket}",
                    key="",
                    score=round(abs(d.z), 2),
                    evidence={
                        "rule": f"{metric} was {value:.2f} in {bucket} ({tz}); expected {expected:.2f}, "
                        f"interval [{low:.2f}, {high:.2f}] (seasonal median ± {p.kpi_k:g} robust sd)",
                        "metric": metric,
                        "grain": grain,
                        "bucket": bucket,
                        "tz": tz,
                        "value": round(value, 4),
                        "expected": round(expected, 4),
                        "interval": [round(low, 4), round(high, 4)],
                        "z": round(d.z, 2),
                        "change": round(value / expected - 1, 4) if expected else None,
                    },
                )
            )
    return out
