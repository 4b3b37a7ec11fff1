"""Sales of a planned live session: expected units and GMV per lineup product, quantiles for stock, and
the session's totals with an interval.

**Training rows.** One row per (past live session, lineup product). The label is the units of that
product in the session's paid orders (``orders.session_id``, status not cancelled, failed or refunded)
placed before the model's cutoff ``before``; only sessions that ended by then count. GMV is the order
lines' amounts.

**Features.** Everything is known before the session starts: each row's features are computed as of
its own cutoff (a training row: its session's start; a forecast: the session's start, or an earlier
``as_of``). Only orders placed before the cutoff, sessions ended by it (and their ``enter_room``
events) and product views of whole UTC days before it are read. (An order's status is read as it is
now: a refund made after the cutoff already removes the order.) The features:

- the product: its past featured sessions (count, mean units, units in the last one, units per 100
  viewers), its list price, the planned live price and coupon when the session's ``props`` carry
  ``slot_prices``/``slot_coupons`` (one per lineup slot; else the list price and none), its category
  and whether that is the host's, its ordinary daily demand (units a day outside live sessions over
  the 28 days before) and its daily product views outside live rooms over those days;
- the host: past sessions (count, mean GMV, mean viewers = distinct ``enter_room`` users, mean units
  per lineup slot);
- the slot: local hour and weekday of the start, planned duration when the end is known, lineup size,
  and the product's position in the lineup (0-based and as a share of the lineup).

Recency features (the last 7 days' demand, the host's last three sessions, the platform's traffic of
the last 24 hours) were tried and left out: a session is planned days ahead, and read at the planning
time they carried a festival's spike into the week after it (``docs/benchmarks/forecast.md`` §4).

**Models.** A LightGBM Poisson regression gives the expected units. The stock quantile at the service
level comes from one of two methods, picked by a time-ordered validation inside the training sessions
(the last quarter of them by start; the models are fitted on the earlier ones): a negative binomial
around the expected units with its dispersion fitted by maximum likelihood on the validation rows, or a
LightGBM quantile regression at the service level. The pick is the lower mean pinball loss of the stock
each would recommend. The number of trees of the mean model is chosen by early stopping on the same
validation rows; the final models are refitted on every training row. The quantile is never below the
expected units, and the recommended stock is the quantile rounded up (so a featured product with any
expected demand gets at least one unit).

**Session totals.** Expected units and GMV are sums over the lineup. Their interval comes from 4,000
draws (fixed seed) of a negative binomial per product that shares a gamma "session" factor: lineup
products of one session sell together (a busy room lifts all of them). That factor's variance is
fitted on the validation rows from the covariance of the residuals of products of the same session.

With fewer than :data:`MIN_SESSIONS` past sessions (or no unit ever sold in one) there is nothing
honest to learn: :func:`fit_session_model` raises :class:`InsufficientData` (``field="before"``) and
:func:`liveloop.analytics.demand.stock_plan` falls back to the daily demand forecast, saying why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from liveloop.core.config import get_settings
from liveloop.core.errors import InsufficientData, NotFound, ValidationFailed
from liveloop.warehouse import Warehouse
from liveloop.warehouse.orders import paid

#: Past sessions (ended, with a lineup) a model needs before it is fitted.
MIN_SESSIONS = 30
#: Share of the training sessions (the latest by start) that validates the model's choices.
VALIDATION_SHARE = 0.25
#: Draws of the session totals' interval.
DRAWS = 4000
SEED = 20250601
#: Days of ordinary demand and product views the features look back.
LOOKBACK_DAYS = 28
PLANNED = "(planned)"

_PAID = paid("o")
#: A session without an end counts as ended this long after its start.
_DEFAULT_HOURS = 6
NUMERIC = (
    "p_featured",
    "p_mean_units",
    "p_last_units",
    "p_units_per_100_viewers",
    "p_daily_units_28d",
    "p_daily_views_28d",
    "list_price",
    "log_price",
    "discount",
    "coupon_share",
    "own_category",
    "h_sessions",
    "h_mean_gmv",
    "h_mean_viewers",
    "h_units_per_slot",
    "hour",
    "weekday",
    "duration_min",
    "lineup_size",
    "position",
    "position_share",
)
CATEGORICAL = ("category",)
FEATURES = NUMERIC + CATEGORICAL
METHODS = ("negative_binomial", "lightgbm_quantile")
METHOD_NAMES = {
    "negative_binomial": "negative-binomial quantile",
    "lightgbm_quantile": "LightGBM quantile regression",
}
_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "verbose": -1,
    "n_jobs": 1,  # LightGBM's default threads contend pathologically on a small shared machine
}
_MAX_TREES = 600
_QUANTILE_TREES = 300


# --- input checks ------------------------------------------------------------------------------------


def check_service_level(service_level: Any) -> float:
    number = isinstance(service_level, int | float) and not isinstance(service_level, bool)
    if not number or not 0.5 < service_level < 1:
        raise ValidationFailed(
            f"the service level is a probability in (0.5, 1), not {service_level!r}", field="service_level"
        )
    return float(service_level)


def moment(value: Any, field: str, zone: ZoneInfo) -> datetime:
    """``value`` (a datetime, a date or ISO 8601 text; naive means the local zone) as aware UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(f"{field} must be a time (ISO 8601), not {value!r}", field=field) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise ValidationFailed(f"{field} must be a time, not {value!r}", field=field)
    return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)


