"""Selling points and pain points mined from real Chinese reviews, for live scripts and copy.

An opinion lexicon is learned from the labels of the zhijiang cosmetics opinion-mining set (TRAIN part):
every opinion term (很快, 不油腻, 物美价廉 …) and aspect term (物流, 味道, 补水效果 …) keeps the majority
Category and Polarity of the rows it labels, and its count. Degree words are stripped to add a core form
(很划算 → 划算, 挺好用的 → 好用), so an unseen 超级划算 still matches.

Extraction is plain and explainable: the longest lexicon term at each position of the text; a negation
right before an opinion term (不/没/没有/不太/一点都不 …) flips its polarity; an opinion takes the category
of the aspect term in the same clause (价格 + 很不错 → 价格); an aspect term with no opinion in its clause
counts with its usual polarity (flipped by a later 不/没); a one-character term (快, 差 …) counts only as a
word of its own right after an aspect term (服务差). General terms (整体, 价格, 物流, 包装, 服务 …) apply to
reviews of other products too (fruit, dairy …).

The TRAIN reviews are split by id with a fixed seed: 80% build the lexicon (a validation slice of these 80%
chooses the few settings), 20% are held out and only ever used by :func:`evaluate`.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liveloop.core.config import Settings
from liveloop.datasets import data_file

ZHIJIANG = "zhijiang_cosmetics_review_opinion_mining"
ONLINE_SHOPPING = "online_shopping_10_cats"
SPLIT_SEED = 20260607
HELDOUT_SHARE = 0.2
VALIDATION_SHARE = 0.2

#: The zhijiang categories and their English names.
ASPECT_LABELS: dict[str, str] = {
    "功效": "efficacy",
    "价格": "price",
    "物流": "logistics",
    "包装": "packaging",
    "使用体验": "experience",
    "整体": "overall",
    "气味": "smell",
    "成分": "ingredients",
    "尺寸": "size",
    "真伪": "authenticity",
    "服务": "service",
    "新鲜度": "freshness",
    "其他": "other",
}
#: The apparel aspects of ``liveloop.content.apparel`` (English reviews) that no zhijiang category names.
OTHER_LABELS: dict[str, str] = {"材质": "fabric", "颜色": "colour", "做工": "workmanship", "款式": "style"}
POLARITIES: dict[str, str] = {"正面": "positive", "负面": "negative", "中性": "neutral"}
_FLIP = {"positive": "negative", "negative": "positive", "neutral": "neutral"}

#: Degree words stripped from the front of an opinion term to give its core form (longest first).
_LONG_DEGREE = ("一如既往的", "非常的", "特别的", "相当的", "非常", "超级", "特别", "比较", "真的", "十分")
_MID_DEGREE = ("相当", "有点", "有些", "稍微", "还是", "还算", "确实", "真心", "灰常")
_SHORT_DEGREE = ("很", "挺", "还", "超", "太", "真", "蛮", "也", "都", "更", "巨", "好")
DEGREE_PREFIXES: tuple[str, ...] = _LONG_DEGREE + _MID_DEGREE + _SHORT_DEGREE
DEGREE_SUFFIXES: tuple[str, ...] = ("的", "了", "哒", "哦", "啊", "呀", "哈", "滴")
#: A negation right before an opinion term (a degree word may sit between): it flips the polarity.
NEGATION = re.compile(
    r"(?:一点[都也]?不|不太|不是很|不怎么|不是|不够|并不|没有|没那么|没|不)(?:太|很|那么|是)?$"
)
#: Negation words alone are no opinion (the negation rule handles them).
NEGATORS = frozenset({"不", "没", "没有", "不是", "并不", "无"})
#: An aspect term with no opinion in its clause, followed there by 不/没 (价格不值), flips its polarity.
BARE_NEGATION = re.compile(r"不|没")
CLAUSE = re.compile(r"[^，,。.!！?？;；~～、\s…]+")
QUOTE_CHARS = 40
#: Particles that may follow a one-character opinion (物流快了, 价格贵啊).
PARTICLES = frozenset("了的啊呀哦哈滴啦哒吧")


@dataclass(frozen=True)
class Opinion:
    """One opinion found in a text: its zhijiang category, polarity, the phrase and its span."""

    aspect: str
    polarity: str
    term: str
    span: tuple[int, int]


@dataclass(frozen=True)
class LexiconEntry:
    """A lexicon term: majority category and polarity over the ``count`` label rows it comes from."""

    term: str
    kind: str  # "opinion" or "aspect"
    category: str
    polarity: str
    count: int


@dataclass(frozen=True)
class MinerSettings:
    """The few choices of the miner; :func:`choose_settings` picks them on a validation slice.

    The defaults are the values it picked on the zhijiang 80% train split.
    """

    #: a term needs this many label rows
    min_count: int = 2
    #: "always": an aspect term in the clause sets the category; "overall": only that of a 整体 opinion
    attach: str = "always"
    #: an aspect term with no opinion in its clause is an opinion of its own (its usual polarity)
    bare_aspects: bool = True
    #: one-character terms (好, 快, 差 …): "all", "none", or "anchored" (only right after an aspect term)
    single_char: str = "anchored"


def core_form(term: str) -> str:
    """The term without leading degree words and trailing particles: 挺好用的 → 好用."""
    core, changed = term, True
    while changed:
        changed = False
        for suffix in DEGREE_SUFFIXES:
            if core.endswith(suffix) and len(core) > len(suffix) + 1:
                core, changed = core[: -len(suffix)], True
        for prefix in DEGREE_PREFIXES:
            rest = core[len(prefix) :]
            if core.startswith(prefix) and len(rest) >= (2 if prefix == "好" else 1):
                core, changed = rest, True
                break
    return core


def _word_ends(text: str, pos: int) -> bool:
    """Nothing but a particle or punctuation at ``pos``: a one-character term is a word of its own."""
    return pos >= len(text) or text[pos] in PARTICLES or not text[pos].isalnum()


def _majority(counter: Counter[str]) -> str:
    # a tie goes to the first key in sorted order, so it does not depend on the order of the rows
    return max(sorted(counter), key=lambda k: counter[k])


def _clauses(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in CLAUSE.finditer(text)]


def _clause_of(clauses: Sequence[tuple[int, int]], pos: int) -> tuple[int, int]:
    for start, end in clauses:
        if start <= pos < end:
            return start, end
    return pos, pos + 1


Votes = dict[tuple[str, str], tuple[Counter[str], Counter[str]]]


def count_votes(labels: pd.DataFrame) -> Votes:
    """(term, kind) → (category counts, polarity counts) over label rows; core forms vote too."""
    votes: Votes = defaultdict(lambda: (Counter(), Counter()))
    for aspect, opinion, category, polarity in zip(
        labels["AspectTerms"], labels["OpinionTerms"], labels["Categories"], labels["Polarities"], strict=True
    ):
        pol = POLARITIES.get(str(polarity), "neutral")
        opinion, aspect = str(opinion).strip(), str(aspect).strip()
        if opinion and opinion != "_":
            for form in {opinion, core_form(opinion)}:
                votes[(form, "opinion")][0][str(category)] += 1
                votes[(form, "opinion")][1][pol] += 1
        if aspect and aspect != "_":
            votes[(aspect, "aspect")][0][str(category)] += 1
            votes[(aspect, "aspect")][1][pol] += 1
    return votes


class OpinionMiner:
    """Lexicon-based opinion extraction: longest match, negation flip, aspect attachment in the clause."""

    def __init__(self, settings: MinerSettings | None = None) -> None:
        self.settings = settings or MinerSettings()
        self.lexicon: dict[str, LexiconEntry] = {}
        self.fitted_ids: frozenset[int] = frozenset()
        self.fit_seconds = 0.0
        self.selection_seconds = 0.0  # set by default_miner: the time spent choosing the settings
        self._max_len = 0

    def fit(self, reviews: pd.DataFrame, labels: pd.DataFrame) -> OpinionMiner:
        """Learn the lexicon from the zhijiang label rows of ``reviews`` (only its ``id`` column is read)."""
        started = time.perf_counter()
        ids = frozenset(int(i) for i in reviews["id"])
        self._build(count_votes(labels[labels["id"].astype(int).isin(ids)]), ids)
        self.fit_seconds = time.perf_counter() - started
        return self

    def _build(self, votes: Votes, ids: frozenset[int]) -> None:
        lexicon: dict[str, LexiconEntry] = {}
        for (term, kind), (cats, pols) in votes.items():
            count = sum(cats.values())
            if count < self.settings.min_count or term in NEGATORS:
                continue
            if len(term) < 2 and self.settings.single_char == "none":
                continue
            entry = LexiconEntry(term, kind, _majority(cats), _majority(pols), count)
            old = lexicon.get(term)
            if old is None or (count, kind == "opinion") > (old.count, old.kind == "opinion"):
                lexicon[term] = entry
        self.lexicon = lexicon
        self._max_len = max((len(t) for t in lexicon), default=0)
        self.fitted_ids = ids

    def _matches(self, text: str) -> list[tuple[int, int, LexiconEntry]]:
        found: list[tuple[int, int, LexiconEntry]] = []
        i = 0
        anchored = self.settings.single_char == "anchored"
        while i < len(text):
            for length in range(min(self._max_len, len(text) - i), 0, -1):
                entry = self.lexicon.get(text[i : i + length])
                if entry is not None and length == 1 and anchored:
                    after_aspect = bool(found) and found[-1][1] == i and found[-1][2].kind == "aspect"
                    if entry.kind == "opinion" and not (after_aspect and _word_ends(text, i + 1)):
                        continue
                if entry is not None:
                    found.append((i, i + length, entry))
                    i += length
                    break
            else:
                i += 1
        return found

    def extract(self, text: str) -> list[Opinion]:
        """The opinions in ``text``, in text order."""
        if not text:
            return []
        matches = self._matches(text)
        clauses = _clauses(text)
        aspects = [(s, e, entry) for s, e, entry in matches if entry.kind == "aspect"]
        used: set[int] = set()
        out: list[Opinion] = []
        for start, end, entry in matches:
            if entry.kind != "opinion":
                continue
            c_start, c_end = _clause_of(clauses, start)
            category, polarity, term_start = entry.category, entry.polarity, start
            negation = NEGATION.search(text[c_start:start])
            if negation:
                polarity, term_start = _FLIP[polarity], c_start + negation.start()
            in_clause = [a for a in aspects if c_start <= a[0] < c_end]
            before = [a for a in in_clause if a[1] <= term_start]
            target = before[-1] if before else (in_clause[0] if in_clause else None)
            if target is not None:
                used.add(target[0])
                if self.settings.attach == "always" or category == "整体":
                    category = target[2].category
            out.append(Opinion(category, polarity, text[term_start:end], (term_start, end)))
        if self.settings.bare_aspects:
            for start, end, entry in aspects:
                c_start, c_end = _clause_of(clauses, start)
                if start in used or any(o.span[0] >= c_start and o.span[1] <= c_end for o in out):
                    continue
                polarity = entry.polarity
                if BARE_NEGATION.search(text[end:c_end]):
                    polarity = _FLIP[polarity]
                out.append(Opinion(entry.category, polarity, entry.term, (start, end)))
            out.sort(key=lambda o: o.span)
        return out


# --- The keyword baseline ---------------------------------------------------------------------------

#: Hand-written seed words per category (the baseline; not learned).
BASELINE_SEEDS: dict[str, tuple[str, ...]] = {
    "价格": ("价格", "便宜", "划算", "贵", "性价比", "实惠"),
    "物流": ("物流", "快递", "发货", "速度", "送货"),
    "包装": ("包装", "盒子", "瓶子"),
    "功效": ("效果", "补水", "保湿", "美白", "祛痘", "控油"),
    "气味": ("味道", "香", "气味"),
    "真伪": ("正品", "真假", "假货"),
    "服务": ("客服", "服务", "态度"),
    "使用体验": ("吸收", "油腻", "清爽", "滋润", "用起来"),
    "整体": ("不错", "喜欢", "满意", "好用", "很好"),
}
_NEGATIVE_WORDS = ("差", "慢", "贵", "假", "失望", "垃圾", "不好", "不行", "难闻", "破")
BASELINE_NEGATIVE: tuple[str, ...] = (*_NEGATIVE_WORDS, "一般", "过敏", "没用", "没效果")


class KeywordBaseline:
    """Seed words per category; negative if the clause holds a negative word, else positive (the majority)."""

    def extract(self, text: str) -> list[Opinion]:
        out: list[Opinion] = []
        for c_start, c_end in _clauses(text):
            clause = text[c_start:c_end]
            polarity = "negative" if any(w in clause for w in BASELINE_NEGATIVE) else "positive"
            for category, seeds in BASELINE_SEEDS.items():
                for seed in seeds:
                    at = clause.find(seed)
                    if at >= 0:
                        span = (c_start + at, c_start + at + len(seed))
                        out.append(Opinion(category, polarity, seed, span))
                        break
        return out


# --- Data, split, settings ------------------------------------------------------------------------


def _zhijiang_paths(settings: Settings | None) -> tuple[Path, Path]:
    return (
        data_file(ZHIJIANG, "TRAIN_Train_reviews.csv", settings),
        data_file(ZHIJIANG, "TRAIN_Train_labels.csv", settings),
    )


def _read_zhijiang(reviews_path: Path, labels_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    reviews = pd.read_csv(reviews_path, dtype={"Reviews": str})
    labels = pd.read_csv(labels_path, dtype=str)
    reviews = reviews.rename(columns={"Reviews": "text"}).dropna(subset=["text"])
    reviews["id"] = reviews["id"].astype(int)
    labels["id"] = labels["id"].astype(int)
    return reviews.reset_index(drop=True), labels[labels["id"].isin(reviews["id"])].reset_index(drop=True)


def load_zhijiang(settings: Settings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The zhijiang TRAIN reviews (id, text) and their label rows."""
    return _read_zhijiang(*_zhijiang_paths(settings))


