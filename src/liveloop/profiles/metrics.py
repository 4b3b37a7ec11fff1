"""Held-out metrics shared by the profile build and the Table-1 report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def binary_metrics(y: pd.Series, pred: pd.Series, score: pd.Series | None = None) -> dict[str, float | None]:
    """Accuracy and recall (%), F1 and (with a score and both classes present) AUC."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score  # lazy: slow import

    y_arr, p_arr = y.astype(int).to_numpy(), pred.astype(int).to_numpy()
    auc = None
    if score is not None and len(set(y_arr)) == 2:
        auc = round(float(roc_auc_score(y_arr, np.asarray(score, dtype=float))), 4)
    return {
        "accuracy": round(100 * float(accuracy_score(y_arr, p_arr)), 2),
        "recall": round(100 * float(recall_score(y_arr, p_arr, zero_division=0)), 2),
        "f1": round(float(f1_score(y_arr, p_arr, zero_division=0)), 4),
        "auc": auc,
    }


def next_category_metrics(truth: list[str], top1: list[str], top5: list[list[str]]) -> dict[str, Any]:
    """Next-category prediction: accuracy = top-1 (%), recall = hit@5 (%), F1 = macro F1 of top-1."""
    from sklearn.metrics import accuracy_score, f1_score  # lazy: slow import

    hits5 = np.mean([t in p for t, p in zip(truth, top5, strict=True)]) if truth else 0.0
    return {
        "accuracy": round(100 * float(accuracy_score(truth, top1)), 2) if truth else 0.0,
        "recall": round(100 * float(hits5), 2),
        "f1": round(
            float(f1_score(truth, top1, average="macro", labels=sorted(set(truth)), zero_division=0)), 4
        )
        if truth
        else 0.0,
        "auc": None,
    }
