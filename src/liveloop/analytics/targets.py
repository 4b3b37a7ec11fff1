"""KPI targets and their acceptable ranges per period (the reference study's target and resource
standards), kept in ``kpi_targets``, set one by one or loaded from TOML, and tracked: the actual value of
the period so far against the target (pro-rated by the time elapsed for counts and money), with an alert
when it is off track or outside its range.

```toml
[[target]]
metric = "gmv"
period = "month"        # day | week | month
target = 300000
low = 250000            # optional: the acceptable range (a budget range for cost metrics)
[[target]]
metric = "refund_rate"
period = "week"
target = 0.05
grain = "host"          # optional: platform (default), host, session, product, channel, segment
key = "h1"
```
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from liveloop.analytics import rollups
from liveloop.analytics.kpis import GRAINS, METRICS, measures
from liveloop.core.errors import ValidationFailed, reject_unknown
from liveloop.warehouse import Warehouse

PERIODS = ("day", "week", "month")
#: Units whose period total grows through the period: their target is pro-rated by the time elapsed.
ADDITIVE = ("count", "money")


@dataclass(frozen=True)
class Target:
    metric: str
    period: str
    target: float
    grain: str = "platform"
    key: str = "all"
    low: float | None = None
    high: float | None = None
    note: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "target") -> Target:
        data = dict(data)
        reject_unknown(data, cls, where)
        for name in ("metric", "period", "target"):
            if data.get(name) in (None, ""):
                raise ValidationFailed(f"{where}: {name} is required", field=name)
        made = cls(**data)
        made.check()
        return made

    def check(self) -> None:
        if self.metric not in METRICS:
            raise ValidationFailed(
                f"unknown metric {self.metric!r}; known: {', '.join(METRICS)}", field="metric"
            )
        if self.period not in PERIODS:
            raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}", field="period")
        if self.grain not in GRAINS or self.grain == "day":
            raise ValidationFailed(
                f"grain must be one of {', '.join(g for g in GRAINS if g != 'day')}", field="grain"
            )
        if self.grain == "platform" and self.key != "all":
            raise ValidationFailed("a platform target has key 'all'", field="key")
        for name in ("target", "low", "high"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValidationFailed(f"{name} must be a number", field=name)
            if value < 0:
                raise ValidationFailed(f"{name} must be 0 or more", field=name)
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValidationFailed("low must not be above high", field="low")


def set_target(wh: Warehouse, target: Target, *, actor: str | None = None) -> dict[str, Any]:
    """Create or replace the target of (metric, grain, key, period)."""
    target.check()
    wh.sql(
        "INSERT OR REPLACE INTO kpi_targets (metric, grain, key, period, target, low, high, note, "
        "updated_by, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            target.metric, target.grain, target.key, target.period, float(target.target), target.low,
            target.high, target.note, actor,
        ],
    )  # fmt: skip
    return asdict(target)


def load_toml(wh: Warehouse, path: Path, *, actor: str | None = None) -> list[dict[str, Any]]:
    """Every ``[[target]]`` of a TOML file, all checked before any is stored."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path}: cannot read it ({exc})", field="file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"{path}: not TOML ({exc})", field="file") from exc
    reject_unknown(data, {"target": None}, str(path))
    rows = data.get("target")
    if not isinstance(rows, list) or not rows:
        raise ValidationFailed(f"{path}: no [[target]] tables", field="target")
    targets = [Target.from_dict(r, f"target {i + 1}") for i, r in enumerate(rows)]
    with wh.transaction():
        return [set_target(wh, t, actor=actor) for t in targets]


def list_targets(wh: Warehouse) -> list[dict[str, Any]]:
    rows = wh.sql(
        "SELECT metric, period, target, grain, key, low, high, note, updated_by, updated_at FROM kpi_targets "
        "ORDER BY metric, grain, key, period"
    )
    names = ("metric", "period", "target", "grain", "key", "low", "high", "note", "updated_by", "updated_at")
    return [dict(zip(names, r, strict=True)) for r in rows]


def delete_target(wh: Warehouse, metric: str, period: str, grain: str = "platform", key: str = "all") -> bool:
    found = wh.sql(
        "DELETE FROM kpi_targets WHERE metric = ? AND period = ? AND grain = ? AND key = ? RETURNING 1",
        [metric, period, grain, key],
    )
    return bool(found)