@contextmanager
def _registered(wh: Warehouse, name: str, frame: pd.DataFrame) -> Iterator[None]:
    """``frame`` visible to SQL as ``name`` while the block runs (under the warehouse lock)."""
    with wh.exclusive():
        wh.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
        try:
            yield
        finally:
            wh.con.unregister(name)


# --- rows and features -------------------------------------------------------------------------------


def _end(alias: str) -> str:
    return f"coalesce({alias}.end_ts, {alias}.start_ts + INTERVAL {_DEFAULT_HOURS} HOUR)"


def _session_rows(wh: Warehouse, where: str, params: list[Any]) -> pd.DataFrame:
    """One row per (stored session, distinct lineup product) of the sessions ``where`` selects, with
    the position, lineup size and planned price/coupon of the slot (from ``props``, when aligned)."""
    rows = wh.df(
        f"""
        SELECT s.session_id, s.host_id, s.start_ts, s.end_ts, {_end("s")} AS ended_ts, s.lineup,
               CAST(json_extract(s.props, '$.slot_prices') AS DOUBLE[]) AS slot_prices,
               CAST(json_extract(s.props, '$.slot_coupons') AS DOUBLE[]) AS slot_coupons
        FROM live_sessions s
        WHERE s.start_ts IS NOT NULL AND len(coalesce(s.lineup, [])) > 0 AND ({where})
        ORDER BY s.start_ts, s.session_id
        """,
        params,
    )
    out = []
    for r in rows.itertuples(index=False):
        lineup = [str(p) for p in r.lineup]
        prices = _aligned(r.slot_prices, len(lineup))
        coupons = _aligned(r.slot_coupons, len(lineup))
        out.append(
            _lineup_frame(r.session_id, r.host_id, r.start_ts, r.end_ts, r.ended_ts, lineup, prices, coupons)
        )
    if not out:
        return _lineup_frame("", "", None, None, None, [], None, None)
    return pd.concat(out, ignore_index=True)


def _aligned(values: Any, n: int) -> list[float | None] | None:
    if values is None:
        return None
    values = list(values)
    if len(values) != n:
        return None
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def _lineup_frame(
    session_id: str,
    host_id: str,
    start: Any,
    end: Any,
    ended: Any,
    lineup: list[str],
    prices: Sequence[float | None] | None,
    coupons: Sequence[float | None] | None,
) -> pd.DataFrame:
    seen: dict[str, int] = {}
    for i, p in enumerate(lineup):
        seen.setdefault(p, i)
    n = len(lineup)
    keys = list(seen)
    return pd.DataFrame(
        {
            "session_id": [session_id] * len(keys),
            "host_id": [host_id] * len(keys),
            "start_ts": pd.Series([start] * len(keys), dtype="datetime64[us, UTC]"),
            "end_ts": pd.Series([end] * len(keys), dtype="datetime64[us, UTC]"),
            "ended_ts": pd.Series([ended] * len(keys), dtype="datetime64[us, UTC]"),
            "product_id": keys,
            "position": [seen[p] for p in keys],
            "lineup_size": [n] * len(keys),
            "planned_price": pd.Series(
                [None if prices is None else prices[seen[p]] for p in keys], dtype="float64"
            ),
            "planned_coupon": pd.Series(
                [None if coupons is None else coupons[seen[p]] for p in keys], dtype="float64"
            ),
        }
    )


