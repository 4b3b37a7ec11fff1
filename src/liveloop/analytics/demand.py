"""Sales series from the warehouse, their forecasts, and the stock a planned live session needs.

A series is the GMV or the units of paid orders (status not cancelled, failed or refunded) per day (or
Monday-start week) of the configured time zone, for one key of a grouping:

- ``product``, ``category``: the order lines' amounts and quantities (lines whose product has no
  category count under ``(none)``);
- ``host``: the orders placed in the host's live sessions (``orders.session_id``), their amounts and
  the quantities of their lines;
- ``platform``: every paid order (one series, ``all``), as the KPI registry counts GMV.

Periods without a sale are 0. Every series spans the same periods: from the first to the last period
with a paid order in the warehouse (within ``start``/``end`` when given; whole weeks only), so a key
that sold nothing still gets a series of zeros when asked for by ``ids``. The last day counts as
observed: set ``end`` to a day's start to leave out a day still under way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from liveloop.analytics import session_forecast as sf
from liveloop.analytics.backtest import Backtest, backtest
from liveloop.analytics.forecast import LEVELS, Forecast, forecast, frequency
from liveloop.core.config import get_settings
from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

GROUPINGS = ("product", "category", "host", "platform")
MEASURES = ("gmv", "units")
NO_CATEGORY = "(none)"
_PAID = paid("o")
_UNITS = "LEFT JOIN (SELECT order_id, sum(quantity) AS units FROM order_items GROUP BY 1) u USING (order_id)"
_SOURCES = {
    "product": ("i.product_id", "sum(i.amount)", "sum(i.quantity)", "JOIN order_items i USING (order_id)"),
    "category": (
        f"coalesce(p.category, '{NO_CATEGORY}')",
        "sum(i.amount)",
        "sum(i.quantity)",
        "JOIN order_items i USING (order_id) LEFT JOIN products p USING (product_id)",
    ),
    "host": (
        "s.host_id",
        "sum(o.amount)",
        "sum(coalesce(u.units, 0))",
        f"JOIN live_sessions s USING (session_id) {_UNITS}",
    ),
    "platform": ("'all'", "sum(o.amount)", "sum(coalesce(u.units, 0))", _UNITS),
}


def _check(by: str, measure: str) -> None:
    if by not in GROUPINGS:
        raise ValidationFailed(f"unknown grouping {by!r}; use one of {', '.join(GROUPINGS)}", field="by")
    if measure not in MEASURES:
        raise ValidationFailed(f"unknown measure {measure!r}; use gmv or units", field="measure")


def _period(moment: datetime, tz: ZoneInfo, weekly: bool) -> date:
    """The local day (or the Monday of the local week) of ``moment`` (naive: already local)."""
    day = (moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)).date()
    return day - timedelta(days=day.weekday()) if weekly else day


def sales_history(
    wh: Warehouse,
    by: str = "category",
    measure: str = "gmv",
    *,
    freq: str = "D",
    start: datetime | None = None,
    end: datetime | None = None,
    ids: Sequence[str] | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """The ``measure`` of paid orders per ``by`` key and period of ``[start, end)``, zero-filled: a long
    frame ``unique_id, ds, y`` ready for :func:`liveloop.analytics.forecast.forecast`. ``ids`` keeps
    those keys only (a key without sales gets zeros)."""
    _check(by, measure)
    fq = frequency(freq)
    weekly = fq.code == "W"
    zone = ZoneInfo(tz or get_settings().timezone)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("the window's end must be after its start", field="end")
    key, gmv, units, joins = _SOURCES[by]
    local = "timezone(?, o.ts)"
    bucket = f"CAST(date_trunc('week', {local}) AS DATE)" if weekly else f"CAST({local} AS DATE)"
    conds = [_PAID]
    params: list[Any] = [zone.key]
    if start is not None:
        conds.append("o.ts >= ?")
        params.append(start if start.tzinfo else start.replace(tzinfo=zone))
    if end is not None:
        conds.append("o.ts < ?")
        params.append(end if end.tzinfo else end.replace(tzinfo=zone))
    rows = wh.df(
        f"SELECT {key} AS unique_id, {bucket} AS ds, {gmv if measure == 'gmv' else units} AS y "
        f"FROM orders o {joins} WHERE {' AND '.join(conds)} AND {key} IS NOT NULL GROUP BY 1, 2",
        params,
    )
    if rows.empty:
        window = "" if start is None and end is None else " in this window"
        raise InsufficientData(f"there are no paid orders{window} to build sales series from", field="start")
    rows["ds"] = pd.to_datetime(rows["ds"])
    rows["y"] = rows["y"].astype(float)
    rows["unique_id"] = rows["unique_id"].astype(str)
    first, last = rows["ds"].min(), rows["ds"].max()
    if start is not None:
        first = min(first, pd.Timestamp(_period(start, zone, weekly)))
    if end is not None:
        last = max(last, pd.Timestamp(_period(end - timedelta(microseconds=1), zone, weekly)))
    first, last = max(first, _edge(wh, zone, weekly, "min")), min(last, _edge(wh, zone, weekly, "max"))
    if first > last:
        raise InsufficientData("the paid orders do not span one whole period", field="freq")
    keys = sorted(rows["unique_id"].unique()) if ids is None else [str(i) for i in dict.fromkeys(ids)]
    grid = pd.MultiIndex.from_product(
        [keys, pd.date_range(first, last, freq=fq.step)], names=["unique_id", "ds"]
    )
    series = rows.set_index(["unique_id", "ds"])["y"].reindex(grid, fill_value=0.0)
    return series.reset_index()


def _edge(wh: Warehouse, zone: ZoneInfo, weekly: bool, which: str) -> pd.Timestamp:
    """The first (``min``) or last (``max``) period with paid orders in the whole warehouse; of weeks,
    only whole ones count (a week the data starts or ends in the middle of would look like a slump)."""
    moment = wh.sql(f"SELECT {which}(o.ts) FROM orders o WHERE {_PAID}")[0][0]
    day = _period(moment, zone, False)
    if weekly:
        monday = day - timedelta(days=day.weekday())
        whole = day.weekday() == (0 if which == "min" else 6)
        day = monday if whole else monday + timedelta(days=7 if which == "min" else -7)
    return pd.Timestamp(day)


@dataclass
class SalesForecast:
    """A forecast of warehouse sales series, with the history it was fitted on."""

    by: str
    measure: str
    history: pd.DataFrame
    forecast: Forecast

    def to_dict(self, history_points: int | None = None) -> dict[str, Any]:
        """JSON-ready: the forecast (see :meth:`Forecast.to_dict`) and, per series, its last
        ``history_points`` observed periods (all by default) for charts."""
        out = {"by": self.by, "measure": self.measure, **self.forecast.to_dict()}
        hist = self.history.groupby("unique_id", sort=False)
        for s in out["series"]:
            rows = hist.get_group(s["id"])
            rows = rows if history_points is None else rows.tail(history_points)
            points = zip(rows["ds"], rows["y"], strict=True)
            s["history"] = [{"ds": f"{d:%Y-%m-%d}", "y": round(float(y), 4)} for d, y in points]
        return out


def forecast_sales(
    wh: Warehouse,
    by: str = "category",
    measure: str = "gmv",
    h: int = 7,
    *,
    freq: str = "D",
    levels: Sequence[float] = LEVELS,
    start: datetime | None = None,
    end: datetime | None = None,
    ids: Sequence[str] | None = None,
    tz: str | None = None,
    models: Sequence[str] | None = None,
    n_windows: int = 3,
) -> SalesForecast:
    """Forecast the ``measure`` per ``by`` key ``h`` periods past the sales history (liveloop's choice,
    with quantiles at ``levels``)."""
    history = sales_history(wh, by, measure, freq=freq, start=start, end=end, ids=ids, tz=tz)
    result = forecast(history, h, freq, levels=levels, models=models, n_windows=n_windows)
    return SalesForecast(by=by, measure=measure, history=history, forecast=result)


def backtest_sales(
    wh: Warehouse,
    by: str = "category",
    measure: str = "gmv",
    h: int = 7,
    *,
    freq: str = "D",
    origins: int = 4,
    start: datetime | None = None,
    end: datetime | None = None,
    ids: Sequence[str] | None = None,
    tz: str | None = None,
    models: Sequence[str] | None = None,
) -> Backtest:
    """A rolling-origin backtest of the sales forecast (``origins`` origins ``h`` periods apart):
    liveloop's choice beside each candidate and seasonal naive (see :meth:`Backtest.to_dict`)."""
    history = sales_history(wh, by, measure, freq=freq, start=start, end=end, ids=ids, tz=tz)
    return backtest(history, h, freq, origins=origins, models=models)


