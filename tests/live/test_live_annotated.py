"""The annotated live-comment set: keyed to the real source rows, split by room, agreement reported."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import LiveloopError
from liveloop.core.types import COMMENT_INTENTS
from liveloop.live import annotated


def test_labels_are_keyed_to_real_rows_and_split_by_room(data_home: Path) -> None:
    df = annotated.load()
    assert len(df) >= 10_000
    assert set(df["room_id"]) == {11365, 1370218, 6103516, 563689, 23789393, 44857, 7085640}  # all 7 rooms
    test = df[df["split"] == "test"]
    assert set(test["room_id"]) == set(df["room_id"]) - {annotated.TRAIN_ROOM} and (test["fold"] == -1).all()
    train = df[df["split"] == "train"]
    assert (
        set(train["fold"]) == set(range(annotated.DEV_FOLDS))
        and (train["room_id"] == annotated.TRAIN_ROOM).all()
    )
    assert not set(test["text"]) & set(train["text"])  # no test comment is trained on, not even as a copy
    assert df.groupby("room_id")["text"].apply(lambda s: s.is_unique).all()  # distinct comments per room
    assert set(df["sentiment"]) == {"negative", "neutral", "positive"} and set(df["intent"]) <= set(
        COMMENT_INTENTS
    )
    # the guide's consistency rules hold for the gold labels
    assert (df.loc[df["intent"] == "praise", "sentiment"] == "positive").all()
    assert (df.loc[df["intent"] == "complaint", "sentiment"] == "negative").all()
    # the time blocks are contiguous: fold k ends before fold k + 1 starts
    spans = train.groupby("fold")["delta_s"].agg(["min", "max"]).sort_index()
    assert (spans["max"].to_numpy()[:-1] <= spans["min"].to_numpy()[1:]).all()


def test_agreement_is_computed_from_both_annotators(data_home: Path) -> None:
    df = annotated.load()
    agree = annotated.agreement(df)
    assert agree["comments"] == len(df)
    for label in ("sentiment", "intent", "question"):
        assert 0.8 < agree[label]["kappa"] <= 1 and 0.9 < agree[label]["agreement"] <= 1
    disputed = (df["a_sentiment"] != df["b_sentiment"]) | (df["a_intent"] != df["b_intent"])
    assert agree["adjudicated"] >= int(disputed.sum()) > 0


def test_a_data_file_that_does_not_match_the_labels_is_refused(tmp_path: Path, data_home: Path) -> None:
    copy = tmp_path / "data" / annotated.DATASET
    shutil.copytree(data_home / annotated.DATASET, copy)
    with gzip.open(copy / "danmaku.csv.gz", "rt", encoding="utf-8") as fh:
        rows = pd.read_csv(fh)
    rows.loc[12, "text"] = rows.loc[12, "text"] + "!"  # one labelled text edited
    rows.to_csv(copy / "danmaku.csv.gz", index=False, compression="gzip")
    with pytest.raises(LiveloopError, match="does not match the annotated set"):
        annotated.load(Settings(home=tmp_path / "home", data_home=tmp_path / "data"))


def test_the_bootstrap_of_f1_equals_scoring_every_resample() -> None:
    from liveloop.live.evaluation import bootstrap_f1
    from liveloop.live.scoring import SENTIMENTS, question_report, sentiment_report

    rng = np.random.default_rng(7)
    gold = pd.DataFrame(
        {
            "sentiment": rng.choice([*SENTIMENTS, "mixed"], 301),
            "intent": rng.choice(["question", "praise"], 301),
        }
    )
    pred = np.where(rng.random(301) < 0.6, gold["sentiment"], rng.choice([*SENTIMENTS, "unknown"], 301))
    asks = rng.random(301) < 0.5

    def reference(metric, p) -> list[float]:  # what liveloop did before: every resample scored
        draws = np.random.default_rng(0)
        values = [
            metric(gold.iloc[i], np.asarray(p)[i]) for i in (draws.integers(0, 301, 301) for _ in range(60))
        ]
        return [round(float(np.percentile(values, q)), 4) for q in (2.5, 97.5)]

    assert bootstrap_f1(gold["sentiment"], pred, SENTIMENTS, rounds=60) == reference(
        lambda g, p: sentiment_report(g["sentiment"], p)["macro_f1"], pred
    )
    assert bootstrap_f1(
        gold["intent"] == "question", asks, (False, True), positive=True, rounds=60
    ) == reference(lambda g, p: question_report(g["intent"], p)["f1"], asks)