def load_online_shopping(settings: Settings | None = None, cats: Iterable[str] | None = None) -> pd.DataFrame:
    """online_shopping_10_cats reviews (cat, label, review), optionally only of ``cats``."""
    df = pd.read_csv(
        data_file(ONLINE_SHOPPING, "online_shopping_10_cats.csv.gz", settings), encoding="utf-8-sig"
    )
    df = df.dropna(subset=["review"])
    if cats is not None:
        df = df[df["cat"].isin(list(cats))]
    return df.reset_index(drop=True)


def split_ids(
    ids: Iterable[int], share: float = HELDOUT_SHARE, seed: int = SPLIT_SEED
) -> tuple[list[int], list[int]]:
    """Sorted ids shuffled with ``seed``: (the first 1 - share, the last share), each sorted."""
    ordered = np.array(sorted(set(int(i) for i in ids)))
    shuffled = np.random.default_rng(seed).permutation(ordered)
    n_out = round(len(shuffled) * share)
    keep, out = shuffled[: len(shuffled) - n_out], shuffled[len(shuffled) - n_out :]
    return sorted(int(i) for i in keep), sorted(int(i) for i in out)


def train_heldout_split(settings: Settings | None = None) -> tuple[list[int], list[int]]:
    """The 80% train and 20% held-out ids of the zhijiang TRAIN reviews."""
    reviews, _ = load_zhijiang(settings)
    return split_ids(reviews["id"])