def period_start(as_of: datetime, period: str, tz: str) -> datetime:
    """The local start of the day, ISO week or month that holds ``as_of``."""
    local = as_of.astimezone(ZoneInfo(tz))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day


def period_end(start: datetime, period: str) -> datetime:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt


def newest_data(wh: Warehouse) -> datetime | None:
    """The newest event or order time: "now" for a historical or simulated warehouse."""
    row = wh.sql("SELECT greatest(max(ts), (SELECT max(ts) FROM orders)) FROM events")[0][0]
    return row


def status(wh: Warehouse, *, as_of: datetime | None = None, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """Each target against the actual value of its period so far, with an alert when off track."""
    as_of = as_of or newest_data(wh)
    out: list[dict[str, Any]] = []
    if as_of is None:
        return {"as_of": None, "targets": out, "alerts": []}
    listed = list_targets(wh)
    windows = [(period_start(as_of, t["period"], tz), as_of + timedelta(microseconds=1)) for t in listed]
    # platform targets the KPI rollup answers are read from it in one pass (the others from the raw tables)
    fast = [i for i, t in enumerate(listed) if t["grain"] == "platform" and rollups.can_answer([t["metric"]])]
    rolled = (
        rollups.measures(wh, [rollups.Request("platform", *windows[i]) for i in fast], tz) if fast else None
    )
    from_rollup = dict(zip(fast, rolled, strict=True)) if rolled is not None else {}
    for i, t in enumerate(listed):
        start, upto = windows[i]
        end = period_end(start, t["period"])
        where = {} if t["grain"] == "platform" else {t["grain"]: t["key"]}
        got = from_rollup.get(i) or measures(wh, "platform", start=start, end=upto, where=where, tz=tz)
        metric = METRICS[t["metric"]]
        actual = metric.value(got.get("all", {}))
        elapsed = min(1.0, max(1e-9, (as_of - start) / (end - start)))
        expected = t["target"] * elapsed if metric.unit in ADDITIVE else t["target"]
        low = t["low"] * (elapsed if metric.unit in ADDITIVE else 1.0) if t["low"] is not None else None
        high = t["high"] * (elapsed if metric.unit in ADDITIVE else 1.0) if t["high"] is not None else None
        if actual is None:
            state = "no_data"
        elif (low is not None and actual < low) or (high is not None and actual > high):
            state = "out_of_range"
        elif (actual >= expected) == metric.higher_is_better or actual == expected:
            state = "on_track"
        else:
            state = "off_track"
        out.append(
            {
                **t,
                "name_en": metric.name_en,
                "name_zh": metric.name_zh,
                "unit": metric.unit,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "elapsed": round(elapsed, 4),
                "actual": actual,
                "expected_so_far": round(expected, 6),
                "progress": round(actual / t["target"], 4) if actual is not None and t["target"] else None,
                "status": state,
            }
        )
    alerts = [_alert(r) for r in out if r["status"] in ("off_track", "out_of_range")]
    return {"as_of": as_of.isoformat(), "targets": out, "alerts": alerts}


def _fmt(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "seconds":
        return f"{value:,.0f} s"
    return f"{value:,.2f}".removesuffix(".00")


def _alert(r: dict[str, Any]) -> dict[str, str]:
    actual, expected, target = (_fmt(r[k], r["unit"]) for k in ("actual", "expected_so_far", "target"))
    where_en = "" if r["grain"] == "platform" else f" for {r['grain']} {r['key']}"
    where_zh = "" if r["grain"] == "platform" else f"（{r['grain']} {r['key']}）"
    if r["status"] == "out_of_range":
        en = f"{r['name_en']}{where_en} is {actual}, outside its range this {r['period']}"
        zh = f"{r['name_zh']}{where_zh}为 {actual}，超出本期范围"
    else:
        en = (
            f"{r['name_en']}{where_en} is off track: {actual} against {expected} expected by now "
            f"(target {target} this {r['period']})"
        )
        zh = f"{r['name_zh']}{where_zh}落后于目标：当前 {actual}，按进度应达 {expected}（本期目标 {target}）"
    return {
        "metric": r["metric"],
        "grain": r["grain"],
        "key": r["key"],
        "period": r["period"],
        "en": en,
        "zh": zh,
    }
