"""Rolling-origin backtests: liveloop's forecast beside each single model, scored by MASE and WMAE.

At each origin every series is cut (its last periods held out), every model — and liveloop's choice,
which runs its own validation on the training part only — is refitted on what is left, and the next
``h`` periods are forecast. The origins are ``step`` periods apart and end at each series's end.

- MASE: the mean absolute error over the ``h`` periods, divided by the in-sample seasonal-naive mean
  absolute error of the training part (season ``season_length``). Overall: the mean over series and
  origins (series whose training part is constant have no MASE and are left out of it).
- WMAE: the weighted mean absolute error ``Σ w·|y - ŷ| / Σ w``, with the frame's ``weight`` column
  (1 where absent; Kaggle's Walmart competition weighs holiday weeks 5).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liveloop.analytics.forecast import (
    CHOICE,
    check_count,
    check_horizon,
    check_levels,
    check_models,
    fit_forecast,
    frequency,
    interval_bounds,
    min_length,
    prepare,
    quantile_column,
    seasonal_scale,
)
from liveloop.core.errors import InsufficientData, ValidationFailed

BASELINE = "SeasonalNaive"


def mase(y: np.ndarray, f: np.ndarray, history: np.ndarray, season_length: int) -> float:
    """Mean absolute scaled error of forecasts ``f`` of ``y`` after ``history`` (nan: constant history)."""
    scale = seasonal_scale(np.asarray(history, dtype=float), season_length)
    mae = float(np.mean(np.abs(np.asarray(y, dtype=float) - np.asarray(f, dtype=float))))
    return mae / scale if scale > 0 else float("nan")


def wmae(y: np.ndarray, f: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Weighted mean absolute error ``Σ w·|y - f| / Σ w`` (plain MAE without weights)."""
    err = np.abs(np.asarray(y, dtype=float) - np.asarray(f, dtype=float))
    w = np.ones_like(err) if weight is None else np.asarray(weight, dtype=float)
    return float((w * err).sum() / w.sum())


