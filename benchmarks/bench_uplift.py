"""Uplift targeting on the Hillstrom e-mail test: women's e-mail vs no e-mail, outcome ``visit``.

Each split seed cuts the 42,693 rows 50/50, stratified by treatment x visit. Every choice (learner,
LightGBM settings) is made by repeated stratified cross-validation on the TRAINING half only (mean
uplift@30% over the folds); the held-out half is scored once. Compared on the same held-out half:
the chosen uplift model, the best T-learner, a response model (a classifier of visit trained on the
treated rows, ranking by P(visit); its settings chosen by cross-validated AUC on the training half),
random targeting (mean of ``BENCH_UPLIFT_RANDOM`` seeds) and the average treatment effect.

Environment: ``BENCH_UPLIFT_SPLITS`` (split seeds, default ``0,1,2,3,4``; the first is the headline),
``BENCH_UPLIFT_RANDOM`` (random-targeting seeds, 20).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from benchmarks.machine import machine
from liveloop.campaigns.uplift import UpliftModel, qini_auc_score, uplift_at_k
from liveloop.datasets.loader import load

SPLITS = [int(s) for s in os.environ.get("BENCH_UPLIFT_SPLITS", "0,1,2,3,4").split(",")]
RANDOM_SEEDS = int(os.environ.get("BENCH_UPLIFT_RANDOM", "20"))
K = 0.3
GOAL = 0.070
SKLIFT_BEST = 0.066  # scikit-uplift's pipeline example on the same task (ClassTransformation + XGBoost)
#: LightGBM settings tried for every learner (n_estimators, learning_rate, num_leaves, min_child_samples).
GRID = [
    {"n_estimators": n, "learning_rate": lr, "num_leaves": leaves, "min_child_samples": mcs}
    for n, lr, leaves, mcs in [
        (100, 0.05, 2, 200),
        (200, 0.05, 2, 400),
        (100, 0.05, 3, 200),
        (150, 0.03, 3, 800),
        (200, 0.03, 4, 400),
        (100, 0.03, 5, 1000),
        (100, 0.05, 7, 100),
    ]
]
CV_REPEATS, CV_FOLDS = 2, 5


def hillstrom() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, treatment (women's e-mail = 1, no e-mail = 0) and visit, through liveloop's loader."""
    d = load("hillstrom_email")["hillstrom.csv"]
    d = d[d["segment"] != "Mens E-Mail"].reset_index(drop=True)
    X = d[["recency", "history", "mens", "womens", "newbie"]].astype(float)
    X = X.join(pd.get_dummies(d[["zip_code", "channel"]], dtype=float))
    return X, (d["segment"] == "Womens E-Mail").to_numpy(int), d["visit"].to_numpy(int)


