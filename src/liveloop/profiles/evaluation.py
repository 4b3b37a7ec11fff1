"""The profiling report ("Table 1"): each algorithm on real data, time-split, beside a baseline.

Every figure comes from a time-based split: models see data before a cutoff, labels come from the
window after it. The reference study's simulated figures are shown beside ours for context only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from liveloop.core.errors import InsufficientData, NotFound
from liveloop.profiles.btyd import BetaGeoFitter, rfm_summary
from liveloop.profiles.build import data_end, data_start
from liveloop.profiles.features import build_features
from liveloop.profiles.interest import InterestModel, holdout_cases, recency_baseline
from liveloop.profiles.metrics import binary_metrics
from liveloop.profiles.realdata import DATASETS, load_into
from liveloop.profiles.segments import SegmentModel
from liveloop.profiles.similar import neighbour_holdout
from liveloop.profiles.value import HighValueModel, high_value_labels, next_window_value, rfm_rule
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse

#: The reference study's Table 1 (simulated data): accuracy %, recall %, F1.
REFERENCE = {
    "random_forest": {"accuracy": 88.5, "recall": 82.3, "f1": 0.853, "scenario": "high-value users"},
    "kmeans": {"accuracy": 76.2, "recall": 91.4, "f1": 0.829, "scenario": "segment marketing"},
    "lstm": {"accuracy": 92.1, "recall": 78.6, "f1": 0.847, "scenario": "real-time interest"},
    "cf": {"accuracy": 81.3, "recall": 85.9, "f1": 0.835, "scenario": "similar users"},
}
#: Published BG/NBD parameters on the CDNOW 2,357-customer calibration (Fader, Hardie & Lee 2005).
PUBLISHED_BGNBD = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258, "log_likelihood": -9582.43}

EVAL_DATASETS = (*DATASETS, "simulator")


_binary = binary_metrics


def _row(
    algorithm: str,
    ref: str,
    data_used: str,
    scenario: str,
    metrics: dict[str, Any],
    baseline_name: str,
    baseline: dict[str, Any],
    n_test: int,
    split: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "algorithm": algorithm,
        "data_used": data_used,
        "scenario": scenario,
        **metrics,
        "baseline": {"name": baseline_name, **baseline},
        "reference": REFERENCE.get(ref),
        "n_test": n_test,
        "split": split,
        **extra,
    }


def _windows(wh: Warehouse, tz: str) -> tuple[Window, Window, Window, Window]:
    """(train features, train labels, test features, test labels): the last two quarters of the span."""
    start, end = data_start(wh), data_end(wh)
    if start is None or end is None:
        raise InsufficientData("no events or orders to evaluate on")
    h = (end - start) / 4
    c1, c2 = end - 2 * h, end - h
    return (
        Window(cutoff=c1, timezone=tz),
        Window(cutoff=c2, start=c1, timezone=tz),
        Window(cutoff=c2, timezone=tz),
        Window(cutoff=end, start=c2, timezone=tz),
    )


def _split_label(w: tuple[Window, ...]) -> str:
    fmt = "%Y-%m-%d %H:%M"
    return (
        f"train features < {w[0].cutoff:{fmt}}, labels to {w[1].cutoff:{fmt}}; "
        f"test labels to {w[3].cutoff:{fmt}} UTC"
    )


def eval_high_value(
    wh: Warehouse, w: tuple[Window, ...], share: float = 0.2, seed: int = 0
) -> list[dict[str, Any]]:
    f_train, f_test = build_features(wh, w[0]), build_features(wh, w[2])
    y_train = high_value_labels(next_window_value(wh, w[1]), f_train.index, share)
    y_test = high_value_labels(next_window_value(wh, w[3]), f_test.index, share)
    base = _binary(y_test, rfm_rule(f_test, share), None)
    rows = []
    for kind, name in (("rf", "Random forest"), ("lgbm", "LightGBM")):
        model = HighValueModel(kind, seed=seed).fit(f_train, y_train)
        proba = model.predict_proba(f_test)
        rows.append(
            _row(
                name,
                "random_forest",
                "basic + consumption + behaviour features",
                f"high-value users (next-window spend top {share:.0%})",
                _binary(y_test, proba >= 0.5, proba),
                "RFM rule (top by past spend)",
                base,
                len(y_test),
                _split_label(w),
                majority=_binary(y_test, pd.Series(False, index=y_test.index)),
                positives=int(y_test.sum()),
            )
        )
    return rows


def eval_segments(
    wh: Warehouse, w: tuple[Window, ...], seed: int = 0, truth: pd.Series | None = None
) -> dict[str, Any]:
    """Segment marketing: target segments whose train-window buy rate beats the average; score next buys."""
    f_train, f_test = build_features(wh, w[0]), build_features(wh, w[2])
    bought_train = next_window_value(wh, w[1]).reindex(f_train.index).fillna(0) > 0
    y_test = next_window_value(wh, w[3]).reindex(f_test.index).fillna(0) > 0
    model = SegmentModel(seed=seed).fit(f_train)
    seg_train = model.predict(f_train)
    rate = bought_train.groupby(seg_train).mean()
    seg_test = model.predict(f_test)
    score = seg_test.map(rate).astype(float)
    target = score > bought_train.mean()
    horizon_days = (w[3].cutoff - w[2].cutoff).total_seconds() / 86400
    recent = f_test["recency_days"].fillna(np.inf) <= horizon_days
    extra: dict[str, Any] = {"k": model.k, "silhouette": round(model.silhouettes_[model.k], 4)}
    if truth is not None:
        common = truth.index.intersection(f_test.index)
        extra["adjusted_rand_index"] = round(float(adjusted_rand_score(truth[common], seg_test[common])), 4)
    return _row(
        "K-means",
        "kmeans",
        "behaviour + social features",
        "segment marketing (target segments with above-average response)",
        _binary(y_test, target, score),
        "RFM rule (bought in the last window)",
        _binary(y_test, recent, None),
        len(y_test),
        _split_label(w),
        majority=_binary(y_test, pd.Series(False, index=y_test.index)),
        **extra,
    )


def eval_interest(
    wh: Warehouse, w: tuple[Window, ...], seed: int = 0, max_test: int = 5000
) -> list[dict[str, Any]]:
    """Next category of the next event, for every test-window event, from the 20 events before it."""
    ev = wh.table("events")
    ev = (
        ev.filter(ev.category.notnull() & (ev.ts < w[3].cutoff))
        .select("user_id", "ts", "category")
        .to_pyarrow()
        .to_pandas()
    )
    if ev.empty:
        raise InsufficientData("no events with categories")
    train, contexts, truth = holdout_cases(ev, pd.Timestamp(w[2].cutoff), max_test=max_test, seed=seed)
    if not truth:
        raise InsufficientData("no test-window events with a history")
    base = recency_baseline(contexts, truth)
    rows = []
    for arch, name in (("lstm", "LSTM"), ("attention", "Self-attention")):
        model = InterestModel(arch=arch, seed=seed).fit(train)
        rows.append(
            _row(
                name,
                "lstm",
                "event sequences (last 20 categories)",
                "real-time interest (next category)",
                model.evaluate(contexts, truth),
                "repeat last category / last 5 distinct",
                base,
                len(truth),
                _split_label(w),
                metric_note="accuracy = top-1, recall = hit@5, F1 = macro F1 of top-1",
            )
        )
    return rows


def _interactions(wh: Warehouse, win: Window, item: str) -> pd.DataFrame:
    if item == "category":
        ev = win.clip(wh.table("events"))
        ev = ev.filter(ev.category.notnull())
        return ev.group_by(["user_id", ev.category.name("item")]).aggregate(weight=ev.count()).to_pandas()
    orders = win.clip(wh.table("orders"))
    lines = wh.table("order_items").join(orders.select("order_id", "user_id"), "order_id")
    return (
        lines.group_by(["user_id", lines.product_id.name("item")]).aggregate(weight=lines.count()).to_pandas()
    )


def eval_similar(
    wh: Warehouse, w: tuple[Window, ...], item: str, seed: int = 0, k: int = 10
) -> dict[str, Any]:
    """User-based CF from ALS neighbours: top-k items for the test window, vs the popularity top-k."""
    out = neighbour_holdout(_interactions(wh, w[2], item), _interactions(wh, w[3], item), k=k, seed=seed)
    base = out.pop("baseline")
    n_test, note = out.pop("n_test"), out.pop("metric_note")
    return _row(
        "CF (ALS neighbours)",
        "cf",
        f"user x {item} interactions",
        f"similar users (next-window {item} interactions, top {k})",
        out,
        base.pop("name"),
        base,
        n_test,
        _split_label(w),
        metric_note=note,
    )


def eval_churn(wh: Warehouse, calibration_end: datetime, holdout_end: datetime) -> dict[str, Any]:
    """BG/NBD churn (no purchase in the holdout) vs an RFM recency rule, calibration/holdout split."""
    tx = wh.df(
        "SELECT user_id, ts, CAST(amount AS DOUBLE) AS amount FROM orders "
        "WHERE status NOT IN ('cancelled', 'refunded')"
    )
    tx["ts"] = pd.to_datetime(tx["ts"], utc=True)
    cal = pd.Timestamp(calibration_end)
    summ = rfm_summary(tx, cal)
    holdout = tx[(tx["ts"] >= cal) & (tx["ts"] < pd.Timestamp(holdout_end))]
    churned = ~summ.index.isin(holdout["user_id"].unique())
    y = pd.Series(churned, index=summ.index)
    bg = BetaGeoFitter().fit(summ["frequency"], summ["recency"], summ["T"])
    if bg.params_["a"] < 1e-4 or bg.params_["b"] > 1e6:  # dropout unidentified: regularise as lifetimes does
        bg = BetaGeoFitter(penalizer=1e-3).fit(summ["frequency"], summ["recency"], summ["T"])
    weeks = (pd.Timestamp(holdout_end) - cal).days / 7
    expected = pd.Series(
        bg.expected_purchases(weeks, summ["frequency"], summ["recency"], summ["T"]), index=summ.index
    )
    expected = expected.replace([np.inf, -np.inf], np.nan).fillna(0.0).clip(lower=0.0)
    p_none = pd.Series(np.exp(-expected.to_numpy()), index=summ.index)  # Poisson: P(no holdout purchase)
    pred = p_none >= 0.5
    inactive = (summ["T"] - summ["recency"]) > weeks / 3
    return _row(
        "BG/NBD",
        "",
        "purchase history (frequency, recency, T)",
        "churn (no purchase in the holdout)",
        _binary(y, pred, p_none),
        f"RFM rule (no purchase in the last {weeks / 3:.0f} weeks)",
        _binary(y, inactive, summ["T"] - summ["recency"]),
        len(y),
        f"calibration < {cal:%Y-%m-%d}, holdout to {pd.Timestamp(holdout_end):%Y-%m-%d}",
        majority=_binary(y, pd.Series(bool(y.mean() >= 0.5), index=y.index)),
        params={k: round(v, 4) for k, v in bg.params_.items()},
    )


def bgnbd_reference(summary_csv: Path) -> dict[str, Any]:
    """Fit BG/NBD on the published CDNOW summary and compare with the published parameters."""
    s = pd.read_csv(summary_csv)
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    fitted = {**bg.params_, "log_likelihood": bg.log_likelihood_}
    return {
        "fitted": {k: round(v, 4) for k, v in fitted.items()},
        "published": PUBLISHED_BGNBD,
        "max_relative_error": round(max(abs(fitted[k] / v - 1) for k, v in PUBLISHED_BGNBD.items()), 6),
    }


def _simulator(wh: Warehouse, seed: int) -> pd.Series | None:
    """Fill ``wh`` from the market simulator; the true latent segment per user when it publishes one."""
    from liveloop.datasets.simulator import simulate_into_warehouse

    try:
        summary = simulate_into_warehouse(wh, scale="small", seed=seed)
    except NotImplementedError as exc:
        raise InsufficientData("the market simulator is not available in this build") from exc
    truth_dir = Path(summary.get("truth_dir") or "")
    for name in ("users_truth.parquet",):
        if (truth_dir / name).is_file():
            t = pd.read_parquet(truth_dir / name)
            col = next((c for c in ("segment", "latent_type", "type") if c in t.columns), None)
            if col:
                return pd.Series(t[col].to_numpy(), index=t["user_id"].astype(str))
    return None


def evaluate_profiling(
    dataset: str, *, seed: int = 0, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The Table-1 report for ``dataset`` (a real data set name or ``simulator``)."""
    from liveloop.core.config import get_settings
    from liveloop.datasets import data_file

    if dataset not in EVAL_DATASETS:
        raise NotFound(
            f"unknown data set {dataset!r}; choose one of {', '.join(EVAL_DATASETS)}", field="dataset"
        )
    say = progress or (lambda _msg: None)
    tz = get_settings().timezone
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="liveloop-eval-") as tmp:
        wh = Warehouse(Path(tmp) / "eval.duckdb")
        try:
            say(f"loading {dataset}")
            truth = _simulator(wh, seed) if dataset == "simulator" else None
            if dataset != "simulator":
                load_into(wh, dataset)
            w = _windows(wh, tz)

            def attempt(name: str, fn: Callable[[], Any]) -> None:
                say(name)
                try:
                    out = fn()
                    rows.extend(out if isinstance(out, list) else [out])
                except InsufficientData as exc:
                    skipped[name] = exc.detail

            attempt("high value", lambda: eval_high_value(wh, w, seed=seed))
            attempt("segments", lambda: eval_segments(wh, w, seed=seed, truth=truth))
            if dataset in ("taobao_userbehavior_head", "simulator"):
                attempt("interest", lambda: eval_interest(wh, w, seed=seed))
            if dataset != "cdnow":
                attempt(
                    "similar users",
                    lambda: eval_similar(
                        wh, w, "category" if dataset != "online_retail_sample40k" else "product", seed=seed
                    ),
                )
            if dataset == "cdnow":
                attempt(
                    "churn",
                    lambda: eval_churn(
                        wh, datetime(1997, 10, 1, tzinfo=UTC), datetime(1998, 7, 1, tzinfo=UTC)
                    ),
                )
                extra["bgnbd_reference"] = bgnbd_reference(data_file("cdnow", "cdnow_customers_summary.csv"))
            elif dataset == "online_retail_sample40k":
                end = data_end(wh)
                assert end is not None
                attempt("churn", lambda: eval_churn(wh, end - timedelta(days=120), end))
        finally:
            wh.close()
    return {
        "dataset": dataset,
        "synthetic": dataset == "simulator",
        "rows": rows,
        "skipped": skipped,
        **extra,
    }