@dataclass
class Backtest:
    """Scores of a rolling-origin backtest.

    ``scores``: one row per series, origin (1 = earliest) and model, with ``cutoff`` (the last training
    date), ``mae``, ``mase`` and WMAE's parts ``wabs`` (Σ w·|e|) and ``wsum`` (Σ w). ``forecasts``:
    every forecast beside the actual value (``unique_id, origin, step, ds, y, weight`` and a column
    per model). ``weights`` and ``validation``: liveloop's weight of each candidate and its validation
    MASE, per series and origin. ``coverage``: the share of actual values inside liveloop's intervals,
    per series, origin and level (when levels were asked for).
    """

    freq: str
    h: int
    season_length: int
    origins: int
    step: int
    models: tuple[str, ...]
    candidates: tuple[str, ...]
    scores: pd.DataFrame
    forecasts: pd.DataFrame
    weights: pd.DataFrame
    validation: pd.DataFrame
    coverage: pd.DataFrame
    seconds: list[float]

    def summary(self) -> pd.DataFrame:
        """Per model (rows, in the order fitted, liveloop last): MASE, WMAE, MAE and both ratios to
        seasonal naive."""
        g = self.scores.groupby("model", sort=False)
        out = pd.DataFrame(
            {"mase": g["mase"].mean(), "wmae": g["wabs"].sum() / g["wsum"].sum(), "mae": g["mae"].mean()}
        )
        out = out.loc[list(self.models)]
        out["mase_vs_naive"] = out["mase"] / out.loc[BASELINE, "mase"]
        out["wmae_vs_naive"] = out["wmae"] / out.loc[BASELINE, "wmae"]
        return out

    def per_series(self, metric: str = "mase") -> pd.DataFrame:
        """One row per series, one column per model: mean MASE over the origins, or WMAE (``wmae``)."""
        if metric not in ("mase", "wmae", "mae"):
            raise ValidationFailed(f"unknown metric {metric!r}; use mase, wmae or mae", field="metric")
        g = self.scores.groupby(["unique_id", "model"], sort=False)
        values = g["wabs"].sum() / g["wsum"].sum() if metric == "wmae" else g[metric].mean()
        return values.unstack("model")[list(self.models)]

    def coverage_summary(self) -> dict[float, float]:
        """The share of actual values inside liveloop's interval, per level."""
        if self.coverage.empty:
            return {}
        c = self.coverage.assign(hits=self.coverage["covered"] * self.coverage["n"])
        g = c.groupby("level")
        return {float(k): float(v) for k, v in (g["hits"].sum() / g["n"].sum()).items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: overall and per-series scores, liveloop's mean weights, coverage, timings."""

        def num(x: float) -> float | None:
            return round(float(x), 6) if math.isfinite(float(x)) else None

        summary = self.summary()
        mase_s, wmae_s = self.per_series("mase"), self.per_series("wmae")
        return {
            "freq": self.freq,
            "h": self.h,
            "season_length": self.season_length,
            "origins": self.origins,
            "step": self.step,
            "models": list(self.models),
            "overall": {m: {k: num(v) for k, v in row.items()} for m, row in summary.iterrows()},
            "per_series": {
                str(u): {
                    m: {"mase": num(mase_s.loc[u, m]), "wmae": num(wmae_s.loc[u, m])} for m in self.models
                }
                for u in mase_s.index
            },
            "mean_weights": {
                k: num(v) for k, v in self.weights.groupby("model", sort=False)["weight"].mean().items()
            },
            "coverage": {f"{k:g}": num(v) for k, v in self.coverage_summary().items()},
            "seconds": [round(s, 3) for s in self.seconds],
        }


def backtest(
    frame: pd.DataFrame,
    h: int,
    freq: str = "D",
    *,
    origins: int = 4,
    step: int | None = None,
    models: Sequence[str] | None = None,
    extra_models: Sequence[str] = (),
    season_length: int | None = None,
    n_windows: int = 3,
    levels: Sequence[float] = (),
    nonnegative: bool | None = None,
    n_jobs: int = 1,
) -> Backtest:
    """Backtest liveloop's forecast of ``frame`` (``unique_id, ds, y``, optionally ``weight``) at
    ``origins`` rolling origins ``step`` periods apart (default ``h``), beside each candidate model,
    the ``extra_models`` and seasonal naive. ``levels``: also score liveloop's intervals' coverage."""
    fq = frequency(freq)
    h = check_horizon(h)
    m = fq.season_length if season_length is None else check_count(season_length, "season_length", low=1)
    origins = check_count(origins, "origins", low=1)
    step = h if step is None else check_count(step, "step", low=1)
    levels = check_levels(levels)
    n_windows = check_count(n_windows, "n_windows", low=0)
    names, extra = check_models(models, extra_models, m)
    if BASELINE not in names:
        extra = (BASELINE, *(e for e in extra if e != BASELINE))
    keep = ("weight",) if isinstance(frame, pd.DataFrame) and "weight" in frame.columns else ()
    series = prepare(frame, fq, m, keep=keep)
    if keep:
        assert series.extra is not None
        w = pd.to_numeric(series.extra["weight"], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(w).all() and (w >= 0).all()):
            raise ValidationFailed("every weight must be a number >= 0", field="weight")
        weight = w
    else:
        weight = np.ones(len(series.frame))
    held_out = (origins - 1) * step + h
    shortest = min(series.length, key=lambda u: series.length[u])
    left = series.length[shortest] - held_out
    if left < min_length(m):
        raise InsufficientData(
            f"{origins} origins {step} periods apart with a horizon of {h} leave series {shortest!r} "
            f"{max(left, 0)} training points; at least {min_length(m)} are needed",
            field="origins",
        )

    data = series.frame.assign(weight=weight)
    data["n"] = data["unique_id"].map(series.length)
    reported = (*names, *extra, CHOICE)
    scores, forecasts, weights, validation, coverage, seconds = [], [], [], [], [], []
    for origin in range(1, origins + 1):
        drop = (origins - origin) * step + h
        train = series.head(drop)
        started = time.perf_counter()
        fc = fit_forecast(
            train,
            h,
            m,
            names,
            extra,
            levels=levels,
            n_windows=n_windows,
            nonnegative=nonnegative,
            n_jobs=n_jobs,
        )
        seconds.append(time.perf_counter() - started)
        test = data[(data["ds"] >= data["n"] - drop) & (data["ds"] < data["n"] - drop + h)].copy()
        test["step"] = test["ds"] - (test["n"] - drop) + 1
        joined = test[["unique_id", "step", "y", "weight"]].merge(
            fc.models, on=["unique_id", "step"], how="left"
        )
        forecasts.append(joined.assign(origin=origin))
        scale = train.frame.groupby("unique_id", sort=False)["y"].agg(
            lambda y: seasonal_scale(y.to_numpy(), m)
        )
        cutoff = {u: train.start[u] + (train.length[u] - 1) * fq.step for u in train.ids}
        for model in reported:
            err = (joined["y"] - joined[model]).abs()
            part = pd.DataFrame({"err": err, "werr": err * joined["weight"], "w": joined["weight"]})
            g = part.groupby(joined["unique_id"], sort=False)
            s = pd.DataFrame({"mae": g["err"].mean(), "wabs": g["werr"].sum(), "wsum": g["w"].sum()})
            sc = scale.reindex(s.index)
            s["mase"] = s["mae"] / sc.where(sc > 0)
            s = s.reset_index()
            s.insert(1, "origin", origin)
            s.insert(2, "cutoff", s["unique_id"].map(cutoff))
            s.insert(3, "model", model)
            scores.append(s)
        for uid, ws in fc.weights.items():
            weights += [{"unique_id": uid, "origin": origin, "model": k, "weight": v} for k, v in ws.items()]
        for uid, vs in fc.validation.items():
            validation += [{"unique_id": uid, "origin": origin, "model": k, "mase": v} for k, v in vs.items()]
        if levels:
            ivs = test.merge(fc.frame, on=["unique_id", "step"], how="left")
            for lv in levels:
                (_, lo), (_, hi) = interval_bounds(lv)
                inside = (ivs["y"] >= ivs[quantile_column(lo)]) & (ivs["y"] <= ivs[quantile_column(hi)])
                g = inside.groupby(ivs["unique_id"], sort=False)
                coverage += [
                    {"unique_id": u, "origin": origin, "level": lv, "covered": float(c), "n": int(n)}
                    for (u, c), n in zip(g.mean().items(), g.size(), strict=True)
                ]
    return Backtest(
        freq=fq.code,
        h=h,
        season_length=m,
        origins=origins,
        step=step,
        models=reported,
        candidates=names,
        scores=pd.concat(scores, ignore_index=True),
        forecasts=pd.concat(forecasts, ignore_index=True)[
            ["unique_id", "origin", "step", "ds", "y", "weight", *reported]
        ],
        weights=pd.DataFrame(weights, columns=["unique_id", "origin", "model", "weight"]),
        validation=pd.DataFrame(validation, columns=["unique_id", "origin", "model", "mase"]),
        coverage=pd.DataFrame(coverage, columns=["unique_id", "origin", "level", "covered", "n"]),
        seconds=seconds,
    )