_FEATURE_SQL = f"""
WITH t AS (SELECT * FROM _sf_targets),
ts_ AS (SELECT DISTINCT session_id, host_id, cutoff FROM t),
ended AS (
    SELECT s.session_id, s.host_id, {_end("s")} AS end_ts, len(s.lineup) AS n_slots
    FROM live_sessions s WHERE s.start_ts IS NOT NULL AND len(coalesce(s.lineup, [])) > 0
),
featured AS (
    SELECT DISTINCT s.session_id, unnest(s.lineup) AS product_id, {_end("s")} AS end_ts
    FROM live_sessions s WHERE s.start_ts IS NOT NULL
),
lines AS (
    SELECT o.session_id, i.product_id, o.ts, CAST(i.quantity AS DOUBLE) AS q, CAST(i.amount AS DOUBLE) AS a
    FROM orders o JOIN order_items i USING (order_id)
    WHERE {_PAID} AND o.session_id IS NOT NULL
),
viewers AS (
    SELECT e.session_id, count(DISTINCT e.user_id) AS v
    FROM events e JOIN ended s USING (session_id)
    WHERE e.type = 'enter_room' AND e.ts <= s.end_ts GROUP BY 1
),
pf AS (
    SELECT t.row_id, f.session_id, f.end_ts, coalesce(sum(l.q), 0) AS units
    FROM t JOIN featured f ON f.product_id = t.product_id AND f.end_ts <= t.cutoff
        AND f.session_id <> t.session_id
    LEFT JOIN lines l ON l.session_id = f.session_id AND l.product_id = f.product_id AND l.ts < t.cutoff
    GROUP BY 1, 2, 3
),
pfa AS (
    SELECT pf.row_id, count(*) AS p_featured, avg(pf.units) AS p_mean_units,
           arg_max(pf.units, pf.end_ts) AS p_last_units,
           100 * sum(pf.units) / nullif(sum(coalesce(v.v, 0)), 0) AS p_units_per_100_viewers
    FROM pf LEFT JOIN viewers v USING (session_id) GROUP BY 1
),
hp AS (
    SELECT ts_.session_id, ts_.cutoff, e.session_id AS past, e.n_slots,
           coalesce(sum(l.a), 0) AS gmv, coalesce(sum(l.q), 0) AS units
    FROM ts_ JOIN ended e ON e.host_id = ts_.host_id AND e.end_ts <= ts_.cutoff
        AND e.session_id <> ts_.session_id
    LEFT JOIN lines l ON l.session_id = e.session_id AND l.ts < ts_.cutoff
    GROUP BY 1, 2, 3, 4
),
hpr AS (SELECT hp.*, coalesce(v.v, 0) AS viewers FROM hp LEFT JOIN viewers v ON v.session_id = hp.past),
ha AS (
    SELECT session_id, cutoff, count(*) AS h_sessions, avg(gmv) AS h_mean_gmv,
           avg(viewers) AS h_mean_viewers,
           sum(units) / sum(n_slots) AS h_units_per_slot
    FROM hpr GROUP BY 1, 2
),
pday AS (
    SELECT i.product_id, CAST(date_trunc('day', o.ts) AS DATE) AS d, sum(i.quantity) AS q
    FROM orders o JOIN order_items i USING (order_id)
    WHERE {_PAID} AND o.session_id IS NULL AND list_contains(?, i.product_id)
    GROUP BY 1, 2
),
first_day AS (
    SELECT CAST(date_trunc('day', min(o.ts)) AS DATE) AS d FROM orders o WHERE {_PAID}
),
avail AS (  -- whole days of orders before each cutoff's day, up to the look-back
    SELECT t.row_id, greatest(1, least({LOOKBACK_DAYS}, t.cut_day - f.d)) AS days FROM t, first_day f
),
pd_ AS (
    SELECT t.row_id, sum(p.q) / any_value(a.days) AS p_daily_units_28d
    FROM t JOIN avail a USING (row_id) JOIN pday p ON p.product_id = t.product_id
        AND p.d >= t.cut_day - {LOOKBACK_DAYS} AND p.d < t.cut_day
    GROUP BY 1
),
vday AS (
    SELECT product_id, CAST(date_trunc('day', ts) AS DATE) AS d, count(*) AS n
    FROM events WHERE type = 'view' AND session_id IS NULL AND list_contains(?, product_id)
    GROUP BY 1, 2
),
first_view AS (SELECT min(d) AS d FROM vday),
pv AS (
    SELECT t.row_id,
           sum(v.n) / greatest(1, least({LOOKBACK_DAYS}, any_value(t.cut_day - f.d))) AS p_daily_views_28d
    FROM t CROSS JOIN first_view f JOIN vday v ON v.product_id = t.product_id
        AND v.d >= t.cut_day - {LOOKBACK_DAYS} AND v.d < t.cut_day
    GROUP BY 1
)
SELECT t.row_id,
       coalesce(pfa.p_featured, 0) AS p_featured, pfa.p_mean_units, pfa.p_last_units,
       pfa.p_units_per_100_viewers,
       coalesce(pd_.p_daily_units_28d, 0) AS p_daily_units_28d,
       coalesce(pv.p_daily_views_28d, 0) AS p_daily_views_28d,
       CAST(p.price AS DOUBLE) AS list_price, p.category,
       CAST(p.category = h.category AS DOUBLE) AS own_category,
       coalesce(ha.h_sessions, 0) AS h_sessions, ha.h_mean_gmv, ha.h_mean_viewers, ha.h_units_per_slot
FROM t
LEFT JOIN products p ON p.product_id = t.product_id
LEFT JOIN hosts h ON h.host_id = t.host_id
LEFT JOIN pfa ON pfa.row_id = t.row_id
LEFT JOIN pd_ ON pd_.row_id = t.row_id
LEFT JOIN pv ON pv.row_id = t.row_id
LEFT JOIN ha ON ha.session_id = t.session_id AND ha.cutoff = t.cutoff
ORDER BY t.row_id
"""


