"""Budget plans: the media model fitted on the warehouse, a period's budget allocated over the channels,
kept with the curves it rests on, and the spend since tracked against it.

A plan holds, per channel: last period's daily spend, the bounds, the planned daily spend, the extra GMV
the model expects from it and the marginal return of the last CNY; and the same totals for the
proportional split (last period's shares scaled to the total) beside it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from functools import partial
from typing import Any

import numpy as np

from liveloop.budget import allocate as alloc
from liveloop.budget.mmm import MediaModel, fit_media_model
from liveloop.budget.spend import daily_frame
from liveloop.core.clock import EARLIEST, utcnow
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import new_id
from liveloop.privacy.audit import AuditEntry
from liveloop.privacy.audit import record as audit
from liveloop.warehouse import Warehouse

MAX_DAYS = 366
MAX_NAME = 200


def fit_model(wh: Warehouse, tz: str, *, days: int | None = None) -> MediaModel:
    """The media model on the warehouse's spend and paid orders (the last ``days`` of spend, or all)."""
    start = None
    if days is not None:
        newest = wh.sql("SELECT max(day) FROM ad_spend")[0][0]
        start = newest - timedelta(days=days - 1) if newest else None
    return fit_media_model(daily_frame(wh, tz, start=start))


def _today(tz: str) -> date:
    from zoneinfo import ZoneInfo

    return utcnow().astimezone(ZoneInfo(tz)).date()


def default_start(tz: str) -> date:
    """Tomorrow, in the shop's time zone."""
    return _today(tz) + timedelta(days=1)


def describe_model(model: MediaModel) -> dict[str, Any]:
    """The model with, per channel, its extra GMV per CNY at last period's spend and that of the last CNY."""
    out = model.to_dict()
    for c, row in zip(model.curves, out["curves"], strict=True):
        gain = float(model.baseline_gmv * c.lift(c.last_spend))
        row["roi_at_last"] = round(gain / c.last_spend, 3) if c.last_spend > 0 else None
        row["marginal_at_last"] = round(_marginal(c, model.baseline_gmv, c.last_spend), 3)
    return out


def _marginal(curve: Any, baseline: float, x: float) -> float:
    step = max(x * 0.01, 1.0)
    return float(baseline * (curve.lift(x + step) - curve.lift(x)) / step)