def _gold_pairs(labels: pd.DataFrame, ids: Iterable[int]) -> set[tuple[int, str, str]]:
    keep = set(ids)
    rows = labels[labels["id"].isin(keep)]
    return {
        (int(i), str(c), POLARITIES.get(str(p), "neutral"))
        for i, c, p in zip(rows["id"], rows["Categories"], rows["Polarities"], strict=True)
    }


def _predicted_pairs(extractor: Any, reviews: pd.DataFrame) -> set[tuple[int, str, str]]:
    return {
        (int(i), o.aspect, o.polarity)
        for i, text in zip(reviews["id"], reviews["text"], strict=True)
        for o in extractor.extract(str(text))
    }


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def score(
    predicted: set[tuple[int, str, str]], gold: set[tuple[int, str, str]], min_support: int = 20
) -> dict[str, Any]:
    """Micro P/R/F1 of (review id, category, polarity) pairs; per category if gold support ≥ min_support."""
    micro = _prf(len(predicted & gold), len(predicted), len(gold))
    support = Counter(c for _, c, _ in gold)
    per_aspect = {}
    for category, n in support.most_common():
        if n < min_support:
            continue
        pred_c = {x for x in predicted if x[1] == category}
        gold_c = {x for x in gold if x[1] == category}
        per_aspect[category] = {
            **_prf(len(pred_c & gold_c), len(pred_c), len(gold_c)),
            "support": n,
            "label": ASPECT_LABELS.get(category, category),
        }
    return {**micro, "predicted": len(predicted), "gold": len(gold), "per_aspect": per_aspect}


