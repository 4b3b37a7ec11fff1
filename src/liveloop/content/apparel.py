"""Selling and pain points of apparel from the English ``womens_clothing_ecommerce_reviews``: what a
review talks about (fit, fabric, colour, workmanship, comfort, style, price — a keyword list per aspect)
and whether it praises or complains (its star rating: 4–5 praise, 1–2 complain, 3 is left out).

The shared data hold no Chinese apparel reviews and no aspect labels for these; the aspects use the
names of the Chinese categories where one fits (尺寸, 使用体验, 价格) and new ones where none does.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

import pandas as pd

from liveloop.content.mining import aspect_label
from liveloop.core.config import Settings
from liveloop.datasets import data_file

DATASET = "womens_clothing_ecommerce_reviews"
#: Aspect -> the words that name it in a review.
ASPECT_WORDS: dict[str, re.Pattern[str]] = {
    "尺寸": re.compile(r"\b(?:fits?|fitted|sizing|true to size|runs (?:small|large|big)|length)\b", re.I),
    "材质": re.compile(
        r"\b(?:fabric|material|cotton|linen|silk|knit|soft|thin|sheer|itchy|scratchy)\b", re.I
    ),
    "颜色": re.compile(r"\b(?:colou?rs?|shade)\b", re.I),
    "做工": re.compile(r"\b(?:quality|stitching|seams?|well made|cheaply made|poorly made)\b", re.I),
    "使用体验": re.compile(r"\b(?:comfortable|comfy|flattering|easy to wear)\b", re.I),
    "款式": re.compile(r"\b(?:style|design|cut|cute|pretty|beautiful|gorgeous)\b", re.I),
    "价格": re.compile(r"\b(?:price|priced|worth|value|sale|expensive|pricey)\b", re.I),
}
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")
#: A quote must say what its review's stars say: praise words (and no complaint) for a selling point,
#: complaint words for a pain point.
PRAISE = re.compile(
    r"\b(?:love|loved|great|perfect|perfectly|beautiful|nice|lovely|comfortable|comfy|soft|"
    r"flattering|cute|gorgeous|well made|true to size|fits? (?:great|perfectly|well))\b",
    re.I,
)
COMPLAINT = re.compile(
    r"\b(?:not|no|n't|too|but|however|poor|poorly|cheap|cheaply|thin|itchy|scratchy|"
    r"small|large|big|short|tight|baggy|disappoint\w*|return\w*)\b|n't",
    re.I,
)
QUOTE_CHARS = 80


def reviews(settings: Settings | None = None) -> pd.DataFrame:
    """Rated reviews: ``text`` (title + review) and ``polarity`` (positive / negative; 3 stars dropped)."""
    df = pd.read_csv(data_file(DATASET, f"{DATASET}.csv.gz", settings)).dropna(subset=["Review Text"])
    df = df[df["Rating"] != 3]
    text = (df["Title"].fillna("") + ". " + df["Review Text"].astype(str)).str.strip(". ")
    return pd.DataFrame(
        {"text": text, "polarity": (df["Rating"] >= 4).map({True: "positive", False: "negative"})}
    ).reset_index(drop=True)


def _sentences(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCE.finditer(text) if pattern.search(m.group(0))]


def _says(sentence: str, polarity: str) -> bool:
    if polarity == "positive":
        return bool(PRAISE.search(sentence)) and not COMPLAINT.search(sentence)
    return bool(COMPLAINT.search(sentence))


def points(df: pd.DataFrame, *, top: int = 8, quotes: int = 6) -> dict[str, Any]:
    """The aspects praised and complained about, by reviews mentioning them, with short real quotes —
    the shape of :func:`liveloop.content.mining.selling_points`."""
    counts: Counter[tuple[str, str]] = Counter()
    terms: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for text, polarity in zip(df["text"], df["polarity"], strict=True):
        for aspect, pattern in ASPECT_WORDS.items():
            hits = list(pattern.finditer(text))
            if not hits:
                continue
            key = (aspect, polarity)
            counts[key] += 1
            terms[key].update(h.group(0).lower() for h in hits)
            if len(found[key]) < 50:
                sentence = next((q for q in _sentences(text, pattern) if _says(q, polarity)), "")
                if 12 <= len(sentence) <= QUOTE_CHARS:
                    found[key].append(sentence)
    total = len(df)

    def ranked(polarity: str) -> list[dict[str, Any]]:
        keys = sorted((k for k in counts if k[1] == polarity), key=lambda k: (-counts[k], k[0]))[:top]
        return [
            {
                "aspect": k[0],
                "count": counts[k],
                "share": round(counts[k] / total, 4) if total else 0.0,
                "terms": [t for t, _ in terms[k].most_common(5)],
                "quotes": found[k][:quotes],
                "label": aspect_label(k[0]),
            }
            for k in keys
        ]

    return {"selling_points": ranked("positive"), "pain_points": ranked("negative"), "reviews": total}
