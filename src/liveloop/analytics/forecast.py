"""Demand forecasts: statsforecast's models, and liveloop's choice among them, on a long frame.

The input is a long frame of ``unique_id, ds, y`` (one row per series and period, no gaps) at a daily
(season 7) or weekly (season 52) frequency. Every candidate model is a statsforecast model. liveloop's
own forecast ("liveloop") is an inverse-error combination of the candidates, weighted per series by a
rolling-origin cross-validation on that series's training data only: the last ``n_windows`` windows of
``h`` periods, each model refitted at each window's origin, scored by MASE (the window's mean absolute
error over the in-sample seasonal-naive error). Weights are ``1 / MASE²`` (Bates–Granger's inverse
error-variance weights, with MASE standing in for the error scale), normalised per series. On the
benchmarks this combination beat both picking the best model per series and the best single model
(``docs/benchmarks/forecast.md``).

Quantiles come from the candidates' prediction intervals: the combined interval is the combined point
forecast plus the weighted mean of each model's interval offsets from its own point forecast, so the
quantiles stay ordered and centred on the point. Series that never go negative (sales, GMV) get
forecasts and quantiles clipped at zero.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import InsufficientData, ValidationFailed

#: Prediction-interval levels (%) reported by default: quantiles 2.5, 10, 25, 75, 90 and 97.5%.
LEVELS = (50, 80, 95)
#: The name of liveloop's combined forecast among the models' columns.
CHOICE = "liveloop"
#: The fewest points of a series, whatever its season: below this nothing is worth fitting.
MIN_POINTS = 8
#: Full seasons a series needs before it is forecast (seasonal models need to see a season twice).
MIN_SEASONS = 2


@dataclass(frozen=True)
class Frequency:
    """A supported period: its code, its season length and the time between two periods."""

    code: str
    name: str
    season_length: int
    step: pd.Timedelta


FREQUENCIES = {
    "D": Frequency("D", "daily", 7, pd.Timedelta(days=1)),
    "W": Frequency("W", "weekly", 52, pd.Timedelta(days=7)),
}
_ALIASES = {"d": "D", "day": "D", "daily": "D", "w": "W", "week": "W", "weekly": "W"}


def frequency(freq: str) -> Frequency:
    """The frequency named ``freq`` (``D``/``daily`` or ``W``/``weekly``)."""
    code = _ALIASES.get(str(freq).strip().lower()) if isinstance(freq, str) else None
    if code is None:
        raise ValidationFailed(f"unknown frequency {freq!r}; use 'D' (daily) or 'W' (weekly)", field="freq")
    return FREQUENCIES[code]


def min_length(season_length: int) -> int:
    """The fewest points a series needs to be forecast: two full seasons, and never under MIN_POINTS."""
    return max(MIN_SEASONS * season_length, MIN_POINTS)


# --- the candidate models ---------------------------------------------------------------------------


#: Every model a forecast may use, with what it predicts.
MODELS = {
    "SeasonalNaive": "the value one season before",
    "Naive": "the last value",
    "HistoricAverage": "the mean of the whole history",
    "WindowAverage": "the mean of the last season (short seasons) or of the last 4 periods (weekly)",
    "AutoETS": "exponential smoothing (error, trend, season chosen by AICc)",
    "AutoARIMA": "ARIMA, orders chosen by AICc",
    "AutoTheta": "the Theta family (standard, optimised, dynamic), chosen by fit",
    "AutoCES": "complex exponential smoothing",
    "MSTL": "STL seasonal decomposition with ETS on the seasonally adjusted series",
}
#: The models with no prediction intervals of their own (their weight goes to the others' intervals).
NO_INTERVALS = frozenset({"WindowAverage"})


def build_model(name: str, season_length: int) -> Any:
    """The statsforecast model ``name`` (one of MODELS) for a season of ``season_length``."""
    from statsforecast import models as sfm

    m = season_length
    window = m if 1 < m <= 24 else 4
    makers: dict[str, Callable[[], Any]] = {
        "SeasonalNaive": lambda: sfm.SeasonalNaive(m, alias=name),
        "Naive": lambda: sfm.Naive(alias=name),
        "HistoricAverage": lambda: sfm.HistoricAverage(alias=name),
        "WindowAverage": lambda: sfm.WindowAverage(window_size=window, alias=name),
        "AutoETS": lambda: sfm.AutoETS(season_length=m, alias=name),
        "AutoARIMA": lambda: sfm.AutoARIMA(season_length=m, alias=name),
        "AutoTheta": lambda: sfm.AutoTheta(season_length=m, alias=name),
        "AutoCES": lambda: sfm.AutoCES(season_length=m, alias=name),
        "MSTL": lambda: sfm.MSTL(season_length=m, trend_forecaster=sfm.AutoETS(model="ZZN"), alias=name),
    }
    return makers[name]()


def default_models(season_length: int) -> tuple[str, ...]:
    """liveloop's candidates: the seasonal-naive baseline, two levels, and three smoothing families.

    ETS on a long season (weekly data, 52) is slow and, like R's ``ets``, poor beyond a season of 24:
    there the ETS candidate is MSTL (ETS on the seasonally adjusted series). AutoARIMA is left out of
    the default set for its cost (seconds per series at season 52); name it in ``models`` to add it.
    """
    ets = "AutoETS" if season_length <= 24 else "MSTL"
    return ("SeasonalNaive", "HistoricAverage", "WindowAverage", ets, "AutoTheta", "AutoCES")


def _check_models(names: Sequence[str], what: str, season_length: int) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    out = tuple(dict.fromkeys(str(n) for n in names))
    unknown = [n for n in out if n not in MODELS]
    if unknown:
        raise ValidationFailed(f"unknown model {unknown[0]!r}; known: {', '.join(MODELS)}", field=what)
    if "MSTL" in out and season_length < 2:
        raise ValidationFailed("MSTL needs a season of at least 2 periods", field=what)
    return out


# --- input checks -----------------------------------------------------------------------------------


@dataclass
class Series:
    """A checked long frame: ``frame`` has ``unique_id, ds, y`` with ``ds`` as the period number (0, 1…)
    of each series, sorted; ``start`` maps each series to the date of its period 0."""

    frame: pd.DataFrame
    start: dict[str, pd.Timestamp]
    length: dict[str, int]
    freq: Frequency
    extra: pd.DataFrame | None = None

    @property
    def ids(self) -> list[str]:
        return list(self.length)

    def head(self, drop: int) -> Series:
        """Every series without its last ``drop`` periods (a training part of a backtest)."""
        length = {u: n - drop for u, n in self.length.items()}
        keep = self.frame["ds"].to_numpy() < self.frame["unique_id"].map(length).to_numpy()
        return Series(self.frame[keep].reset_index(drop=True), self.start, length, self.freq)


def check_horizon(h: Any) -> int:
    if isinstance(h, bool) or not isinstance(h, int | np.integer):
        raise ValidationFailed(f"the horizon must be a whole number of periods, not {h!r}", field="h")
    if h < 1:
        raise ValidationFailed(f"the horizon must be at least 1 period (got {h})", field="h")
    return int(h)


def check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    out = []
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 100:
            raise ValidationFailed(
                f"an interval level is a percentage in (0, 100), not {level!r}", field="levels"
            )
        out.append(int(level) if float(level).is_integer() else float(level))
    return tuple(sorted(set(out)))


def prepare(frame: pd.DataFrame, freq: Frequency, season_length: int, keep: Sequence[str] = ()) -> Series:
    """Check ``frame`` (columns ``unique_id, ds, y``; more are ignored, save those in ``keep``) and number
    each series's periods. Every error names the offending field."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationFailed("the series must be a DataFrame with unique_id, ds and y", field="frame")
    missing = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
    if missing:
        raise ValidationFailed(f"the series frame lacks the column {missing[0]!r}", field=missing[0])
    if frame.empty:
        raise InsufficientData("there is no series to forecast (the frame is empty)", field="frame")
    df = frame[["unique_id", "ds", "y", *keep]].copy()
    df["unique_id"] = df["unique_id"].astype(str)
    try:
        ds = pd.to_datetime(df["ds"])
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(f"ds must hold dates: {exc}", field="ds") from None
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_localize(None)
    df["ds"] = ds
    y = pd.to_numeric(df["y"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        bad = df[~np.isfinite(y)].iloc[0]
        raise ValidationFailed(
            f"y must be a number in every row; series {bad['unique_id']!r} has none at {bad['ds']:%Y-%m-%d}",
            field="y",
        )
    df["y"] = y
    df = df.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    dup = df.duplicated(["unique_id", "ds"])
    if dup.any():
        row = df[dup].iloc[0]
        raise ValidationFailed(
            f"series {row['unique_id']!r} has two rows for {row['ds']:%Y-%m-%d}", field="ds"
        )
    first = df.groupby("unique_id", sort=False)["ds"].transform("min")
    offset = (df["ds"] - first) / freq.step
    period = np.round(offset.to_numpy(dtype=float)).astype(np.int64)
    if not np.allclose(offset.to_numpy(dtype=float), period):
        row = df[~np.isclose(offset.to_numpy(dtype=float), period)].iloc[0]
        raise ValidationFailed(
            f"series {row['unique_id']!r} is not {freq.name}: {row['ds']:%Y-%m-%d} is not a whole number of "
            f"{freq.step.days}-day periods after its first date",
            field="ds",
        )
    df["ds"] = period
    length = df.groupby("unique_id", sort=False).size()
    last = df.groupby("unique_id", sort=False)["ds"].max()
    gaps = last + 1 != length
    if gaps.any():
        uid = str(gaps[gaps].index[0])
        have = set(df.loc[df["unique_id"] == uid, "ds"])
        hole = next(i for i in range(int(last[uid]) + 1) if i not in have)
        when = first[df["unique_id"] == uid].iloc[0] + hole * freq.step
        raise ValidationFailed(
            f"series {uid!r} has {int(last[uid]) + 1 - int(length[uid])} missing periods (the first is "
            f"{when:%Y-%m-%d}); fill them (with 0 where nothing was sold) before forecasting",
            field="ds",
        )
    need = min_length(season_length)
    short = length[length < need]
    if len(short):
        uid = str(short.index[0])
        raise InsufficientData(
            f"series {uid!r} has {int(short.iloc[0])} {freq.name} points; forecasting needs at least {need} "
            f"({MIN_SEASONS} seasons of {season_length})",
            field="series",
            extra={"series_id": uid, "points": int(short.iloc[0]), "needed": need},
        )
    extra = df[["unique_id", "ds", *keep]].reset_index(drop=True) if keep else None
    return Series(
        frame=df[["unique_id", "ds", "y"]],
        start={str(u): pd.Timestamp(d) for u, d in first.groupby(df["unique_id"], sort=False).min().items()},
        length={str(u): int(n) for u, n in length.items()},
        freq=freq,
        extra=extra,
    )


# --- fitting ---------------------------------------------------------------------------------------


def _run(
    names: Sequence[str],
    season_length: int,
    df: pd.DataFrame,
    h: int,
    *,
    levels: Sequence[float] = (),
    n_windows: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """statsforecast's forecast (``n_windows`` 0) or cross-validation (origins ``h`` apart) of ``names``
    on ``df``; models without intervals run apart when ``levels`` are asked for. A model that fails on a
    series falls back to seasonal naive there."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    groups = [list(names)]
    if levels:
        groups = [[n for n in names if n not in NO_INTERVALS], [n for n in names if n in NO_INTERVALS]]
    out: pd.DataFrame | None = None
    for group in groups:
        if not group:
            continue
        sf = StatsForecast(
            models=[build_model(n, season_length) for n in group],
            freq=1,
            n_jobs=n_jobs,
            fallback_model=SeasonalNaive(season_length),
        )
        lv: list[Any] | None = [*levels] if levels and group[0] not in NO_INTERVALS else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsforecast's notes on models it falls back from
            if n_windows:
                res = sf.cross_validation(h=h, df=df, n_windows=n_windows, step_size=h, level=lv)
            else:
                res = sf.forecast(h=h, df=df, level=lv)
        res = res.reset_index() if "unique_id" not in res.columns else res
        keys = ["unique_id", "ds", "cutoff", "y"] if n_windows else ["unique_id", "ds"]
        out = res if out is None else out.merge(res, on=keys, how="outer")
    assert out is not None
    out["unique_id"] = out["unique_id"].astype(str)
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def seasonal_scale(y: np.ndarray, season_length: int) -> float:
    """The in-sample seasonal-naive mean absolute error of ``y``: MASE's denominator."""
    if len(y) <= season_length:
        return float("nan")
    return float(np.mean(np.abs(y[season_length:] - y[:-season_length])))


def _weights(errors: pd.DataFrame) -> pd.DataFrame:
    """Per series (rows) the models' weights ``1 / MASE²``, normalised (a model that failed: 0)."""
    e = np.nan_to_num(errors.to_numpy(dtype=float), nan=np.inf)
    w = 1.0 / np.maximum(e, 1e-12) ** 2
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=np.full_like(w, 1.0 / w.shape[1]), where=total > 0)
    return pd.DataFrame(w, index=errors.index, columns=errors.columns)


def validate(
    series: Series,
    h: int,
    names: Sequence[str],
    season_length: int,
    n_windows: int,
    *,
    nonnegative: dict[str, bool],
    n_jobs: int = 1,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Each model's mean MASE per series over up to ``n_windows`` rolling origins ``h`` apart at the end
    of the series (each training part keeps at least a season and a point). Rows: series with at least
    one window; the second value gives the windows used per series."""
    windows = {uid: max(0, min(n_windows, (n - season_length - 1) // h)) for uid, n in series.length.items()}
    rows: dict[str, dict[str, float]] = {}
    values = {uid: g.to_numpy() for uid, g in series.frame.groupby("unique_id", sort=False)["y"]}
    for k in sorted({k for k in windows.values() if k > 0}):
        ids = [u for u, kk in windows.items() if kk == k]
        df = series.frame[series.frame["unique_id"].isin(ids)]
        cv = _run(names, season_length, df, h, n_windows=k, n_jobs=n_jobs)
        for (uid, cutoff), g in cv.groupby(["unique_id", "cutoff"], sort=False):
            uid = str(uid)
            scale = seasonal_scale(values[uid][: int(cutoff) + 1], season_length)
            scale = scale if scale > 0 else 1.0
            y = g["y"].to_numpy()
            for name in names:
                f = g[name].to_numpy(dtype=float)
                if nonnegative[uid]:
                    f = np.maximum(f, 0.0)
                rows.setdefault(uid, {}).setdefault(name, 0.0)
                rows[uid][name] += float(np.mean(np.abs(y - f))) / scale / k
    errors = pd.DataFrame.from_dict(rows, orient="index", columns=list(names))
    return errors, windows


@dataclass
class Forecast:
    """Forecasts of every series ``h`` periods ahead.

    ``frame``: ``unique_id, ds, step, mean`` and one column per quantile (``q0.025`` …); ``models``:
    each model's point forecasts (``unique_id, ds, step`` and one column per model, liveloop's
    included); ``weights`` and ``validation`` (mean validation MASE), per series and model.
    """

    freq: str
    h: int
    season_length: int
    levels: tuple[float, ...]
    candidates: tuple[str, ...]
    frame: pd.DataFrame
    models: pd.DataFrame
    weights: dict[str, dict[str, float]]
    validation: dict[str, dict[str, float]]
    windows: dict[str, int]
    seconds: float
    extra_models: tuple[str, ...] = field(default_factory=tuple)

    @property
    def quantile_levels(self) -> list[float]:
        return sorted(float(c[1:]) for c in self.frame.columns if c.startswith("q"))

    def quantile(self, q: float) -> pd.Series:
        """Quantile ``q`` of each forecast (aligned with ``frame``); 0.5 is the point forecast."""
        if q == 0.5:
            return self.frame["mean"]
        col = quantile_column(q)
        if col not in self.frame.columns:
            raise ValidationFailed(
                f"quantile {q} was not computed; ask for the level {round(abs(1 - 2 * q) * 100, 6)}",
                field="levels",
            )
        return self.frame[col]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: per series its weights, validation MASE and forecast rows."""
        qs = self.quantile_levels
        series = []
        for uid, g in self.frame.groupby("unique_id", sort=False):
            uid = str(uid)
            series.append(
                {
                    "id": uid,
                    "weights": {k: round(v, 4) for k, v in self.weights.get(uid, {}).items()},
                    "validation_mase": {
                        k: (round(v, 4) if math.isfinite(v) else None)
                        for k, v in self.validation.get(uid, {}).items()
                    },
                    "validation_windows": self.windows.get(uid, 0),
                    "forecast": [
                        {
                            "ds": f"{r['ds']:%Y-%m-%d}",
                            "step": int(r["step"]),
                            "mean": round(float(r["mean"]), 4),
                            "quantiles": {f"{q:g}": round(float(r[quantile_column(q)]), 4) for q in qs},
                        }
                        for r in g.to_dict("records")
                    ],
                }
            )
        return {
            "freq": self.freq,
            "h": self.h,
            "season_length": self.season_length,
            "levels": list(self.levels),
            "models": list(self.candidates),
            "seconds": round(self.seconds, 3),
            "series": series,
        }


def quantile_column(q: float) -> str:
    """The column of quantile ``q`` (``q0.025``)."""
    return f"q{round(q, 6):g}"


def interval_bounds(level: float) -> tuple[tuple[str, float], tuple[str, float]]:
    """The lower and upper quantiles of a central ``level``% interval, with statsforecast's side names."""
    return ("lo", round((100 - level) / 200, 6)), ("hi", round((100 + level) / 200, 6))


def forecast(
    frame: pd.DataFrame,
    h: int,
    freq: str = "D",
    *,
    levels: Sequence[float] = LEVELS,
    models: Sequence[str] | None = None,
    extra_models: Sequence[str] = (),
    season_length: int | None = None,
    n_windows: int = 3,
    nonnegative: bool | None = None,
    n_jobs: int = 1,
) -> Forecast:
    """Forecast every series of ``frame`` (``unique_id, ds, y``) ``h`` periods ahead with liveloop's
    choice: the ``models`` (default :func:`default_models`) combined per series with weights from a
    rolling-origin validation on the series's own history (``n_windows`` origins, 0: equal weights).

    ``extra_models`` are fitted and reported beside (in ``Forecast.models``) but take no part in the
    choice. ``nonnegative`` clips forecasts at 0 (default: for the series that never go below 0).
    """
    started = time.perf_counter()
    fq = frequency(freq)
    h = check_horizon(h)
    m = fq.season_length if season_length is None else check_count(season_length, "season_length", low=1)
    levels = check_levels(levels)
    names, extra = check_models(models, extra_models, m)
    n_windows = check_count(n_windows, "n_windows", low=0)
    series = prepare(frame, fq, m)
    return fit_forecast(
        series, h, m, names, extra, levels=levels, n_windows=n_windows, nonnegative=nonnegative,
        n_jobs=n_jobs, started=started,
    )  # fmt: skip


def check_models(
    models: Sequence[str] | None, extra_models: Sequence[str], season_length: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The candidates (default :func:`default_models`) and the extra models not among them."""
    names = _check_models(
        default_models(season_length) if models is None else models, "models", season_length
    )
    if not names:
        raise ValidationFailed("name at least one model", field="models")
    extra = _check_models(extra_models, "extra_models", season_length)
    return names, tuple(n for n in extra if n not in names)


def fit_forecast(
    series: Series,
    h: int,
    season_length: int,
    names: Sequence[str],
    extra: Sequence[str] = (),
    *,
    levels: Sequence[float] = LEVELS,
    n_windows: int = 3,
    nonnegative: bool | None = None,
    n_jobs: int = 1,
    started: float | None = None,
) -> Forecast:
    """:func:`forecast` on a checked :class:`Series` (the arguments already checked)."""
    started = time.perf_counter() if started is None else started
    m, fq = season_length, series.freq
    lows = series.frame.groupby("unique_id", sort=False)["y"].min()
    clip = {str(u): (bool(v >= 0) if nonnegative is None else bool(nonnegative)) for u, v in lows.items()}

    if len(names) > 1 and n_windows:
        errors, windows = validate(series, h, names, m, n_windows, nonnegative=clip, n_jobs=n_jobs)
    else:
        errors, windows = pd.DataFrame(columns=list(names), dtype=float), dict.fromkeys(series.ids, 0)
    weights = pd.DataFrame(1.0 / len(names), index=series.ids, columns=list(names))
    if len(errors):
        weights.loc[errors.index] = _weights(errors).to_numpy()

    fc = _run([*names, *extra], m, series.frame, h, levels=levels, n_jobs=n_jobs)
    fc["step"] = fc["ds"] - fc["unique_id"].map(series.length) + 1
    w = weights.loc[fc["unique_id"]].to_numpy()
    points = fc[list(names)].to_numpy(dtype=float)
    mean = (w * points).sum(axis=1)
    out = pd.DataFrame({"unique_id": fc["unique_id"], "step": fc["step"].astype(int), "mean": mean})
    with_iv = [i for i, n in enumerate(names) if n not in NO_INTERVALS]
    if with_iv:
        wi = w[:, with_iv] / w[:, with_iv].sum(axis=1, keepdims=True)
        bounds = [(q, f"-{side}-{lv}") for lv in levels for side, q in interval_bounds(lv)]
        for q, col in sorted(bounds):
            offsets = np.column_stack(
                [fc[names[i] + col].to_numpy(dtype=float) - points[:, i] for i in with_iv]
            )
            out[quantile_column(q)] = mean + (wi * offsets).sum(axis=1)
    model_points = fc[["unique_id", "step", *names, *extra]].copy()
    model_points[CHOICE] = mean
    clip_rows = fc["unique_id"].map(clip).to_numpy(dtype=bool)
    for table in (out, model_points):
        cols = [c for c in table.columns if c not in ("unique_id", "step")]
        table.loc[clip_rows, cols] = table.loc[clip_rows, cols].clip(lower=0.0)
    last = fc["unique_id"].map(lambda u: series.start[u] + (series.length[u] - 1) * fq.step)
    dates = pd.DatetimeIndex(last + fc["step"].to_numpy() * fq.step)
    out.insert(1, "ds", dates)
    model_points.insert(1, "ds", dates)
    return Forecast(
        freq=fq.code,
        h=h,
        season_length=m,
        levels=tuple(levels),
        candidates=tuple(names),
        frame=out,
        models=model_points,
        weights={str(u): {n: float(x) for n, x in row.items()} for u, row in weights.iterrows()},
        validation={str(u): {n: float(x) for n, x in row.items()} for u, row in errors.iterrows()},
        windows=windows,
        seconds=time.perf_counter() - started,
        extra_models=tuple(extra),
    )


def check_count(value: Any, what: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValidationFailed(f"{what} must be a whole number >= {low}, not {value!r}", field=what)
    return int(value)
