"""Reading a data set's files into pandas DataFrames (gzip, zip, odd separators and encodings handled).

Most files are plain CSV; the exceptions are listed in ``_SPECS`` by (data set, file name) so that
``load`` gives every file its right shape without the caller knowing the quirks.
"""

from __future__ import annotations

import ast
import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

#: A reader returns its frames keyed by member name ("" for a file that holds one table).
Reader = Callable[[Path], dict[str, pd.DataFrame]]


def _csv(**kwargs: Any) -> Reader:
    def read(path: Path) -> dict[str, pd.DataFrame]:
        return {"": pd.read_csv(path, **kwargs)}

    return read


def _lines(column: str) -> Reader:
    def read(path: Path) -> dict[str, pd.DataFrame]:
        text = path.read_text("utf-8")
        return {"": pd.DataFrame({column: [s for s in text.splitlines() if s.strip()]})}

    return read


def _python_literals(path: Path) -> dict[str, pd.DataFrame]:
    """One Python dict literal per line (the McAuley QA files are not strict JSON)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [ast.literal_eval(line) for line in fh if line.strip()]
    return {"": pd.DataFrame(rows)}


def _jsonl(path: Path) -> dict[str, pd.DataFrame]:
    return {"": pd.read_json(path, lines=True, compression="infer")}


def _baskets(path: Path) -> dict[str, pd.DataFrame]:
    """One basket per line, items comma-separated: long format (basket_id, item)."""
    rows = [
        (basket, item.strip())
        for basket, line in enumerate(path.read_text("utf-8").splitlines())
        for item in line.split(",")
        if item.strip()
    ]
    return {"": pd.DataFrame(rows, columns=["basket_id", "item"])}


def _zip_of_csv(**kwargs: Any) -> Reader:
    """Every CSV member of a zip archive, keyed by member name."""

    def read(path: Path) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith(".csv") and not member.startswith("__MACOSX"):
                    with archive.open(member) as fh:
                        out[member] = pd.read_csv(fh, **kwargs)
        return out

    return read


_SPECS: dict[tuple[str, str], Reader] = {
    ("ad_law_absolute_words", "ad_law_absolute_words.txt"): _lines("term"),
    ("amazon_qa_appliances", "qa_Appliances.json.gz"): _python_literals,
    ("amazon_reviews_5core_fashion_musical", "amazon_fashion_5core_2018.jsonl.gz"): _jsonl,
    ("amazon_reviews_5core_fashion_musical", "musical_instruments_5core_2014.jsonl.gz"): _jsonl,
    ("atec_cs_question_pairs", "atec_nlp_sim_train.csv"): _csv(
        sep="\t", header=None, names=["id", "question_1", "question_2", "label"], quoting=3
    ),
    ("bank_marketing", "bank-additional.zip"): _zip_of_csv(sep=";"),
    ("cdnow", "CDNOW_master.txt"): _csv(sep=r"\s+", dtype={"customer_id": str, "date": str}),
    ("cdnow", "CDNOW_sample.txt"): _csv(
        sep=r"\s+",
        header=None,
        names=["customer_id", "customer_id_in_sample", "date", "number_of_cds", "dollar_value"],
        dtype={"customer_id": str, "customer_id_in_sample": str, "date": str},
    ),
    ("diginetica_purchases_categories", "product-categories.csv.gz"): _csv(sep=";"),
    ("diginetica_purchases_categories", "train-purchases.csv"): _csv(sep=";"),
    ("groceries", "groceries.csv"): _baskets,
    ("movielens_100k", "u.data"): _csv(
        sep="\t", header=None, names=["user_id", "item_id", "rating", "timestamp"]
    ),
    ("movielens_100k", "u.item"): _csv(
        sep="|",
        header=None,
        encoding="latin-1",
        names=["movie_id", "title", "release_date", "video_release_date", "imdb_url"]
        + [f"genre_{i}" for i in range(19)],
    ),
    ("movielens_100k", "u.user"): _csv(
        sep="|", header=None, names=["user_id", "age", "gender", "occupation", "zip_code"]
    ),
    ("movielens_100k", "u.genre"): _csv(sep="|", header=None, names=["genre", "genre_id"]),
    ("movielens_100k", "u.occupation"): _lines("occupation"),
    ("online_retail_sample40k", "online_retail_sample40k.csv.gz"): _csv(
        dtype={"InvoiceNo": str, "StockCode": str}
    ),
    ("taobao_userbehavior_head", "UserBehavior_head84k.csv"): _csv(
        header=None, names=["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
    ),
    ("tiny_rec_fixtures", "yoochoose-clicks-sample.dat"): _csv(
        header=None, names=["session_id", "timestamp", "item_id", "category"], dtype={"category": str}
    ),
    ("tiny_rec_fixtures", "train-item-views-sample.csv"): _csv(sep=";"),
    ("artea_coupon_experiment", "artea-a_b-experiment.csv"): _csv(encoding="utf-8-sig"),
    ("artea_coupon_experiment", "artea-demographics.csv"): _csv(encoding="utf-8-sig"),
    ("artea_coupon_experiment", "artea-next-campaign.csv"): _csv(encoding="utf-8-sig"),
}


#: Files ``load`` leaves out, with the reason (an alternate copy of another file).
SKIPPED: dict[tuple[str, str], str] = {
    ("online_retail_sample40k", "online_retail_sample40k.xlsx"): (
        "the same 40,000 rows as online_retail_sample40k.csv.gz (reading .xlsx would need openpyxl)"
    ),
}


def reader_for(dataset: str, filename: str) -> Reader:
    """The reader of one file: its special case, else by extension (open bandit files carry an index)."""
    if (dataset, filename) in _SPECS:
        return _SPECS[(dataset, filename)]
    if dataset == "open_bandit_dataset_small":
        return _csv(index_col=0)
    if filename.endswith(".zip"):
        return _zip_of_csv()
    return _csv()