def create_plan(
    wh: Warehouse,
    tz: str,
    *,
    name: str,
    starts: date,
    days: int,
    total: float | None = None,
    target_roi: float | None = None,
    low: float = alloc.LOW,
    high: float = alloc.HIGH,
    model: MediaModel | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Allocate ``total`` CNY over ``days`` from ``starts`` (or, with ``target_roi``, the largest budget
    whose extra GMV per CNY meets it; with neither, last period's daily spend over ``days``, split anew)
    and store the plan; returns it."""
    if not name.strip() or len(name) > MAX_NAME:
        raise ValidationFailed(f"a plan needs a name of 1 to {MAX_NAME} characters", field="name")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"a plan covers 1 to {MAX_DAYS} days", field="days")
    horizon = _today(tz) + timedelta(days=MAX_DAYS)
    if not EARLIEST.date() <= starts <= horizon:
        raise ValidationFailed(
            f"a plan starts between {EARLIEST.date()} and a year from today ({horizon}), not {starts}",
            field="starts",
        )
    if total is not None and (not np.isfinite(total) or total <= 0):
        raise ValidationFailed("the total budget is CNY above 0", field="total")
    model = model or fit_model(wh, tz)
    curves = model.curves
    last = np.array([c.last_spend for c in curves])
    lo, hi = alloc.bounds(last.tolist(), low, high)
    funcs = [partial(model.gain, i) for i in range(len(curves))]
    if total is None and target_roi is None:
        total = float(last.sum()) * days
    daily = alloc.allocate(
        funcs, lo, hi, total=None if total is None else total / days, target_roi=target_roi
    )
    share = last / last.sum() if last.sum() > 0 else np.full(len(last), 1 / len(last))
    proportional = np.clip(share * daily.sum(), lo, hi)
    lines = [
        {
            "channel": c.channel,
            "last_daily": round(float(last[i]), 2),
            "low_daily": round(float(lo[i]), 2),
            "high_daily": round(float(hi[i]), 2),
            "planned_daily": round(float(daily[i]), 2),
            "planned": round(float(daily[i]) * days, 2),
            "expected_gmv": round(funcs[i](float(daily[i])) * days, 2),
            "marginal_roi": round(_marginal(c, model.baseline_gmv, float(daily[i])), 3),
        }
        for i, c in enumerate(curves)
    ]
    spent = float(daily.sum()) * days
    gain = float(sum(funcs[i](float(daily[i])) for i in range(len(curves)))) * days
    prop_gain = sum(f(float(x)) for f, x in zip(funcs, proportional, strict=True)) * days
    expected = {
        "extra_gmv": round(gain, 2),
        "roi": round(gain / spent, 3) if spent else None,
        "proportional_extra_gmv": round(prop_gain, 2),
        "gain_over_proportional": round(gain / prop_gain - 1, 4) if prop_gain else None,
    }
    plan_id = new_id("bp")
    ends = starts + timedelta(days=days - 1)
    objective = "roi" if target_roi is not None else "response"
    with wh.transaction() as con:
        con.execute(
            "INSERT INTO budget_plans (plan_id, name, starts, ends, total, objective, target_roi, lines, "
            "model, expected, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                plan_id,
                name.strip(),
                starts,
                ends,
                round(spent, 2),
                objective,
                target_roi,
                json.dumps(lines),
                json.dumps(model.to_dict()),
                json.dumps(expected),
                actor,
            ],
        )
    audit(
        wh,
        AuditEntry(
            actor,
            "budget.plan",
            plan_id,
            objective,
            f"{days} days from {starts}: {spent:,.0f} CNY over {len(lines)} channels",
            {"expected": expected, "lines": [(x["channel"], x["planned"]) for x in lines]},
        ),
    )
    return get_plan(wh, plan_id, tz=tz)


def _row(wh: Warehouse, plan_id: str) -> tuple[Any, ...]:
    rows = wh.sql(
        "SELECT plan_id, name, starts, ends, total, objective, target_roi, CAST(lines AS VARCHAR), "
        "CAST(expected AS VARCHAR), created_by, created_at FROM budget_plans WHERE plan_id = ?",
        [plan_id],
    )
    if not rows:
        raise NotFound(f"budget plan {plan_id!r} is unknown", field="plan_id")
    return rows[0]


def get_plan(wh: Warehouse, plan_id: str, *, tz: str, today: date | None = None) -> dict[str, Any]:
    """A plan with its spend so far: per channel what was spent from its start to ``today`` (default: today
    in the shop's time zone ``tz``, as the plan's days are) or its end, what the plan had spent by then,
    and the pace (spent / planned to date)."""
    pid, name, starts, ends, total, objective, target, lines_raw, expected_raw, by, at = _row(wh, plan_id)
    lines = json.loads(lines_raw)
    today = today or _today(tz)
    through = min(today, ends)
    elapsed = max(0, (through - starts).days + 1)
    spent = (
        dict(
            wh.sql(
                "SELECT channel, sum(spend) FROM ad_spend WHERE day BETWEEN ? AND ? GROUP BY 1",
                [starts, through],
            )
        )
        if elapsed
        else {}
    )
    for line in lines:
        line["spent"] = round(float(spent.get(line["channel"], 0.0)), 2)
        line["planned_to_date"] = round(line["planned_daily"] * elapsed, 2)
        line["pace"] = (
            round(line["spent"] / line["planned_to_date"], 3) if line["planned_to_date"] > 0 else None
        )
    done = sum(line["spent"] for line in lines)
    due = sum(line["planned_to_date"] for line in lines)
    return {
        "plan_id": pid,
        "name": name,
        "starts": str(starts),
        "ends": str(ends),
        "days": (ends - starts).days + 1,
        "days_elapsed": elapsed,
        "total": total,
        "objective": objective,
        "target_roi": target,
        "expected": json.loads(expected_raw),
        "lines": lines,
        "spent": round(done, 2),
        "planned_to_date": round(due, 2),
        "pace": round(done / due, 3) if due > 0 else None,
        "created_by": by,
        "created_at": at.isoformat() if at else None,
    }


def list_plans(wh: Warehouse, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = wh.sql(
        "SELECT plan_id, name, starts, ends, total, objective, created_at FROM budget_plans "
        "ORDER BY created_at DESC, plan_id LIMIT ?",
        [max(1, min(int(limit), 500))],
    )
    keys = ("plan_id", "name", "starts", "ends", "total", "objective", "created_at")
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(keys, r, strict=True)}
        for r in rows
    ]