def _folds(t: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    strata = 2 * t + y
    return [
        fold
        for r in range(CV_REPEATS)
        for fold in StratifiedKFold(CV_FOLDS, shuffle=True, random_state=r).split(strata, strata)
    ]


def _cv_uplift(X: pd.DataFrame, t: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> dict[str, float]:
    u, q = [], []
    for a, b in _folds(t, y):
        score = UpliftModel(**params).fit(X.iloc[a], t[a], y[a]).predict(X.iloc[b])
        u.append(uplift_at_k(y[b], t[b], score, K))
        q.append(qini_auc_score(y[b], t[b], score))
    return {"uplift_at_30": float(np.mean(u)), "qini": float(np.mean(q))}


def _response_model(params: dict[str, Any]) -> LGBMClassifier:
    return LGBMClassifier(**params, random_state=0, n_jobs=1, deterministic=True, verbose=-1)


def _cv_response(X: pd.DataFrame, t: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> float:
    Xt, yt = X[t == 1], y[t == 1]
    aucs = [
        roc_auc_score(yt[b], _response_model(params).fit(Xt.iloc[a], yt[a]).predict_proba(Xt.iloc[b])[:, 1])
        for a, b in _folds(np.ones_like(yt), yt)
    ]
    return float(np.mean(aucs))


def _held_out(y: np.ndarray, t: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {"uplift_at_30": uplift_at_k(y, t, score, K), "qini": qini_auc_score(y, t, score)}


def evaluate(X: pd.DataFrame, t: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    """Choose on the training half of split ``seed`` by cross-validation, then score the held-out half."""
    started = time.perf_counter()
    tr, te = train_test_split(np.arange(len(y)), test_size=0.5, stratify=2 * t + y, random_state=seed)
    Xtr, ttr, ytr = X.iloc[tr], t[tr], y[tr]
    Xte, tte, yte = X.iloc[te], t[te], y[te]

    cv = [
        {"learner": learner, **params, **_cv_uplift(Xtr, ttr, ytr, {"learner": learner, **params})}
        for learner in ("x", "t")
        for params in GRID
    ]
    best = max(cv, key=lambda row: row["uplift_at_30"])
    best_t = max((row for row in cv if row["learner"] == "t"), key=lambda row: row["uplift_at_30"])
    response_params = max(GRID, key=lambda p: _cv_response(Xtr, ttr, ytr, p))

    def settings(row: dict[str, Any]) -> dict[str, Any]:
        return {key: row[key] for key in ("learner", *GRID[0])}

    chosen = UpliftModel(**settings(best)).fit(Xtr, ttr, ytr)
    t_learner = UpliftModel(**settings(best_t)).fit(Xtr, ttr, ytr)
    response = _response_model(response_params).fit(Xtr[ttr == 1], ytr[ttr == 1])
    rng = np.random.default_rng(seed)
    randoms = [_held_out(yte, tte, rng.random(len(yte))) for _ in range(RANDOM_SEEDS)]
    ate = float(yte[tte == 1].mean() - yte[tte == 0].mean())
    return {
        "split_seed": seed,
        "chosen": settings(best),
        "chosen_cv": {k: round(best[k], 4) for k in ("uplift_at_30", "qini")},
        "t_learner_settings": settings(best_t),
        "response_settings": response_params,
        "held_out": {
            "uplift model (chosen)": _held_out(yte, tte, chosen.predict(Xte)),
            "T-learner": _held_out(yte, tte, t_learner.predict(Xte)),
            "response model": _held_out(yte, tte, response.predict_proba(Xte)[:, 1]),
            "random targeting": {
                key: float(np.mean([r[key] for r in randoms])) for key in ("uplift_at_30", "qini")
            },
            "average treatment effect": {"uplift_at_30": ate, "qini": 0.0},
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def run() -> dict[str, Any]:
    X, t, y = hillstrom()
    print(f"machine: {machine()}")
    print(f"rows {len(y)} (treated {int(t.sum())}), features {list(X.columns)}")
    splits = []
    for seed in SPLITS:
        result = evaluate(X, t, y, seed)
        splits.append(result)
        line = ", ".join(f"{name} {v['uplift_at_30']:.4f}" for name, v in result["held_out"].items())
        print(
            f"split {seed}: chose {result['chosen']} (CV {result['chosen_cv']}) -> uplift@30% {line}"
            f" [{result['seconds']} s]",
            flush=True,
        )

    head = splits[0]
    methods = list(head["held_out"])
    summary = {
        name: {
            metric: {
                "mean": float(np.mean([s["held_out"][name][metric] for s in splits])),
                "min": float(np.min([s["held_out"][name][metric] for s in splits])),
            }
            for metric in ("uplift_at_30", "qini")
        }
        for name in methods
    }
    print(f"\nheld-out half of split {head['split_seed']} | over splits {SPLITS} (mean / min)")
    print(
        f"{'method':<26} {'uplift@30%':>10} {'Qini':>8} | {'uplift@30% mean/min':>20} {'Qini mean/min':>16}"
    )
    for name in methods:
        h, s = head["held_out"][name], summary[name]
        print(
            f"{name:<26} {h['uplift_at_30']:>10.4f} {h['qini']:>8.4f} | "
            f"{s['uplift_at_30']['mean']:>9.4f} / {s['uplift_at_30']['min']:<8.4f} "
            f"{s['qini']['mean']:>7.4f} / {s['qini']['min']:<7.4f}"
        )
    headline = head["held_out"]["uplift model (chosen)"]["uplift_at_30"]
    mean = summary["uplift model (chosen)"]["uplift_at_30"]["mean"]
    verdict = "met" if min(headline, mean) >= GOAL else "NOT met"
    print(
        f"goal uplift@30% >= {GOAL} (scikit-uplift's example {SKLIFT_BEST}): split {head['split_seed']} "
        f"{headline:.4f}, mean over splits {mean:.4f} -> {verdict}"
    )
    return {
        "machine": machine(),
        "k": K,
        "goal": GOAL,
        "sklift_example": SKLIFT_BEST,
        "grid": GRID,
        "splits": splits,
        "summary": summary,
    }