def features(wh: Warehouse, rows: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
    """The model's features of ``rows`` (``session_id, host_id, start_ts, end_ts, product_id,
    position, lineup_size, planned_price, planned_coupon, cutoff``), each as of its own ``cutoff``."""
    zone = ZoneInfo(tz or get_settings().timezone)
    targets = rows[["session_id", "host_id", "product_id", "cutoff", "position", "lineup_size"]].reset_index(
        drop=True
    )
    targets = targets.assign(
        row_id=np.arange(len(targets), dtype=np.int64),
        cut_day=targets["cutoff"].dt.tz_convert("UTC").dt.floor("D").dt.date,
    )
    products = sorted(targets["product_id"].unique().tolist())
    with _registered(wh, "_sf_targets", targets):
        found = wh.df(_FEATURE_SQL, [products, products])
    found = found.set_index("row_id").reindex(targets["row_id"]).reset_index(drop=True)
    out = rows.reset_index(drop=True).copy()
    for col in found.columns:
        out[col] = found[col].to_numpy()
    local = out["start_ts"].dt.tz_convert(zone.key)
    out["hour"] = local.dt.hour + local.dt.minute / 60
    out["weekday"] = local.dt.weekday.astype(float)
    out["duration_min"] = (out["end_ts"] - out["start_ts"]).dt.total_seconds() / 60
    out["position_share"] = out["position"] / out["lineup_size"].clip(lower=1)
    price = out["planned_price"].where(out["planned_price"] > 0, out["list_price"])
    out["price"] = price
    out["log_price"] = np.log1p(price.astype(float))
    out["discount"] = 1 - price / out["list_price"].where(out["list_price"] > 0)
    out["coupon_share"] = out["planned_coupon"].fillna(0) / price.where(price > 0)
    for col in NUMERIC:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["category"] = out["category"].astype("string").fillna("(none)")
    return out


def _design(frame: pd.DataFrame, categories: Sequence[str]) -> pd.DataFrame:
    x = frame[list(NUMERIC)].copy()
    x["category"] = pd.Categorical(frame["category"].astype(str), categories=list(categories))
    return x


def training_rows(wh: Warehouse, before: datetime, tz: str | None = None) -> pd.DataFrame:
    """Every (session ended by ``before``, lineup product) with its features as of the session's start
    and its label: ``units`` and ``gmv`` of the product in the session's paid orders placed before
    ``before``."""
    rows = _session_rows(wh, f"{_end('s')} <= ?", [before])
    if rows.empty:
        return rows
    rows["cutoff"] = rows["start_ts"]
    out = features(wh, rows, tz)
    sold = wh.df(
        f"SELECT o.session_id, i.product_id, sum(i.quantity) AS units, sum(CAST(i.amount AS DOUBLE)) AS gmv "
        f"FROM orders o JOIN order_items i USING (order_id) "
        f"WHERE {_PAID} AND o.session_id IS NOT NULL AND o.ts < ? GROUP BY 1, 2",
        [before],
    )
    out = out.merge(sold, on=["session_id", "product_id"], how="left")
    out["units"] = out["units"].fillna(0).astype(float)
    out["gmv"] = out["gmv"].fillna(0).astype(float)
    return out


# --- distributions -----------------------------------------------------------------------------------


def nb_quantile(mean: np.ndarray, alpha: float, q: float) -> np.ndarray:
    """The ``q`` quantile of a negative binomial with ``mean`` and variance ``mean + alpha mean²``
    (Poisson when ``alpha`` is 0)."""
    from scipy import stats

    mean = np.maximum(np.asarray(mean, dtype=float), 1e-9)
    if alpha <= 1e-8:
        return np.asarray(stats.poisson.ppf(q, mean), dtype=float)
    n = 1.0 / alpha
    return np.asarray(stats.nbinom.ppf(q, n, n / (n + mean)), dtype=float)


def _nb_loglik(y: np.ndarray, mean: np.ndarray, alpha: float) -> float:
    from scipy.special import gammaln

    mean = np.maximum(mean, 1e-9)
    n = 1.0 / alpha
    return float(
        np.sum(
            gammaln(y + n) - gammaln(n) - gammaln(y + 1) + n * np.log(n / (n + mean))
            + y * np.log(mean / (n + mean))
        )
    )  # fmt: skip


def fit_dispersion(y: np.ndarray, mean: np.ndarray) -> float:
    """The negative binomial's ``alpha`` (variance ``mean + alpha mean²``) by maximum likelihood."""
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        lambda la: -_nb_loglik(y, mean, math.exp(la)), bounds=(math.log(1e-4), math.log(50)), method="bounded"
    )
    alpha = math.exp(float(res.x))
    poisson = float(np.sum(y * np.log(np.maximum(mean, 1e-9)) - mean))
    from scipy.special import gammaln

    poisson -= float(np.sum(gammaln(y + 1)))
    return alpha if -float(res.fun) > poisson else 0.0


