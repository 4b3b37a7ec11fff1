"""The annotated marketing-sentence set the compliance gate is measured on.

480 real sentences, drawn at random with a fixed seed: 300 distinct product titles of
``taobao_double11_cosmetics`` and 180 short reviews (90 of the zhijiang cosmetics reviews, 90 of the
fruit and dairy reviews of ``online_shopping_10_cats``) read as if quoted in copy. Two independent
annotators labelled every sentence under one written guide (docs/content-annotation.md). The repository
holds only the labels, keyed to the source rows with a short hash of each text; the texts are read from
``LIVELOOP_DATA_HOME``. The first 160 sentences (``split == "dev"``) are the only ones looked at while
writing the rules; the 320 others are the test set.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.errors import LiveloopError
from liveloop.datasets import data_file

SEED = 20261206
N_TITLES, N_COSMETIC_REVIEWS, N_FOOD_REVIEWS = 300, 90, 90
DEV_SIZE = 160
#: What an annotator can say about a sentence used in published copy.
VERDICTS = ("pass", "flag", "block")
#: The kinds of problem the guide names (a sentence may have several).
RULES = ("absolute", "medical", "efficacy", "reference_price", "scarcity", "inducement")


def text_digest(text: str) -> str:
    """The first 10 hex digits of the SHA-1 of a sentence: ties a label to its text without storing it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def _labels_file() -> Any:
    return resources.files("liveloop.content") / "data" / "compliance_labels.csv"


def _short_reviews(
    df: pd.DataFrame, column: str, n: int, source: str, rng: np.random.Generator
) -> pd.DataFrame:
    text = df[column].astype(str).str.strip()
    keep = text[(text.str.len() >= 8) & (text.str.len() <= 60)].drop_duplicates()
    rows = rng.choice(keep.index.to_numpy(), size=n, replace=False)
    return pd.DataFrame({"source": source, "row": rows, "text": keep.loc[rows].to_numpy()})


def sample_sentences(settings: Settings | None = None) -> pd.DataFrame:
    """The 480 sentences in their fixed order: ``key``, ``source``, ``row``, ``text``, ``split``."""
    rng = np.random.default_rng(SEED)
    titles = pd.read_csv(data_file("taobao_double11_cosmetics", "taobao_double11_cosmetics.csv.gz", settings))
    firsts = titles["title"].astype(str).str.strip().drop_duplicates()
    rows = rng.choice(firsts.index.to_numpy(), size=N_TITLES, replace=False)
    parts = [pd.DataFrame({"source": "taobao_title", "row": rows, "text": firsts.loc[rows].to_numpy()})]
    zj = pd.read_csv(
        data_file("zhijiang_cosmetics_review_opinion_mining", "TRAIN_Train_reviews.csv", settings)
    )
    parts.append(_short_reviews(zj, "Reviews", N_COSMETIC_REVIEWS, "zhijiang_review", rng))
    shop = pd.read_csv(
        data_file("online_shopping_10_cats", "online_shopping_10_cats.csv.gz", settings), encoding="utf-8-sig"
    )
    food = shop[shop["cat"].isin(["水果", "蒙牛"])].dropna(subset=["review"])
    parts.append(_short_reviews(food, "review", N_FOOD_REVIEWS, "food_review", rng))
    df = pd.concat(parts, ignore_index=True)
    df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    df["key"] = df["source"] + ":" + df["row"].astype(str)
    df["split"] = np.where(df.index < DEV_SIZE, "dev", "test")
    return df[["key", "source", "row", "text", "split"]]


def load(settings: Settings | None = None) -> pd.DataFrame:
    """The sentences with both annotators' labels and the adjudicated one (texts checked by digest)."""
    labels = pd.read_csv(str(_labels_file()), dtype=str, keep_default_na=False)
    df = sample_sentences(settings).merge(labels, on="key", how="inner", validate="one_to_one")
    bad = df[df["text"].map(text_digest) != df["digest"]]
    if len(bad):
        raise LiveloopError(
            f"{len(bad)} annotated sentences no longer match their source rows "
            f"(first: {bad['key'].iloc[0]}); "
            "is LIVELOOP_DATA_HOME the shared data set this set was labelled on?"
        )
    return df