STOCK_METHODS = ("auto", "session", "daily")


def stock_plan(
    wh: Warehouse,
    *,
    session_id: str | None = None,
    products: Sequence[str] | None = None,
    day: date | str | None = None,
    service_level: float = 0.95,
    tz: str | None = None,
    models: Sequence[str] | None = None,
    n_windows: int = 3,
    host_id: str | None = None,
    start: datetime | str | None = None,
    method: str = "auto",
) -> dict[str, Any]:
    """Stock per product for a live session on ``day``: the ``service_level`` quantile of its forecast
    units, rounded up, so that demand exceeds the stock with probability about ``1 - service_level``.
    The products and day come from the session (its lineup and local start day) or are given; a planned
    session not stored yet is its ``products`` (the lineup), ``host_id`` and ``start``.

    With a session (stored or planned) the forecast is the session model's
    (:mod:`liveloop.analytics.session_forecast`): the product's units in that session, from its past
    featured sessions, the host, the slot and the lineup. Without one, or when too few past sessions
    exist to fit that model (``method="auto"``), it is the product's ordinary daily demand forecast for
    that day, and each row says why. ``method="session"`` or ``"daily"`` forces one. Only data before
    that day are used, so a past session is a fair backtest."""
    level = sf.check_service_level(service_level)
    if method not in STOCK_METHODS:
        raise ValidationFailed(
            f"unknown method {method!r}; use one of {', '.join(STOCK_METHODS)}", field="method"
        )
    zone = ZoneInfo(tz or get_settings().timezone)
    lineup: list[str] | None = None
    session_start: datetime | None = None
    if session_id is not None:
        found = wh.sql("SELECT lineup, start_ts FROM live_sessions WHERE session_id = ?", [session_id])
        if not found:
            raise NotFound(f"no live session {session_id!r}", field="session_id")
        stored, start_ts = found[0]
        if not stored or start_ts is None:
            raise ValidationFailed(
                f"session {session_id!r} has no lineup or no start time", field="session_id"
            )
        lineup = [str(p) for p in stored]
        products = products or list(stored)
        day = day or start_ts.astimezone(zone).date()
    elif start is not None:
        session_start = sf.moment(start, "start", zone)
        day = day or session_start.astimezone(zone).date()
    if not products:
        raise ValidationFailed("name the products (or a session with a lineup)", field="products")
    if day is None:
        raise ValidationFailed("name the day of the session", field="day")
    try:
        day = date.fromisoformat(day) if isinstance(day, str) else day
    except ValueError:
        raise ValidationFailed(f"the day must be a date (YYYY-MM-DD), not {day!r}", field="day") from None
    products = [str(p) for p in dict.fromkeys(products)]
    midnight = datetime.combine(day, time(), tzinfo=zone)

    why: str | None = None
    planned = session_id is None and host_id is not None and session_start is not None
    if method == "daily":
        why = "the daily forecast was asked for"
    elif session_id is None and not planned:
        why = "no session was named (a stored one, or a host and start)"
        if method == "session":
            raise ValidationFailed(
                "the session model needs a session: its id, or a host and a start", field="session_id"
            )
    else:
        try:
            if session_id is not None and lineup is not None and set(products) <= set(lineup):
                fc = sf.forecast_session(
                    wh, session_id, lineup=products, service_level=level, as_of=midnight, tz=zone.key
                )
            elif session_id is not None:  # other products than the lineup: the same slot, planned
                host, begin, end = wh.sql(
                    "SELECT host_id, start_ts, end_ts FROM live_sessions WHERE session_id = ?", [session_id]
                )[0]
                fc = sf.forecast_session(
                    wh, lineup=products, host_id=host, start=begin, end=end, service_level=level,
                    as_of=midnight, tz=zone.key,
                )  # fmt: skip
            else:
                fc = sf.forecast_session(
                    wh, lineup=products, host_id=host_id, start=session_start, service_level=level,
                    as_of=midnight, tz=zone.key,
                )  # fmt: skip
        except InsufficientData as exc:
            if method == "session":
                raise
            why = exc.detail
        else:
            return _session_stock(wh, fc, session_id, day, level, midnight, zone)
    return _daily_stock(wh, products, day, level, zone, models, n_windows, session_id, why)


