"""High value on real data (CDNOW, 23,570 customers): random forest and LightGBM on a held-out time
window, each against the RFM rule and the past-spend ranking, and the build's choice between them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from liveloop.profiles.evaluation import _windows, eval_high_value
from liveloop.profiles.features import build_features
from liveloop.profiles.realdata import load_into
from liveloop.profiles.value import fit_high_value, high_value_labels, next_window_value
from liveloop.warehouse import Warehouse


@pytest.fixture(scope="module")
def cdnow(data_home: Path, tmp_path_factory: pytest.TempPathFactory):
    wh = Warehouse(tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb")
    load_into(wh, "cdnow")
    yield wh, _windows(wh, "UTC")
    wh.close()


@pytest.mark.slow
def test_rf_and_lightgbm_beat_the_rfm_rule_on_a_later_window(cdnow) -> None:
    wh, w = cdnow
    rows = {r["algorithm"]: r for r in eval_high_value(wh, w)}
    assert set(rows) == {"Random forest", "LightGBM"}
    f_test = build_features(wh, w[2])
    y_test = high_value_labels(next_window_value(wh, w[3]), f_test.index)
    past_spend_auc = roc_auc_score(y_test.astype(int), f_test["monetary"])  # ranking by past spend
    for name, r in rows.items():
        base = r["baseline"]
        assert r["n_test"] == 23570 and r["positives"] == int(y_test.sum())
        assert r["auc"] > past_spend_auc + 0.01, (name, r["auc"], past_spend_auc)
        assert r["recall"] > base["recall"] + 10, (name, r["recall"], base["recall"])
        assert r["f1"] > base["f1"], (name, r["f1"], base["f1"])
        assert r["f1"] > r["majority"]["f1"] == 0.0


@pytest.mark.slow
def test_the_build_keeps_the_better_model_on_held_out_users(cdnow) -> None:
    wh, w = cdnow
    feats = build_features(wh, w[0])
    labels = high_value_labels(next_window_value(wh, w[1]), feats.index)
    model, report = fit_high_value(feats, labels, seed=0)
    aucs = {k: m["auc"] for k, m in report["models"].items()}
    assert set(aucs) == {"rf", "lgbm"} and model.kind == max(aucs, key=lambda k: aucs[k])
    assert min(aucs.values()) > 0.75
    assert report["n_test"] == pytest.approx(len(feats) / 4, abs=1)
    scores = model.predict_proba(feats)
    assert isinstance(scores, pd.Series) and scores.between(0, 1).all() and len(scores) == len(feats)
