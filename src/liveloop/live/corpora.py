"""Labelled training corpora for the comment models, read from the real public data sets.

Every label here comes from the data set itself (a review's polarity or star rating, an annotated
aspect) or from a documented rule applied to real text (a question that names a price is a price
question). :data:`INTENT_RULES` lists those rules; docs/live.md states what they imply for the figures.
"""

from __future__ import annotations

import ast
import gzip
import re
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.types import COMMENT_INTENTS
from liveloop.datasets import data_file

#: Aspect categories of the zhijiang labels the copilot tracks, with their English names.
ASPECTS: dict[str, str] = {
    "物流": "logistics",
    "真伪": "authenticity",
    "价格": "price",
    "功效": "efficacy",
    "包装": "packaging",
    "服务": "service",
}
ASPECT_NAMES: tuple[str, ...] = tuple(ASPECTS.values())

#: Aspects of live comments beside the product ones (the annotated set labels them).
LIVE_ASPECTS: tuple[str, ...] = ("stream", "host")
#: Every aspect the comment model reports.
ALL_ASPECTS: tuple[str, ...] = (*ASPECT_NAMES, *LIVE_ASPECTS)

#: Rules that derive intent labels from real text (applied to questions, reviews and danmaku).
INTENT_RULES = {
    "price": re.compile(
        r"多少钱|价格|价钱|几块|多少元|优惠|便宜|贵|打折|折扣|券|利息|费用|手续费|"
        r"\bprice\b|\bcost|how much|\bcheap|expensive|\bdiscount|\$\d",
        re.I,
    ),
    "logistics": re.compile(
        r"发货|快递|物流|到货|几天到|运费|包邮|退货|退款|换货|售后|保修|退回|"
        r"\bship|deliver|\breturn|refund|warrant|replacement part",
        re.I,
    ),
    "purchase": re.compile(
        r"回购|再买|还会买|还要买|会再来|再来一|已下单|下单了|拍了|已拍|想买|要买|求链接|"
        r"buy (?:it )?again|will buy|bought (?:another|a second)|ordered (?:another|a second)|purchase again",
        re.I,
    ),
    "question": re.compile(r"[?？]|吗|么|呢|什么|怎么|怎样|如何|多少|几|哪|能不能|可不可以|是不是|有没有"),
}


def _read_csv(dataset: str, filename: str, settings: Settings | None, **kwargs: Any) -> pd.DataFrame:
    return pd.read_csv(data_file(dataset, filename, settings), **kwargs)


def _jsonl(dataset: str, filename: str, settings: Settings | None) -> pd.DataFrame:
    return pd.read_json(data_file(dataset, filename, settings), lines=True, compression="gzip")


def online_shopping(settings: Settings | None = None) -> pd.DataFrame:
    """online_shopping_10_cats: text, label (1 positive), group = product category."""
    df = _read_csv(
        "online_shopping_10_cats", "online_shopping_10_cats.csv.gz", settings, encoding="utf-8-sig"
    )
    df = df.dropna(subset=["review"])
    return pd.DataFrame(
        {"text": df["review"].astype(str), "label": df["label"].astype(int), "group": df["cat"]}
    )


def waimai(settings: Settings | None = None) -> pd.DataFrame:
    df = _read_csv("waimai_10k", "waimai_10k.csv", settings).dropna(subset=["review"])
    return pd.DataFrame({"text": df["review"].astype(str), "label": df["label"].astype(int), "group": "外卖"})