def choose_settings(
    reviews: pd.DataFrame, labels: pd.DataFrame, train_ids: Sequence[int]
) -> tuple[MinerSettings, dict[str, float]]:
    """The settings with the best micro F1 on a validation slice of ``train_ids`` (fit on the rest).

    A tie goes to the first in the grid (anchored one-character terms first: 服务差, 价格贵 still count).
    """
    fit_ids, val_ids = split_ids(train_ids, VALIDATION_SHARE, SPLIT_SEED + 1)
    val_reviews = reviews[reviews["id"].isin(val_ids)]
    gold = _gold_pairs(labels, val_ids)
    results: dict[str, float] = {}
    best: tuple[float, MinerSettings] | None = None
    votes = count_votes(labels[labels["id"].isin(fit_ids)])
    for min_count, attach, bare, single in product(
        (1, 2, 3), ("always", "overall"), (True, False), ("anchored", "none", "all")
    ):
        candidate = MinerSettings(min_count, attach, bare, single)
        miner = OpinionMiner(candidate)
        miner._build(votes, frozenset(fit_ids))
        f1 = score(_predicted_pairs(miner, val_reviews), gold)["f1"]
        results[f"min_count={min_count} attach={attach} bare={bare} single={single}"] = f1
        if best is None or f1 > best[0] + 1e-12:
            best = (f1, candidate)
    assert best is not None
    return best[1], results


