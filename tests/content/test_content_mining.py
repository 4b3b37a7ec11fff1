"""Selling-point mining on the real zhijiang labels and online_shopping reviews (LIVELOOP_DATA_HOME)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from liveloop.content.mining import (
    ASPECT_LABELS,
    KeywordBaseline,
    MinerSettings,
    Opinion,
    OpinionMiner,
    aspect_label,
    default_miner,
    evaluate,
    load_online_shopping,
    load_zhijiang,
    selling_points,
    split_ids,
    train_heldout_split,
)


@pytest.fixture(scope="module")
def miner(data_home: Path) -> OpinionMiner:
    return default_miner()


def _pairs(opinions: list[Opinion]) -> set[tuple[str, str]]:
    return {(o.aspect, o.polarity) for o in opinions}


def test_clear_sentences(miner: OpinionMiner) -> None:
    assert ("物流", "positive") in _pairs(miner.extract("物流很快"))
    assert ("气味", "negative") in _pairs(miner.extract("味道不好闻"))
    assert ("价格", "positive") in _pairs(miner.extract("价格实惠"))
    assert ("价格", "negative") not in _pairs(miner.extract("价格实惠"))
    assert ("服务", "negative") in _pairs(miner.extract("客服态度太差了，再也不买"))
    assert ("物流", "negative") not in _pairs(miner.extract("物流很快"))
    for text in ("物流很快，包装很好，价格实惠", "味道不好闻", "一点都不好用"):
        for o in miner.extract(text):
            assert text[o.span[0] : o.span[1]] == o.term
            assert o.aspect in ASPECT_LABELS and o.polarity in {"positive", "negative", "neutral"}
    assert miner.extract("") == []
    assert miner.extract("12345 abc") == []


def test_negation_flips_and_one_character_terms_need_an_aspect() -> None:
    reviews = pd.DataFrame({"id": [1, 2], "text": ["很好闻", "服务差"]})
    labels = pd.DataFrame(
        {
            "id": [1, 1, 2, 2],
            "AspectTerms": ["_", "_", "服务", "服务"],
            "OpinionTerms": ["好闻", "很好闻", "差", "差"],
            "Categories": ["气味", "气味", "服务", "服务"],
            "Polarities": ["正面", "正面", "负面", "负面"],
        }
    )
    tiny = OpinionMiner(MinerSettings(min_count=1)).fit(reviews, labels)
    assert tiny.lexicon["好闻"].category == "气味" and tiny.lexicon["好闻"].count == 2
    [flipped] = tiny.extract("这个一点都不好闻")
    assert (flipped.aspect, flipped.polarity, flipped.term) == ("气味", "negative", "一点都不好闻")
    [plain] = tiny.extract("好闻")
    assert plain.polarity == "positive"
    assert _pairs(tiny.extract("服务差")) == {("服务", "negative")}
    assert [o.term for o in tiny.extract("服务差劲")] == ["服务"]  # 差 is no word of its own here
    assert ("服务", "negative") not in _pairs(tiny.extract("差不多"))


def test_heldout_beats_keyword_baseline(data_home: Path) -> None:
    report = evaluate()
    ours, base = report["method"], report["baseline"]
    assert ours["f1"] > base["f1"], (ours["f1"], base["f1"])
    assert ours["f1"] > 0.7 and 0 < ours["precision"] <= 1 and 0 < ours["recall"] <= 1
    assert ours["gold"] == base["gold"] > 0
    assert report["heldout_reviews"] == 520 and report["train_reviews"] == 2080
    assert {"整体", "价格", "物流"} <= set(ours["per_aspect"])
    assert all(v["support"] >= 20 for v in ours["per_aspect"].values())
    assert set(ours["per_aspect"]) == set(base["per_aspect"])
    assert report["fit_seconds"] < 5


def test_heldout_is_disjoint_from_lexicon_ids(miner: OpinionMiner) -> None:
    reviews, _ = load_zhijiang()
    train, heldout = train_heldout_split()
    assert not set(train) & set(heldout)
    assert set(train) | set(heldout) == set(reviews["id"])
    assert miner.fitted_ids == set(train)
    assert not miner.fitted_ids & set(heldout)
    assert split_ids(reviews["id"]) == (train, heldout)  # fixed seed
    assert split_ids(reviews["id"], seed=1) != (train, heldout)


def test_selling_points_rank_and_quote(miner: OpinionMiner) -> None:
    texts = [
        "物流很快，包装很好",
        "快递很快，第二天就到了",
        "发货速度很快，价格实惠",
        "物流超快，味道不好闻",
        "价格便宜，物流也快",
        "味道不好闻，有点刺鼻",
    ]
    result = selling_points(texts, miner, top=3, quotes=2)
    assert result["reviews"] == len(texts)
    first = result["selling_points"][0]
    assert (first["aspect"], first["count"], first["label"]) == ("物流", 5, "logistics")
    assert first["share"] == pytest.approx(5 / 6)
    assert result["selling_points"][1]["aspect"] == "价格"
    assert result["pain_points"][0]["aspect"] == "气味" and result["pain_points"][0]["count"] == 2
    assert len(result["selling_points"]) <= 3
    for entry in result["selling_points"] + result["pain_points"]:
        assert 1 <= len(entry["quotes"]) <= 2 and entry["terms"]
        assert all(len(q) <= 40 and any(q in t for t in texts) for q in entry["quotes"])


def test_selling_points_on_real_fruit_reviews(miner: OpinionMiner) -> None:
    fruit = load_online_shopping(cats=["水果"]).sample(400, random_state=7)["review"].tolist()
    result = selling_points(fruit, miner)
    assert result["reviews"] == 400
    for side in ("selling_points", "pain_points"):
        counts = [e["count"] for e in result[side]]
        assert counts == sorted(counts, reverse=True) and 0 < len(counts) <= 5
        for entry in result[side]:
            assert 0 < entry["share"] <= 1
            assert all(len(q) <= 40 and any(q in t for t in fruit) for q in entry["quotes"])
    # general terms (整体, 物流 …) carry over from the cosmetics lexicon
    assert {"整体", "物流"} <= {e["aspect"] for e in result["selling_points"]}


def test_aspect_labels() -> None:
    assert [aspect_label(a) for a in ("功效", "价格", "新鲜度", "其他")] == [
        "efficacy",
        "price",
        "freshness",
        "other",
    ]
    assert len(set(ASPECT_LABELS.values())) == 13
    assert aspect_label("物流", "zh") == "物流"
    with pytest.raises(ValueError):
        aspect_label("物流", "fr")


def test_keyword_baseline_is_simple() -> None:
    base = KeywordBaseline()
    assert _pairs(base.extract("物流很快")) == {("物流", "positive")}
    assert ("价格", "negative") in _pairs(base.extract("价格太贵"))
