"""Interactions read from real public data sets and from the warehouse."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.datasets.files import data_file
from liveloop.recommend.interactions import EVENT_WEIGHTS, Interactions

TAOBAO_WEIGHTS = {"pv": 1.0, "fav": 2.0, "cart": 3.0, "buy": 5.0}
#: Taobao UserBehavior's collection window (outliers outside it are dropped, as in the paper).
TAOBAO_WINDOW = (1511539200, 1512316800)  # 2017-11-25 .. 2017-12-04 UTC+8 midnight, approx.


def movielens_frame() -> pd.DataFrame:
    """MovieLens 100K ratings: user_id, item_id, rating, ts."""
    path = data_file("movielens_100k", "u.data")
    return pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "ts"])


def movielens_items() -> pd.DataFrame:
    """MovieLens 100K movies with title and first genre as category."""
    genres = [
        "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
        "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
        "Western",
    ]  # fmt: skip
    cols = ["item_id", "title", "release", "video", "url", *genres]
    df = pd.read_csv(data_file("movielens_100k", "u.item"), sep="|", names=cols, encoding="latin-1")
    flags = df[genres].to_numpy()
    df["category"] = [genres[int(np.argmax(row))] for row in flags]
    df["text"] = (
        df["title"] + " " + [" ".join(g for g, f in zip(genres, row, strict=True) if f) for row in flags]
    )
    df["item_id"] = df["item_id"].astype(str)
    return df.set_index("item_id")[["title", "category", "text"]]


def movielens() -> Interactions:
    df = movielens_frame()
    df["weight"] = 1.0
    return Interactions.from_frame(df, items_meta=movielens_items())


def taobao_frame() -> pd.DataFrame:
    path = data_file("taobao_userbehavior_head", "UserBehavior_head84k.csv")
    df = pd.read_csv(path, names=["user_id", "item_id", "category", "behavior", "ts"])
    lo, hi = TAOBAO_WINDOW
    df = df[(df["ts"] >= lo) & (df["ts"] < hi)]
    df["weight"] = df["behavior"].map(TAOBAO_WEIGHTS).astype(np.float32)
    return df


def taobao() -> Interactions:
    df = taobao_frame()
    meta = df.drop_duplicates("item_id").set_index("item_id")[["category"]].astype(str)
    meta.index = meta.index.astype(str)
    return Interactions.from_frame(df, items_meta=meta, kind="behavior")


DATASETS = {"movielens_100k": movielens, "taobao_userbehavior_head": taobao}


def load_dataset(name: str) -> Interactions:
    """Interactions of a public data set by its catalogue name."""
    if name not in DATASETS:
        raise ValidationFailed(
            f"no recommendation loader for data set {name!r}; choose one of {sorted(DATASETS)}",
            field="dataset",
        )
    return DATASETS[name]()


def products_frame(wh: Any) -> pd.DataFrame:
    """The warehouse catalogue indexed by product_id, with text for content-based retrieval."""
    df = wh.df(
        "SELECT product_id, title, title_en, category, brand, CAST(price AS DOUBLE) AS price, "
        "CAST(cost AS DOUBLE) AS cost, stock, "
        "CAST(attributes AS VARCHAR) AS attributes FROM products ORDER BY product_id"
    )
    parts = [df[c].fillna("").astype(str) for c in ("title", "title_en", "category", "brand")]
    attrs = df["attributes"].fillna("").map(_attribute_text)
    df["text"] = parts[0] + " " + parts[1] + " " + parts[2] + " " + parts[3] + " " + attrs
    return df.set_index("product_id")


def _attribute_text(raw: str) -> str:
    if not raw:
        return ""
    try:
        obj = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(obj, dict):
        return " ".join(f"{k} {v}" for k, v in obj.items())
    return str(obj)


def from_warehouse(wh: Any, *, until: Any = None) -> Interactions:
    """Product interactions from ``events`` (weights by type) over the whole warehouse catalogue."""
    weights = ", ".join(f"('{k}', {v})" for k, v in EVENT_WEIGHTS.items())
    where = "AND e.ts < ?" if until is not None else ""
    df = wh.df(
        f"SELECT e.user_id, e.product_id AS item_id, e.ts, e.type, w.weight FROM events e "
        f"JOIN (VALUES {weights}) AS w(type, weight) ON e.type = w.type "
        f"WHERE e.product_id IS NOT NULL {where} ORDER BY e.ts",
        [until] if until is not None else None,
    )
    if df.empty:
        raise InsufficientData(
            "training needs interactions: the warehouse has no product events (view, click, add_to_cart, "
            "purchase …); import some first, e.g. `liveloop data import` or `liveloop simulate`"
        )
    meta = products_frame(wh)
    data = Interactions.from_frame(df, items_meta=meta, kind="type")
    return replace(data, live=live_windows(wh, data.items))


def live_windows(wh: Any, items: np.ndarray) -> np.ndarray:
    """(n, 3) int64: (index in the sorted ``items``, start, end in unix s) per lineup product per live room
    with a start and an end."""
    df = wh.df(
        "SELECT product_id, epoch(start_ts)::BIGINT AS start_s, epoch(end_ts)::BIGINT AS end_s FROM "
        "(SELECT unnest(lineup) AS product_id, start_ts, end_ts FROM live_sessions "
        "WHERE start_ts IS NOT NULL AND end_ts IS NOT NULL AND end_ts > start_ts)"
    )
    ids, pids = items.astype(str), df["product_id"].astype(str).to_numpy()
    pos = np.searchsorted(ids, pids)
    ok = (pos < len(ids)) & (ids[np.minimum(pos, max(len(ids) - 1, 0))] == pids)
    cols = [pos[ok], df["start_s"].to_numpy()[ok], df["end_s"].to_numpy()[ok]]
    return np.column_stack(cols).astype(np.int64) if ok.any() else np.zeros((0, 3), np.int64)