def fit_session_dispersion(y: np.ndarray, mean: np.ndarray, session: np.ndarray) -> float:
    """The variance of a shared gamma factor of one session's products, from the covariance of the
    residuals of different products of the same session (moment estimate, at least 0)."""
    r = y - mean
    frame = pd.DataFrame({"s": session, "r": r, "m": mean})
    g = frame.groupby("s").agg(r=("r", "sum"), m=("m", "sum"))
    sq = frame.assign(r2=r**2, m2=mean**2).groupby("s").agg(r2=("r2", "sum"), m2=("m2", "sum"))
    cross = float((g["r"] ** 2 - sq["r2"]).sum())
    weight = float((g["m"] ** 2 - sq["m2"]).sum())
    return max(0.0, cross / weight) if weight > 0 else 0.0


def pinball(y: np.ndarray, q: np.ndarray, level: float) -> float:
    d = y - q
    return float(np.mean(np.maximum(level * d, (level - 1) * d)))


def stock_of(quantile: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The recommended stock: the quantile, never below the expected units, rounded up."""
    return np.ceil(np.maximum(quantile, mean) - 1e-9)


# --- the model ---------------------------------------------------------------------------------------


@dataclass
class SessionModel:
    """A fitted session model: the mean and quantile LightGBMs, the dispersions, and how it validated."""

    before: datetime
    service_level: float
    method: str
    mean_model: Any
    quantile_model: Any | None
    dispersion: float
    session_dispersion: float
    categories: list[str]
    trees: int
    sessions: int
    rows: int
    window: tuple[datetime, datetime]
    validation: dict[str, Any] = field(default_factory=dict)

    def predict_mean(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.mean_model.predict(_design(frame, self.categories)), dtype=float)

    def predict(self, frame: pd.DataFrame, service_level: float | None = None) -> pd.DataFrame:
        """``mean`` and ``quantile`` units of each row of a :func:`features` frame at the service level
        (the fitted one by default; another level uses the negative binomial)."""
        level = self.service_level if service_level is None else check_service_level(service_level)
        mean = self.predict_mean(frame)
        if (
            self.method == "lightgbm_quantile"
            and self.quantile_model is not None
            and level == self.service_level
        ):
            q = np.asarray(self.quantile_model.predict(_design(frame, self.categories)), dtype=float)
        else:
            q = nb_quantile(mean, self.dispersion, level)
        return pd.DataFrame(
            {"mean": mean, "quantile": np.maximum(q, mean), "quantile_raw": q}, index=frame.index
        )

    def totals(
        self, mean: np.ndarray, price: np.ndarray, service_level: float, seed: int = SEED
    ) -> dict[str, Any]:
        """Expected units and GMV of a lineup and their ``[1 - level, level]`` quantiles, by draws of
        negative binomials sharing a gamma session factor."""
        rng = np.random.default_rng(seed)
        a_s = self.session_dispersion
        # the product-level dispersion left once the shared factor is accounted for
        a_p = max(0.0, (self.dispersion - a_s) / (1 + a_s))
        z = rng.gamma(1 / a_s, a_s, (DRAWS, 1)) if a_s > 1e-8 else np.ones((DRAWS, 1))
        g = rng.gamma(1 / a_p, a_p, (DRAWS, len(mean))) if a_p > 1e-8 else 1.0
        units = rng.poisson(np.asarray(mean)[None, :] * z * g).astype(float)
        gmv = units @ np.asarray(price, dtype=float)
        total = units.sum(axis=1)
        lo, hi = 1 - service_level, service_level
        return {
            "expected_units": float(np.sum(mean)),
            "expected_gmv": float(np.dot(mean, price)),
            "interval_level": round(2 * service_level - 1, 6),
            "units_interval": [float(np.quantile(total, lo)), float(np.quantile(total, hi))],
            "gmv_interval": [float(np.quantile(gmv, lo)), float(np.quantile(gmv, hi))],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.isoformat(),
            "service_level": self.service_level,
            "quantile_method": self.method,
            "dispersion": round(self.dispersion, 4),
            "session_dispersion": round(self.session_dispersion, 4),
            "trees": self.trees,
            "sessions": self.sessions,
            "rows": self.rows,
            "window": [self.window[0].isoformat(), self.window[1].isoformat()],
            "validation": self.validation,
            "features": list(FEATURES),
        }


def _lgbm(objective: str, trees: int, seed: int, **extra: Any) -> Any:
    import lightgbm as lgb

    return lgb.LGBMRegressor(objective=objective, n_estimators=trees, random_state=seed, **_PARAMS, **extra)


def fit_session_model(
    wh: Warehouse,
    before: datetime | str | None = None,
    *,
    service_level: float = 0.95,
    tz: str | None = None,
    seed: int = SEED,
) -> SessionModel:
    """Fit the session model on every session ended by ``before`` (default: now), its labels from the
    paid orders placed before it. :class:`InsufficientData` (``field="before"``) with fewer than
    :data:`MIN_SESSIONS` such sessions or no unit sold in any."""
    import lightgbm as lgb

    level = check_service_level(service_level)
    zone = ZoneInfo(tz or get_settings().timezone)
    cutoff = datetime.now(UTC) if before is None else moment(before, "before", zone)
    rows = training_rows(wh, cutoff, zone.key)
    sessions = rows["session_id"].nunique() if not rows.empty else 0
    if sessions < MIN_SESSIONS:
        raise InsufficientData(
            f"{sessions} past live session{'s' if sessions != 1 else ''} with a lineup ended before "
            f"{cutoff:%Y-%m-%d %H:%M} UTC; the session model needs at least {MIN_SESSIONS}",
            field="before",
        )
    if rows["units"].sum() <= 0:
        raise InsufficientData(
            f"no unit was sold in the {sessions} past live sessions before {cutoff:%Y-%m-%d %H:%M} UTC",
            field="before",
        )
    categories = sorted(rows["category"].astype(str).unique().tolist())
    order = rows.groupby("session_id")["start_ts"].first().sort_values(kind="stable")
    n_val = max(8, round(VALIDATION_SHARE * len(order)))
    val_sessions = set(order.index[-n_val:])
    is_val = rows["session_id"].isin(val_sessions).to_numpy()
    train, val = rows[~is_val], rows[is_val]
    x_tr, x_val, x_all = (_design(f, categories) for f in (train, val, rows))
    y_tr, y_val = train["units"].to_numpy(), val["units"].to_numpy()
    if y_tr.sum() <= 0:
        raise InsufficientData(
            f"no unit was sold in the {len(order) - n_val} earliest past live sessions before "
            f"{cutoff:%Y-%m-%d %H:%M} UTC, the part the session model learns from",
            field="before",
        )

    mean_model = _lgbm("poisson", _MAX_TREES, seed)
    mean_model.fit(
        x_tr, y_tr, eval_X=(x_val,), eval_y=(y_val,), eval_metric="poisson",
        callbacks=[lgb.early_stopping(40, verbose=False)],
    )  # fmt: skip
    trees = max(20, int(mean_model.best_iteration_ or _MAX_TREES))
    mu_val = np.asarray(mean_model.predict(x_val, num_iteration=trees), dtype=float)
    alpha = fit_dispersion(y_val, mu_val)
    alpha_s = min(fit_session_dispersion(y_val, mu_val, val["session_id"].to_numpy()), alpha)
    q_model = _lgbm("quantile", _QUANTILE_TREES, seed, alpha=level)
    q_model.fit(x_tr, y_tr)
    q_val = np.asarray(q_model.predict(x_val), dtype=float)
    stock_nb = stock_of(nb_quantile(mu_val, alpha, level), mu_val)
    stock_q = stock_of(q_val, mu_val)
    losses = {
        "negative_binomial": pinball(y_val, stock_nb, level),
        "lightgbm_quantile": pinball(y_val, stock_q, level),
    }
    method = min(losses, key=lambda k: (losses[k], METHODS.index(k)))
    past = val["p_mean_units"].fillna(float(train["units"].mean())).to_numpy()
    validation = {
        "sessions": int(n_val),
        "rows": len(val),
        "from": order.iloc[-n_val].isoformat(),
        "mae_units": float(np.mean(np.abs(y_val - mu_val))),
        "mae_units_past_mean": float(np.mean(np.abs(y_val - past))),
        "pinball": {k: round(v, 5) for k, v in losses.items()},
        "stockout_share": {
            "negative_binomial": float(np.mean(y_val > stock_nb)),
            "lightgbm_quantile": float(np.mean(y_val > stock_q)),
        },
    }
    final = _lgbm("poisson", trees, seed)
    final.fit(x_all, rows["units"].to_numpy())
    final_q = None
    if method == "lightgbm_quantile":
        final_q = _lgbm("quantile", _QUANTILE_TREES, seed, alpha=level)
        final_q.fit(x_all, rows["units"].to_numpy())
    return SessionModel(
        before=cutoff,
        service_level=level,
        method=method,
        mean_model=final,
        quantile_model=final_q,
        dispersion=alpha,
        session_dispersion=alpha_s,
        categories=categories,
        trees=trees,
        sessions=int(sessions),
        rows=len(rows),
        window=(rows["start_ts"].min().to_pydatetime(), rows["ended_ts"].max().to_pydatetime()),
        validation=validation,
    )


# --- forecasts ---------------------------------------------------------------------------------------


@dataclass
class SessionForecast:
    """The forecast of one live session: per lineup product and in total."""

    session_id: str | None
    host_id: str
    start: datetime
    as_of: datetime
    service_level: float
    products: list[dict[str, Any]]
    totals: dict[str, Any]
    model: SessionModel

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "host_id": self.host_id,
            "start": self.start.isoformat(),
            "as_of": self.as_of.isoformat(),
            "service_level": self.service_level,
            "products": self.products,
            "totals": self.totals,
            "model": self.model.to_dict(),
        }


def planned_rows(
    wh: Warehouse,
    *,
    session_id: str | None = None,
    lineup: Sequence[str] | None = None,
    host_id: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    prices: Sequence[float] | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """The lineup rows (no features yet) of a stored session, or of a planned one from its lineup,
    host and start; clear errors naming the field otherwise."""
    zone = ZoneInfo(tz or get_settings().timezone)
    if session_id is not None:
        found = wh.sql("SELECT lineup, start_ts FROM live_sessions WHERE session_id = ?", [session_id])
        if not found:
            raise NotFound(f"no live session {session_id!r}", field="session_id")
        if not found[0][0] or found[0][1] is None:
            raise ValidationFailed(
                f"session {session_id!r} has no lineup or no start time", field="session_id"
            )
        rows = _session_rows(wh, "s.session_id = ?", [session_id])
        if lineup is not None:
            keep = [str(p) for p in dict.fromkeys(lineup)]
            if not keep:
                raise ValidationFailed("the lineup is empty", field="lineup")
            missing = sorted(set(keep) - set(rows["product_id"]))
            if missing:
                raise ValidationFailed(
                    f"not in session {session_id!r}'s lineup: {', '.join(missing[:5])}", field="lineup"
                )
            rows = rows.set_index("product_id").loc[keep].reset_index()
        return rows
    if lineup is None or isinstance(lineup, str):
        raise ValidationFailed("name a session, or a lineup with its host and start", field="session_id")
    items = [str(p) for p in lineup]
    if not items:
        raise ValidationFailed("the lineup is empty", field="lineup")
    if host_id is None:
        raise ValidationFailed("name the host of the planned session", field="host_id")
    if start is None:
        raise ValidationFailed("name the start of the planned session", field="start")
    known_host = wh.sql(
        "SELECT 1 FROM hosts WHERE host_id = ? "
        "UNION ALL SELECT 1 FROM live_sessions WHERE host_id = ? LIMIT 1",
        [host_id, host_id],
    )
    if not known_host:
        raise NotFound(f"no host {host_id!r}", field="host_id")
    begin = moment(start, "start", zone)
    finish = None if end is None else moment(end, "end", zone)
    if finish is not None and finish <= begin:
        raise ValidationFailed("the session's end must be after its start", field="end")
    known = {
        r[0] for r in wh.sql("SELECT product_id FROM products WHERE list_contains(?, product_id)", [items])
    }
    missing = [p for p in dict.fromkeys(items) if p not in known]
    if missing:
        raise NotFound(f"no product {', '.join(repr(p) for p in missing[:5])}", field="lineup")
    if prices is not None:
        if len(prices) != len(items):
            raise ValidationFailed("give one planned price per lineup slot", field="prices")
        if any(not isinstance(p, int | float) or isinstance(p, bool) or not p > 0 for p in prices):
            raise ValidationFailed("planned prices are positive numbers", field="prices")
    ended = finish if finish is not None else begin + timedelta(hours=_DEFAULT_HOURS)
    return _lineup_frame(
        PLANNED,
        host_id,
        begin,
        finish,
        ended,
        items,
        None if prices is None else list(map(float, prices)),
        None,
    )


def forecast_rows(
    wh: Warehouse,
    model: SessionModel,
    rows: pd.DataFrame,
    as_of: datetime,
    service_level: float,
    tz: str | None,
) -> pd.DataFrame:
    """Features of ``rows`` as of ``min(as_of, start)`` and the model's mean and quantile per row."""
    if model.before > as_of:
        raise ValidationFailed(
            f"the model was fitted on data up to {model.before:%Y-%m-%d %H:%M} UTC, after the forecast's "
            f"cutoff {as_of:%Y-%m-%d %H:%M} UTC: it would see the future",
            field="model",
        )
    rows = rows.assign(cutoff=rows["start_ts"].where(rows["start_ts"] < as_of, as_of))
    rows["cutoff"] = rows["cutoff"].astype("datetime64[us, UTC]")
    feats = features(wh, rows, tz)
    pred = model.predict(feats, service_level)
    return feats.assign(
        expected_units=pred["mean"].to_numpy(),
        quantile_units=pred["quantile"].to_numpy(),
        raw_quantile_units=pred["quantile_raw"].to_numpy(),
    )


def forecast_session(
    wh: Warehouse,
    session_id: str | None = None,
    *,
    lineup: Sequence[str] | None = None,
    host_id: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    prices: Sequence[float] | None = None,
    service_level: float = 0.95,
    as_of: datetime | str | None = None,
    model: SessionModel | None = None,
    tz: str | None = None,
) -> SessionForecast:
    """Expected units and GMV of each lineup product of a live session, the ``service_level`` quantile
    of its units (the stock to hold), and the session's totals with a ``2 * level - 1`` interval.

    The session is a stored one (``session_id``; ``lineup`` may narrow it to some of its products) or a
    planned one (``lineup``, ``host_id``, ``start``; ``end`` and planned ``prices`` per slot when known).
    Data are read as of ``min(as_of, start)`` (``as_of`` defaults to the start), and the model, unless
    given, is fitted on the sessions ended by then: a past session's forecast is a fair backtest.
    Raises :class:`InsufficientData` (``field="before"``) when too few past sessions exist."""
    level = check_service_level(service_level)
    zone = ZoneInfo(tz or get_settings().timezone)
    rows = planned_rows(
        wh,
        session_id=session_id,
        lineup=lineup,
        host_id=host_id,
        start=start,
        end=end,
        prices=prices,
        tz=zone.key,
    )
    begin = rows["start_ts"].iloc[0].to_pydatetime()
    cutoff = begin if as_of is None else min(begin, moment(as_of, "as_of", zone))
    if model is None:
        model = fit_session_model(wh, cutoff, service_level=level, tz=zone.key)
    out = forecast_rows(wh, model, rows, cutoff, level, zone.key)
    titles = dict(
        wh.sql(
            "SELECT product_id, title FROM products WHERE list_contains(?, product_id)",
            [out["product_id"].tolist()],
        )
    )
    products = []
    for r in out.itertuples(index=False):
        mean, q = float(r.expected_units), float(r.quantile_units)
        price = float(r.price) if pd.notna(r.price) else 0.0
        products.append(
            {
                "product_id": r.product_id,
                "title": titles.get(r.product_id),
                "position": int(r.position) + 1,
                "price": round(price, 2),
                "expected_units": round(mean, 3),
                "expected_gmv": round(mean * price, 2),
                "quantile_units": round(q, 3),
                "recommended_stock": int(stock_of(np.array([q]), np.array([mean]))[0]),
                "past_featured_sessions": int(r.p_featured),
                "past_mean_units": None if pd.isna(r.p_mean_units) else round(float(r.p_mean_units), 3),
            }
        )
    price_arr = out["price"].fillna(0).to_numpy(dtype=float)
    totals = model.totals(out["expected_units"].to_numpy(), price_arr, level)
    return SessionForecast(
        session_id=session_id,
        host_id=str(rows["host_id"].iloc[0]),
        start=begin,
        as_of=cutoff,
        service_level=level,
        products=products,
        totals={
            k: [round(x, 2) for x in v] if isinstance(v, list) else round(v, 2) for k, v in totals.items()
        },
        model=model,
    )
