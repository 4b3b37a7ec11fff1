"""The annotated live-comment set: real Bilibili danmaku labelled by two independent annotators.

3,501 distinct comments of the seven rooms of ``bilibili_live_room_events_20211230``, each labelled for
sentiment, intent and complaint aspects by two annotators under one written guide
(docs/live-annotation.md), disagreements adjudicated. The repository holds only the labels, keyed to
the source rows (room, row of ``danmaku.csv.gz``) with a short hash of each text; the texts are read from
``LIVELOOP_DATA_HOME``. Split by room: room 11365 trains (cut into time blocks for choosing settings),
the six other rooms are the test rooms and are never trained on.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from liveloop.core.config import Settings
from liveloop.core.errors import LiveloopError
from liveloop.core.types import QUESTION_INTENTS
from liveloop.datasets import data_file

DATASET = "bilibili_live_room_events_20211230"
TRAIN_ROOM = 11365
#: Contiguous time blocks of the training room, the folds every setting is chosen on.
DEV_FOLDS = 5
LABELS = ("sentiment", "intent", "aspects")


def _labels_file() -> Any:
    return resources.files("liveloop.live") / "data" / "danmaku_labels.csv"


def text_digest(text: str) -> str:
    """The first 10 hex digits of the SHA-1 of a comment: ties a label to its text without storing it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def load(settings: Settings | None = None) -> pd.DataFrame:
    """Every labelled comment with its text, split and fold.

    Columns: room_id, row, text, delta_s, split (``train`` / ``test``), fold (0..4 for the training room,
    -1 for test rooms), the gold ``sentiment`` / ``intent`` / ``aspects`` (a tuple) and each annotator's
    labels (``a_*``, ``b_*``). Fails loudly when the data file does not hold the labelled texts.
    """
    with _labels_file().open("r", encoding="utf-8") as fh:
        labels = pd.read_csv(fh, dtype={"text_sha1": str}, keep_default_na=False)
    source = pd.read_csv(
        data_file(DATASET, "danmaku.csv.gz", settings), usecols=["room_id", "delta_s", "text"]
    )
    rows = labels["row"].to_numpy()
    if rows.max() >= len(source):
        raise LiveloopError(
            f"{DATASET}/danmaku.csv.gz has {len(source)} rows; the labels need {rows.max() + 1}"
        )
    texts = source["text"].astype(str).to_numpy()[rows]
    digests = np.array([text_digest(t) for t in texts])
    wrong = int((digests != labels["text_sha1"].to_numpy()).sum())
    if wrong or (source["room_id"].to_numpy()[rows] != labels["room_id"].to_numpy()).any():
        raise LiveloopError(
            f"{DATASET}/danmaku.csv.gz does not match the annotated set ({wrong} texts differ): "
            "is LIVELOOP_DATA_HOME the published copy?"
        )
    df = labels.drop(columns=["text_sha1"]).assign(text=texts, delta_s=source["delta_s"].to_numpy()[rows])
    for col in ("aspects", "a_aspects", "b_aspects"):
        df[col] = [tuple(a for a in s.split(";") if a) for s in df[col]]
    train = df["room_id"].eq(TRAIN_ROOM).to_numpy()
    df["split"] = np.where(train, "train", "test")
    order = df.loc[train, "delta_s"].rank(method="first").to_numpy()
    fold = np.full(len(df), -1)
    fold[train] = np.minimum(((order - 1) * DEV_FOLDS // train.sum()).astype(int), DEV_FOLDS - 1)
    df["fold"] = fold
    return df.reset_index(drop=True)


def is_question(intents: Any) -> np.ndarray:
    return np.isin(np.asarray(intents, dtype=object), QUESTION_INTENTS)


def agreement(df: pd.DataFrame) -> dict[str, Any]:
    """Cohen's kappa and raw agreement of the two annotators, per label (before adjudication)."""

    def pair(a: Any, b: Any) -> dict[str, float]:
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        same = a == b
        kappa = cohen_kappa_score(a.astype(str), b.astype(str)) if len(set(a) | set(b)) > 1 else 1.0
        return {"kappa": round(float(kappa), 3), "agreement": round(float(same.mean()), 3)}

    out: dict[str, Any] = {"comments": len(df)}
    out["sentiment"] = pair(df["a_sentiment"], df["b_sentiment"])
    out["intent"] = pair(df["a_intent"], df["b_intent"])
    out["question"] = pair(is_question(df["a_intent"]), is_question(df["b_intent"]))
    out["aspects_any"] = pair(df["a_aspects"].map(bool), df["b_aspects"].map(bool))
    out["aspects_exact"] = pair(df["a_aspects"].map(";".join), df["b_aspects"].map(";".join))
    disputed = (
        (df["a_sentiment"] != df["b_sentiment"])
        | (df["a_intent"] != df["b_intent"])
        | (df["a_aspects"].map(";".join) != df["b_aspects"].map(";".join))
    )
    out["adjudicated"] = int(disputed.sum())
    return out


def summary(df: pd.DataFrame) -> dict[str, Any]:
    """Sizes and gold label counts per split, for the docs and ``liveloop evaluate live``."""
    out: dict[str, Any] = {}
    for split, part in df.groupby("split"):
        out[str(split)] = {
            "comments": len(part),
            "rooms": sorted(int(r) for r in part["room_id"].unique()),
            "sentiment": part["sentiment"].value_counts().to_dict(),
            "intent": part["intent"].value_counts().to_dict(),
            "aspects": part["aspects"].explode().dropna().value_counts().to_dict(),
        }
    return out
