"""What the faces ask of forecasting: a sales forecast of the largest keys with their recent history,
a backtest of it, and a session's stock plan (:func:`liveloop.analytics.demand.stock_plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from liveloop.analytics.backtest import backtest
from liveloop.analytics.demand import SalesForecast, sales_history
from liveloop.analytics.forecast import LEVELS, forecast
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

#: Series one request may forecast (each is fitted on its own: products are many).
MAX_SERIES = 50
DEFAULT_TOP = 10
#: Observed periods returned beside the forecast, for charts.
HISTORY_POINTS = 120


def _history(
    wh: Warehouse, by: str, measure: str, freq: str, ids: Sequence[str] | None, top: int
) -> pd.DataFrame:
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_SERIES:
        raise ValidationFailed(f"top is a whole number from 1 to {MAX_SERIES}", field="top")
    if ids is not None and len(set(ids)) > MAX_SERIES:
        raise ValidationFailed(f"at most {MAX_SERIES} ids in one request", field="id")
    history = sales_history(wh, by, measure, freq=freq, ids=ids or None)
    if not ids:  # the keys that sold the most
        totals = history.groupby("unique_id")["y"].sum().sort_values(ascending=False, kind="stable")
        history = history[history["unique_id"].isin(totals.index[:top])]
    return history


def sales_forecast(
    wh: Warehouse,
    by: str = "category",
    measure: str = "gmv",
    horizon: int = 7,
    *,
    freq: str = "D",
    ids: Sequence[str] | None = None,
    top: int = DEFAULT_TOP,
    levels: Sequence[float] = LEVELS,
) -> dict[str, Any]:
    """The ``measure`` of the ``top`` keys of ``by`` (or the ``ids``) forecast ``horizon`` periods ahead,
    with quantiles and each series's recent history."""
    history = _history(wh, by, measure, freq, ids, top)
    result = forecast(history, horizon, freq, levels=levels)
    return SalesForecast(by=by, measure=measure, history=history, forecast=result).to_dict(HISTORY_POINTS)


def sales_backtest(
    wh: Warehouse,
    by: str = "category",
    measure: str = "gmv",
    horizon: int = 7,
    *,
    freq: str = "D",
    origins: int = 4,
    ids: Sequence[str] | None = None,
    top: int = DEFAULT_TOP,
) -> dict[str, Any]:
    """A rolling-origin backtest of :func:`sales_forecast` (MASE and WMAE of liveloop's choice beside
    each model and seasonal naive)."""
    history = _history(wh, by, measure, freq, ids, top)
    return {"by": by, "measure": measure, **backtest(history, horizon, freq, origins=origins).to_dict()}