@lru_cache(maxsize=2)
def _miner_at(reviews_path: Path, labels_path: Path) -> OpinionMiner:
    reviews, labels = _read_zhijiang(reviews_path, labels_path)
    train_ids, _ = split_ids(reviews["id"])
    started = time.perf_counter()
    chosen, _ = choose_settings(reviews, labels, train_ids)
    selection_seconds = time.perf_counter() - started
    miner = OpinionMiner(chosen).fit(reviews[reviews["id"].isin(train_ids)], labels)
    miner.selection_seconds = selection_seconds
    return miner


def default_miner(settings: Settings | None = None) -> OpinionMiner:
    """The miner fitted on the 80% train split (settings chosen on its validation slice); cached."""
    return _miner_at(*_zhijiang_paths(settings))


def evaluate(settings: Settings | None = None) -> dict[str, Any]:
    """Held-out (20%) micro and per-aspect P/R/F1 of the miner and of the keyword baseline, side by side."""
    reviews, labels = load_zhijiang(settings)
    train_ids, heldout_ids = split_ids(reviews["id"])
    miner = default_miner(settings)
    if miner.fitted_ids & set(heldout_ids):
        raise RuntimeError("the lexicon was fitted on held-out reviews")
    heldout = reviews[reviews["id"].isin(heldout_ids)]
    gold = _gold_pairs(labels, heldout_ids)
    method = score(_predicted_pairs(miner, heldout), gold)
    baseline = score(_predicted_pairs(KeywordBaseline(), heldout), gold)
    return {
        "method": {"name": "lexicon (longest match + negation + clause aspect)", **method},
        "baseline": {"name": "keyword seeds + polarity word list", **baseline},
        "train_reviews": len(train_ids),
        "heldout_reviews": len(heldout_ids),
        "lexicon_terms": len(miner.lexicon),
        "miner_settings": asdict(miner.settings),
        "fit_seconds": miner.fit_seconds,
        "selection_seconds": miner.selection_seconds,
        "seed": SPLIT_SEED,
    }


