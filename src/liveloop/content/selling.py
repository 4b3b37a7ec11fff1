"""Selling points and pain points of a product: from its own buyers' live comments where the room data
has them, and from real reviews of its category (:mod:`.mining` over the shared review corpora).

Every quote is a real customer's words and passes the compliance gate with the product's facts before
it is offered (a review that says 美白 is not quoted for a product without that claim on file).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from liveloop.content import apparel
from liveloop.content.compliance import ComplianceChecker
from liveloop.content.facts import ProductFacts
from liveloop.content.mining import (
    aspect_label,
    default_miner,
    load_online_shopping,
    load_zhijiang,
    selling_points,
)
from liveloop.core.config import Settings, get_settings
from liveloop.warehouse import Warehouse

#: Where a category's reviews come from: the shared corpus and, for online_shopping, its categories.
CATEGORY_CORPORA: dict[str, tuple[str, tuple[str, ...]]] = {
    "beauty": ("zhijiang", ()),
    "美妆": ("zhijiang", ()),
    "food": ("online_shopping", ("水果", "蒙牛")),
    "食品": ("online_shopping", ("水果", "蒙牛")),
    "electronics": ("online_shopping", ("平板", "手机", "计算机")),
    "数码": ("online_shopping", ("平板", "手机", "计算机")),
    "home": ("online_shopping", ("热水器",)),
    "家居": ("online_shopping", ("热水器",)),
    "apparel": ("womens_clothing", ()),
    "服饰": ("womens_clothing", ()),
}
#: Comments read per product (the most recent), so a long-running product stays cheap.
MAX_COMMENTS = 2000
QUOTE_CANDIDATES = 6
#: Reviews mined per category (a fixed sample of larger corpora).
MAX_REVIEWS = 3000


@lru_cache(maxsize=8)
def _category_points(data_home: str, category: str) -> dict[str, Any]:
    settings = Settings(data_home=Path(data_home))
    corpus, cats = CATEGORY_CORPORA[category]
    if corpus == "womens_clothing":  # English, rated: aspects by keyword, polarity by stars
        rated = apparel.reviews(settings)
        if len(rated) > MAX_REVIEWS:
            rated = rated.sample(MAX_REVIEWS, random_state=0)
        points = apparel.points(rated, quotes=QUOTE_CANDIDATES)
        points["source"] = f"{len(rated)} rated reviews (womens_clothing_ecommerce_reviews, English)"
        return points
    if corpus == "zhijiang":
        column = load_zhijiang(settings)[0]["text"]
    else:
        column = load_online_shopping(settings, cats)["review"]
    if len(column) > MAX_REVIEWS:  # a fixed sample bounds the time and memory per category
        column = column.sample(MAX_REVIEWS, random_state=0)
    texts = column.astype(str).tolist()
    points = selling_points(texts, default_miner(settings), top=8, quotes=QUOTE_CANDIDATES)
    points["source"] = f"{len(texts)} reviews ({corpus}{': ' + '/'.join(cats) if cats else ''})"
    return points


def category_points(category: str | None, settings: Settings | None = None) -> dict[str, Any] | None:
    """Mined points of a category's real reviews (cached per data home and category); None when no
    corpus covers the category."""
    if category not in CATEGORY_CORPORA:
        return None
    settings = settings or get_settings()
    return _category_points(str(settings.data_home), str(category))


def comment_texts(wh: Warehouse, product_ids: Sequence[str]) -> dict[str, list[str]]:
    """The most recent comments that mention each product."""
    rows = wh.sql(
        "SELECT product_mention, text FROM comments WHERE product_mention IN (SELECT unnest(?::VARCHAR[])) "
        "QUALIFY row_number() OVER (PARTITION BY product_mention ORDER BY ts DESC) <= ?",
        [list(product_ids), MAX_COMMENTS],
    )
    out: dict[str, list[str]] = {}
    for pid, text in rows:
        out.setdefault(str(pid), []).append(str(text))
    return out


def _gated(
    points: list[dict[str, Any]], facts: ProductFacts, checker: ComplianceChecker, source: str
) -> list[dict[str, Any]]:
    out = []
    for p in points:
        quotes = [q for q in p["quotes"] if checker.check(q, facts.claim_facts()).verdict != "block"]
        safe = [q for q in quotes if checker.check(q, facts.claim_facts()).verdict == "pass"]
        out.append(
            {
                **p,
                "quotes": safe or quotes,
                "quote_verdict": "pass" if safe else ("flag" if quotes else "none"),
                "label_zh": p["aspect"],
                "label_en": aspect_label(p["aspect"], "en"),
                "source": source,
            }
        )
    return out


def product_points(
    wh: Warehouse,
    facts: dict[str, ProductFacts],
    checker: ComplianceChecker,
    settings: Settings | None = None,
) -> dict[str, dict[str, Any]]:
    """Per product: ``selling_points`` and ``pain_points`` (comments first, then category reviews), each
    with counts, shares, terms and gated quotes, and where they came from."""
    settings = settings or get_settings()
    miner = default_miner(settings)
    comments = comment_texts(wh, list(facts))
    out = {}
    for pid, f in facts.items():
        texts = comments.get(pid, [])
        sources = []
        sell: list[dict[str, Any]] = []
        pain: list[dict[str, Any]] = []
        if texts:
            own = selling_points(texts, miner, top=5, quotes=QUOTE_CANDIDATES)
            sell += _gated(own["selling_points"], f, checker, "comments")
            pain += _gated(own["pain_points"], f, checker, "comments")
            sources.append(f"{len(texts)} live comments about this product")
        cat = category_points(f.category, settings)
        if cat is not None:
            for mine, key in ((sell, "selling_points"), (pain, "pain_points")):
                seen = {p["aspect"] for p in mine}
                mine += [p for p in _gated(cat[key], f, checker, "reviews") if p["aspect"] not in seen]
            sources.append(f"category reviews: {cat['source']}")
        out[pid] = {"selling_points": sell, "pain_points": pain, "sources": sources}
    return out