def zhijiang(settings: Settings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The zhijiang cosmetics reviews (id, text) and their opinion quadruples."""
    reviews = _read_csv("zhijiang_cosmetics_review_opinion_mining", "TRAIN_Train_reviews.csv", settings)
    labels = _read_csv("zhijiang_cosmetics_review_opinion_mining", "TRAIN_Train_labels.csv", settings)
    reviews = reviews.rename(columns={"Reviews": "text"}).dropna(subset=["text"])
    return reviews, labels[labels["id"].isin(reviews["id"])]


def zhijiang_sentiment(settings: Settings | None = None) -> pd.DataFrame:
    """Review polarity: negative if any opinion is 负面, positive if all are 正面 (neutral-only dropped)."""
    reviews, labels = zhijiang(settings)
    pol = labels.groupby("id")["Polarities"].agg(
        lambda s: "neg" if (s == "负面").any() else ("pos" if (s == "正面").any() else "neu")
    )
    df = reviews.merge(pol.rename("pol"), left_on="id", right_index=True)
    df = df[df["pol"] != "neu"]
    return pd.DataFrame(
        {"text": df["text"].astype(str), "label": (df["pol"] == "pos").astype(int), "group": "美妆"}
    )


def zhijiang_aspects(settings: Settings | None = None) -> pd.DataFrame:
    """One row per review: text, one 0/1 column per aspect, and ``negative`` (any 负面 opinion)."""
    reviews, labels = zhijiang(settings)
    labels = labels.assign(aspect=labels["Categories"].map(ASPECTS))
    wide = pd.crosstab(labels["id"], labels["aspect"]).clip(upper=1)
    wide = wide.reindex(columns=list(ASPECT_NAMES), fill_value=0)
    neg = labels.groupby("id")["Polarities"].agg(lambda s: int((s == "负面").any())).rename("negative")
    df = reviews.merge(wide, left_on="id", right_index=True, how="left").merge(
        neg, left_on="id", right_index=True, how="left"
    )
    df[[*ASPECT_NAMES, "negative"]] = df[[*ASPECT_NAMES, "negative"]].fillna(0).astype(int)
    return df.reset_index(drop=True)


def womens_clothing(settings: Settings | None = None) -> pd.DataFrame:
    """English apparel reviews: rating >= 4 positive, <= 2 negative, 3 dropped; title prefixed."""
    df = _read_csv("womens_clothing_ecommerce_reviews", "womens_clothing_ecommerce_reviews.csv.gz", settings)
    df = df.dropna(subset=["Review Text"])
    df = df[df["Rating"] != 3]
    text = (df["Title"].fillna("") + ". " + df["Review Text"].astype(str)).str.strip(". ")
    return pd.DataFrame({"text": text, "label": (df["Rating"] >= 4).astype(int), "group": "clothing_en"})


def amazon_reviews(settings: Settings | None = None) -> pd.DataFrame:
    """Amazon 5-core fashion and musical-instrument reviews, star rating to polarity as above."""
    parts = []
    for filename, group in (
        ("amazon_fashion_5core_2018.jsonl.gz", "fashion_en"),
        ("musical_instruments_5core_2014.jsonl.gz", "instruments_en"),
    ):
        df = _jsonl("amazon_reviews_5core_fashion_musical", filename, settings).dropna(subset=["reviewText"])
        df = df[df["overall"] != 3]
        text = (df["summary"].fillna("").astype(str) + ". " + df["reviewText"].astype(str)).str.strip(". ")
        parts.append(pd.DataFrame({"text": text, "label": (df["overall"] >= 4).astype(int), "group": group}))
    return pd.concat(parts, ignore_index=True)


def atec_pairs(settings: Settings | None = None) -> pd.DataFrame:
    """ATEC question pairs: question_1, question_2, label (1 = same intent)."""
    return _read_csv(
        "atec_cs_question_pairs",
        "atec_nlp_sim_train.csv",
        settings,
        sep="\t",
        header=None,
        names=["id", "question_1", "question_2", "label"],
        quoting=3,
    ).dropna(subset=["question_1", "question_2"])


def amazon_qa(settings: Settings | None = None) -> pd.DataFrame:
    """Amazon appliance questions and answers (asin, question, answer, questionType)."""
    with gzip.open(
        data_file("amazon_qa_appliances", "qa_Appliances.json.gz", settings), "rt", encoding="utf-8"
    ) as fh:
        rows = [ast.literal_eval(line) for line in fh if line.strip()]
    return pd.DataFrame(rows).dropna(subset=["question", "answer"])


def danmaku(settings: Settings | None = None) -> pd.DataFrame:
    """Bilibili danmaku of one evening (room_id, ts, delta_s, user_name_hash, color, text)."""
    return _read_csv("bilibili_live_room_events_20211230", "danmaku.csv.gz", settings).dropna(subset=["text"])


def simulator_comments(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Comments rendered from the market simulator's labelled phrase bank (typos, emoji, code-mixing).

    Simulated, never presented as real: used to teach live-room phrasing, and measured separately.
    """
    from liveloop.datasets.simulator import phrases

    rng = np.random.default_rng(seed)
    templates = phrases.pick_templates(rng, rng.random(n) < 0.6, rng.random(n) < 0.25)
    slots = np.where(rng.random(n) < 0.8, rng.integers(0, 12, n), -1)
    texts, _, _ = phrases.render(rng, templates, slots, ["这款精华"] * n, ["this serum"] * n)
    intent, sentiment, _ = phrases.labels(templates)
    return pd.DataFrame({"text": texts, "label": intent, "sentiment": sentiment, "source": "simulator"})


SENTIMENT_SOURCES = {
    "online_shopping_10_cats": online_shopping,
    "waimai_10k": waimai,
    "zhijiang_cosmetics": zhijiang_sentiment,
    "womens_clothing_en": womens_clothing,
    "amazon_reviews_en": amazon_reviews,
}


def sentiment_corpus(settings: Settings | None = None) -> pd.DataFrame:
    """All sentiment sources in one frame: text, label, group, source."""
    parts = [fn(settings).assign(source=name) for name, fn in SENTIMENT_SOURCES.items()]
    return pd.concat(parts, ignore_index=True)


def neutral_corpus(settings: Settings | None = None, n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Neutral comments (label 2): real questions (ATEC, Amazon QA) and question-free danmaku."""
    atec = atec_pairs(settings)
    qa = amazon_qa(settings)
    dm = danmaku(settings)
    chat = dm.loc[~dm["text"].astype(str).str.contains(INTENT_RULES["question"]), "text"].astype(str)
    parts = [
        pd.DataFrame({"text": pd.unique(atec["question_1"].astype(str)), "source": "atec"}),
        pd.DataFrame({"text": qa["question"].astype(str), "source": "amazon_qa"}),
        pd.DataFrame({"text": chat.drop_duplicates(), "source": "bilibili"}),
    ]
    each = n // len(parts)
    rows = [p.sample(min(len(p), each), random_state=seed) for p in parts]
    return pd.concat(rows, ignore_index=True).assign(label=2, group="neutral")


def _short(texts: pd.Series, limit: int = 60) -> pd.Series:
    """The first clause-sized piece of a review (live comments are short)."""
    return texts.astype(str).str.slice(0, limit)


def intent_corpus(
    settings: Settings | None = None, per_class: int = 4000, seed: int = 0, simulated: int = 0
) -> pd.DataFrame:
    """Intent examples derived from real text by :data:`INTENT_RULES` (text, label, source).

    questions: ATEC customer-service questions and Amazon appliance questions, split into
    price / logistics (after-sales) / other questions by keyword rule; purchase intent: reviews that
    state a (re)purchase; complaint: negative reviews; praise: positive reviews; chit-chat: Bilibili
    danmaku with no question marker. Each class is capped at ``per_class`` rows (seeded sample).
    ``simulated`` adds that many simulator comments (source ``simulator``) on top of the cap.
    """
    rng = np.random.default_rng(seed)
    atec = atec_pairs(settings)
    questions = pd.concat(
        [
            pd.DataFrame(
                {"text": pd.unique(pd.concat([atec["question_1"], atec["question_2"]])), "source": "atec"}
            ),
            pd.DataFrame({"text": amazon_qa(settings)["question"].astype(str), "source": "amazon_qa"}),
        ],
        ignore_index=True,
    )
    q_price = questions["text"].str.contains(INTENT_RULES["price"])
    q_logi = questions["text"].str.contains(INTENT_RULES["logistics"]) & ~q_price
    questions["label"] = np.where(
        q_price, "price_question", np.where(q_logi, "logistics_question", "question")
    )

    reviews = sentiment_corpus(settings)
    reviews = reviews.assign(text=_short(reviews["text"]))
    wants = reviews["text"].str.contains(INTENT_RULES["purchase"])
    reviews["label"] = np.where(
        wants, "purchase_intent", np.where(reviews["label"] == 1, "praise", "complaint")
    )

    dm = danmaku(settings)
    chat = dm[~dm["text"].astype(str).str.contains(INTENT_RULES["question"])]
    chat = pd.DataFrame(
        {"text": chat["text"].astype(str).drop_duplicates(), "source": "bilibili", "label": "chit_chat"}
    )

    pool = pd.concat([questions, reviews[["text", "source", "label"]], chat], ignore_index=True)
    parts = []
    for label in COMMENT_INTENTS:
        rows = pool[pool["label"] == label]
        if len(rows) > per_class:
            rows = rows.iloc[rng.choice(len(rows), per_class, replace=False)]
        parts.append(rows)
    if simulated:
        parts.append(simulator_comments(simulated, seed))
    return pd.concat(parts, ignore_index=True)[["text", "label", "source"]]