def _stock_cover(have: Any, need: int) -> tuple[int | None, str]:
    short = None if have is None else max(0, need - int(have))
    if have is None:
        return short, "no stock recorded"
    return short, f"stock {have} covers it" if short == 0 else f"stock {have}: {short} short"


def _plan_row(
    product_id: str, title: Any, mean: float, upper: float, need: int, have: Any, short: int | None,
    reason: str, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """One product's row of a stock plan (both the session model's and the daily fallback's)."""
    return {
        "product_id": product_id,
        "title": title,
        "expected_units": round(mean, 2),
        "quantile_units": round(upper, 2),
        "recommended_stock": need,
        "stock": have,
        "shortfall": short,
        "reason": reason,
        **extra,
    }


def _session_stock(
    wh: Warehouse,
    fc: sf.SessionForecast,
    session_id: str | None,
    day: date,
    level: float,
    midnight: datetime,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The stock plan from a session forecast."""
    cutoff = min(midnight, fc.as_of)
    first_ts, last_ts = wh.sql(
        f"SELECT min(o.ts), max(o.ts) FROM orders o WHERE {_PAID} AND o.ts < ?", [cutoff]
    )[0]
    first, last = first_ts.astimezone(zone).date(), last_ts.astimezone(zone).date()
    stock = {
        r[0]: r[1]
        for r in wh.sql(
            "SELECT product_id, stock FROM products WHERE list_contains(?, product_id)",
            [[p["product_id"] for p in fc.products]],
        )
    }
    model = fc.model
    where = f"session {session_id}" if session_id else f"the planned session of host {fc.host_id}"
    fitted = (
        f"the session model ({sf.METHOD_NAMES[model.method]}, fitted on {model.sessions} past "
        f"sessions {model.window[0].astimezone(zone):%Y-%m-%d}..{model.window[1].astimezone(zone):%Y-%m-%d})"
    )
    plan = []
    for p in fc.products:
        mean, upper, need = p["expected_units"], p["quantile_units"], p["recommended_stock"]
        have = stock.get(p["product_id"])
        short, cover = _stock_cover(have, need)
        k = p["past_featured_sessions"]
        past = (
            "never featured before"
            if k == 0
            else f"featured {k} times before, {p['past_mean_units']:.1f} units on average"
        )
        plan.append(
            _plan_row(
                p["product_id"],
                p["title"],
                mean,
                upper,
                need,
                have,
                short,
                f"{level:.0%} of the forecast demand in {where} on {day} is at most {upper:.1f} units "
                f"(expected {mean:.1f}), by {fitted}; {past}; {cover}",
                method="session_model",
                position=p["position"],
                expected_gmv=p["expected_gmv"],
                past_featured_sessions=k,
                past_mean_units=p["past_mean_units"],
            )
        )
    return {
        "session_id": session_id,
        "day": day.isoformat(),
        "service_level": level,
        "history": {"start": first.isoformat(), "end": last.isoformat(), "days": (last - first).days + 1},
        "horizon_days": (day - last).days,
        "method": "session_model",
        "fallback_reason": None,
        "session": {**fc.totals, "model": model.to_dict()},
        "products": plan,
    }


def _daily_stock(
    wh: Warehouse,
    products: list[str],
    day: date,
    service_level: float,
    zone: ZoneInfo,
    models: Sequence[str] | None,
    n_windows: int,
    session_id: str | None,
    why: str | None,
) -> dict[str, Any]:
    """The stock plan from each product's ordinary daily demand forecast on ``day``."""
    history = sales_history(
        wh, "product", "units", end=datetime.combine(day, time(), tzinfo=zone), ids=products, tz=zone.key
    )
    last = history["ds"].max().date()
    h = (day - last).days
    level = round(200 * service_level - 100, 6)
    result = forecast(history, h, "D", levels=(level,), models=models, n_windows=n_windows)
    on_day = result.frame["step"] == h
    rows = result.frame[on_day].assign(upper=result.quantile(service_level)[on_day])
    rows = rows.set_index("unique_id").loc[products].reset_index()  # in the lineup's order
    known = {
        r[0]: (r[1], r[2], r[3])
        for r in wh.sql(
            "SELECT product_id, stock, title, CAST(price AS DOUBLE) FROM products "
            "WHERE list_contains(?, product_id)",
            [products],
        )
    }
    first = history["ds"].min().date()
    days = (last - first).days + 1
    note = "" if why is None else f" (daily demand, not the session model: {why})"
    plan = []
    for r in rows.itertuples():
        pid = str(r.unique_id)
        upper, mean = float(r.upper), float(r.mean)
        need = math.ceil(upper - 1e-9)
        have, title, price = known.get(pid, (None, None, None))
        short, cover = _stock_cover(have, need)
        plan.append(
            _plan_row(
                pid,
                title,
                mean,
                upper,
                need,
                have,
                short,
                f"{service_level:.0%} of the forecast demand on {day} is at most {upper:.1f} units "
                f"(expected {mean:.1f}), from {days} days of paid orders {first}..{last}{note}; {cover}",
                method="daily_forecast",
                position=None,
                expected_gmv=None if price is None else round(mean * price, 2),
                past_featured_sessions=None,
                past_mean_units=None,
            )
        )
    return {
        "session_id": session_id,
        "day": day.isoformat(),
        "service_level": service_level,
        "history": {"start": first.isoformat(), "end": last.isoformat(), "days": days},
        "horizon_days": h,
        "method": "daily_forecast",
        "fallback_reason": why,
        "session": None,
        "products": plan,
    }