# --- Selling points and pain points -----------------------------------------------------------------


def aspect_label(aspect: str, lang: str = "en") -> str:
    """The name of a zhijiang category: ``en`` (price …) or ``zh`` (价格 …); an unknown one as given."""
    if lang == "zh":
        return aspect
    if lang != "en":
        raise ValueError(f"unknown language {lang!r}: use 'en' or 'zh'")
    return ASPECT_LABELS.get(aspect) or OTHER_LABELS.get(aspect, aspect)


def quote(text: str, span: tuple[int, int], limit: int = QUOTE_CHARS) -> str:
    """The clause of ``text`` that holds ``span``, cut to ``limit`` characters around the span."""
    clauses = _clauses(text)
    start, end = _clause_of(clauses, span[0])
    end = max(end, span[1])
    if end - start > limit:
        middle = (span[0] + span[1]) // 2
        start = max(start, min(middle - limit // 2, end - limit))
        end = start + limit
    return text[start:end]


def selling_points(
    texts: Iterable[str], miner: OpinionMiner, *, top: int = 5, quotes: int = 2
) -> dict[str, Any]:
    """The ``top`` aspects praised (selling points) and criticised (pain points), by reviews mentioning them.

    Each aspect has its count of reviews, share of all reviews, most frequent terms and up to ``quotes``
    short real quotes (the clause holding a term; clauses of ≥ 6 characters come first).
    """
    counts: dict[tuple[str, str], int] = Counter()
    terms: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    total = 0
    for text in texts:
        text = str(text)
        total += 1
        seen: set[tuple[str, str]] = set()
        for opinion in miner.extract(text):
            key = (opinion.aspect, opinion.polarity)
            terms[key][opinion.term] += 1
            if key not in seen:
                seen.add(key)
                counts[key] += 1
                found[key].append(quote(text, opinion.span).strip())

    def ranked(polarity: str) -> list[dict[str, Any]]:
        keys = sorted((k for k in counts if k[1] == polarity), key=lambda k: (-counts[k], k[0]))[:top]
        out = []
        for key in keys:
            picked: list[str] = []
            for candidate in sorted(
                found[key], key=lambda q: len(q) < 6
            ):  # stable: first seen within a group
                if candidate and candidate not in picked:
                    picked.append(candidate)
                if len(picked) == quotes:
                    break
            out.append(
                {
                    "aspect": key[0],
                    "label": aspect_label(key[0]),
                    "count": counts[key],
                    "share": counts[key] / total if total else 0.0,
                    "terms": [t for t, _ in terms[key].most_common(5)],
                    "quotes": picked,
                }
            )
        return out

    return {"selling_points": ranked("positive"), "pain_points": ranked("negative"), "reviews": total}
