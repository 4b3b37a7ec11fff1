"""Smart Q&A: answer viewer questions from the product knowledge base, or hand them to a human.

The knowledge base holds product attributes, FAQ entries and shop policies. A question is matched
against each entry's question by BM25 (jieba tokens) and character-bigram cosine and, when the
optional embedding model is installed, by e5 embedding cosine; :func:`confidence` blends them. Below
the threshold, or when the advertising-law check does not pass, nothing is sent: the question goes to
the human queue with the reason. Nothing is ever sent silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liveloop.content.claims import ClaimFacts
from liveloop.content.compliance import ComplianceChecker
from liveloop.live.embeddings import QUERY, Embedder
from liveloop.live.lineup_qa import resolve
from liveloop.live.mentions import MentionMatcher
from liveloop.live.retrieval import BM25Matrix, CharCosine, content_tokens
from liveloop.live.text import clean

THRESHOLD = 0.4
HUMAN_QUEUE = 500
#: e5 cosine mapped linearly from [EMB_LO, EMB_HI] to [0, 1], and its weight in the confidence. Chosen on
#: ATEC training pairs (F1 at THRESHOLD); e5 cosines are high for any two questions of one domain
#: (ATEC: median 0.95 for different questions, 0.97 for the same), so only a close match counts.
EMB_LO, EMB_HI, EMB_WEIGHT = 0.95, 0.97, 0.7


def lexical_confidence(bm25: np.ndarray, char_cos: np.ndarray) -> np.ndarray:
    """Character cosine of the content words, raised by relative BM25; zero without a shared word."""
    top = bm25.max() if bm25.size else 0.0
    bm_norm = bm25 / top if top > 0 else bm25
    return np.where(bm25 > 0, 0.7 * char_cos + 0.3 * bm_norm * char_cos, 0.0)


def confidence(lexical: np.ndarray, embedding_cos: np.ndarray | None) -> np.ndarray:
    """How sure the answerer is that an entry answers the question: the lexical score, raised by a close
    e5 match when embeddings are available (never lowered: the cosine scale depends on the domain)."""
    if embedding_cos is None:
        return lexical
    semantic = np.clip((embedding_cos - EMB_LO) / (EMB_HI - EMB_LO), 0.0, 1.0)
    return np.maximum(lexical, (1 - EMB_WEIGHT) * lexical + EMB_WEIGHT * semantic)


def ranking(lexical: np.ndarray, embedding_cos: np.ndarray | None) -> np.ndarray:
    """Which entry fits best: the lexical score plus the e5 cosine relative to the other entries (so a
    paraphrase sharing no word can still win); the winner's :func:`confidence` decides if it is sent."""
    if embedding_cos is None or embedding_cos.size < 2:
        return lexical
    lo, span = embedding_cos.min(), np.ptp(embedding_cos)
    relative = (embedding_cos - lo) / span if span > 0 else np.zeros_like(embedding_cos)
    return 0.5 * lexical + 0.5 * relative


#: Attribute keys and the questions they answer (Chinese and English phrasings).
ATTRIBUTE_QUESTIONS: dict[str, str] = {
    "price": "多少钱 价格 how much price",
    "material": "什么材质 面料 成分 material fabric",
    "size": "什么尺码 尺寸 多大 size fit",
    "color": "什么颜色 有别的颜色吗 color colour",
    "shelf_life": "保质期多久 shelf life expiry",
    "origin": "产地 哪里产的 where is it made",
    "skin": "敏感肌能用吗 什么肤质 sensitive skin",
    "weight": "多重 净含量 weight volume",
}


#: How an answer names each product fact (Chinese first; the lineup's own values follow).
FACT_LABELS: dict[str, str] = {
    "size": "尺码/尺寸",
    "color": "颜色",
    "material": "材质",
    "origin": "产地",
    "weight": "规格",
    "skin": "适用肤质",
    "shelf_life": "保质期",
    "warranty": "保修",
}
#: Confidence of an answer read straight from the lineup or a keyed policy.
DIRECT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Entry:
    """One knowledge-base entry: a question it answers and the answer."""

    entry_id: str
    kind: str  # attribute | faq | policy
    question: str
    answer: str
    product_id: str | None = None


@dataclass
class Answer:
    """What the answerer decided for one question."""

    question: str
    status: str  # answered | human
    confidence: float
    answer: str | None = None
    entry_id: str | None = None
    reason: str = ""
    compliance: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "confidence": round(self.confidence, 3),
            "answer": self.answer,
            "entry_id": self.entry_id,
            "reason": self.reason,
            "compliance": self.compliance,
        }


def coupon_text(coupons: list[dict[str, Any]]) -> str:
    """The session's coupons for a product as published: name, value and threshold (至多三张)."""
    parts = []
    for c in coupons[:3]:
        if c.get("amount"):
            value = f"立减¥{float(c['amount']):g}"
        elif c.get("percent_off"):
            value = f"{(100 - float(c['percent_off'])) / 10:g}折"
        else:
            value = ""
        threshold = f"满¥{float(c['min_spend']):g}可用" if c.get("min_spend") else ""
        parts.append(f"可领「{c['name']}」" + "".join(f"（{x}）" for x in (value, threshold) if x))
    return "；".join(parts)


def entries_from_products(products: Iterable[dict[str, Any]]) -> list[Entry]:
    """Attribute entries from product dicts (``product_id``, ``name``, ``price``, ``attributes``)."""
    out = []
    for p in products:
        pid, name = str(p["product_id"]), str(p.get("name") or p["product_id"])
        attrs = dict(p.get("attributes") or {})
        if p.get("price") is not None:
            attrs.setdefault("price", f"¥{float(p['price']):.2f}")
        for key, value in attrs.items():
            if value in (None, ""):
                continue
            question = f"{name} {ATTRIBUTE_QUESTIONS.get(key, key)}"
            out.append(Entry(f"{pid}:{key}", "attribute", question, f"{name}：{key} {value}", pid))
    return out


class Answerer:
    """Lineup facts and keyed policies first (:mod:`liveloop.live.lineup_qa`), then BM25 + character
    cosine (+ embeddings) over the knowledge base; a threshold and a human queue."""

    def __init__(
        self,
        entries: Sequence[Entry],
        checker: ComplianceChecker | None = None,
        threshold: float = THRESHOLD,
        embedder: Embedder | None = None,
        products: Sequence[dict[str, Any]] = (),
        policies: dict[str, str] | None = None,
    ):
        self.entries = list(entries)
        self.checker, self.threshold, self.embedder = checker, threshold, embedder
        self.products = {str(p["product_id"]): p for p in products}
        self.matcher = MentionMatcher.from_lineup(list(products)) if products else None
        self.policies = dict(policies or {})
        self.human_queue: deque[dict[str, Any]] = deque(maxlen=HUMAN_QUEUE)
        self.dropped = 0
        texts = [e.question for e in self.entries] or [""]
        self.bm25 = BM25Matrix(content_tokens).fit(texts)
        self.doc_weights = self.bm25.documents(texts)
        self.chars = CharCosine().fit([" ".join(content_tokens(t)) for t in texts])
        self.char_matrix = self.chars.transform([" ".join(content_tokens(t)) for t in texts])
        self.entry_vectors = embedder.embed(texts, QUERY) if embedder is not None and self.entries else None

    def scores(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """(ranking, confidence) of each entry for ``question`` (see :func:`ranking`, :func:`confidence`)."""
        bm = np.asarray((self.doc_weights @ self.bm25.queries([question]).T).todense()).ravel()
        content = " ".join(content_tokens(question))
        cos = np.asarray((self.char_matrix @ self.chars.transform([content]).T).todense()).ravel()
        emb = None
        if self.embedder is not None and self.entry_vectors is not None:
            emb = self.entry_vectors @ self.embedder.embed([question], QUERY)[0]
        lexical = lexical_confidence(bm, cos)
        return ranking(lexical, emb), confidence(lexical, emb)

    def answer(
        self,
        question: object,
        product_id: str | None = None,
        *,
        on_stage: str | None = None,
        stock: dict[str, int] | None = None,
    ) -> Answer:
        """Answer ``question`` about ``product_id`` (named by the viewer), else the ``on_stage`` product;
        ``stock`` holds the units left now (else the lineup's stock is used)."""
        text = clean(question)
        if not text:
            return self._human(Answer(text, "human", 0.0, reason="empty question"))
        direct = self._direct(text, product_id, on_stage, stock)
        if direct is not None:
            return direct
        if not self.entries:
            return self._human(Answer(text, "human", 0.0, reason="empty knowledge base"))
        rank, conf = self.scores(text)
        if product_id is not None:  # entries of other products cannot answer a question about this one
            other = np.array([e.product_id not in (None, product_id) for e in self.entries])
            rank, conf = np.where(other, rank * 0.5, rank), np.where(other, conf * 0.5, conf)
        best = int(np.argmax(rank))
        entry, confidence = self.entries[best], float(min(1.0, conf[best]))
        if confidence < self.threshold:
            return self._human(
                Answer(
                    text,
                    "human",
                    confidence,
                    entry_id=entry.entry_id,
                    reason=f"confidence {confidence:.2f} below threshold {self.threshold:.2f}",
                )
            )
        result = self.checker.check(entry.answer) if self.checker else None
        if result is not None and not result.allowed:
            return self._human(
                Answer(
                    text,
                    "human",
                    confidence,
                    entry_id=entry.entry_id,
                    reason=f"answer held: {result.reason}",
                    compliance=result.to_dict(),
                )
            )
        return Answer(
            text,
            "answered",
            confidence,
            entry.answer,
            entry.entry_id,
            reason=f"matched {entry.kind} entry「{entry.question[:40]}」",
            compliance=result.to_dict() if result else None,
        )

    def _direct(
        self, text: str, product_id: str | None, on_stage: str | None, stock: dict[str, int] | None
    ) -> Answer | None:
        """An answer read from the lineup or a keyed policy, a hand-off when the question asks a product
        fact the data cannot answer, or None (the FAQ matcher decides)."""
        found = resolve(text, self.matcher, on_stage)
        pid = product_id if product_id in self.products else found.product_id
        held = self.products.get(pid or "") or {}
        if found.slot == "coupon" and held.get("coupons"):
            name = str(held.get("name") or pid)
            offered = f"{name}：{coupon_text(held['coupons'])}"
            return self._send(text, offered, f"{pid}:coupon", f"session coupons of {name}", held)
        if found.kind == "policy" and found.slot in self.policies:
            return self._send(
                text, self.policies[found.slot], f"policy:{found.slot}", f"shop policy ({found.slot})"
            )
        if found.kind != "product" or not self.products:
            return None
        product = self.products.get(pid or "")
        if product is None:
            return self._human(
                Answer(
                    text,
                    "human",
                    0.0,
                    reason=f"asks {found.slot} but names no lineup product and none is on stage",
                )
            )
        name = str(product.get("name") or pid)
        slot = str(found.slot)
        value: Any
        if slot == "price":
            value = product.get("price")
            reply = f"{name}：直播间价 ¥{float(value):.2f}" if value is not None else None
            if reply is not None and product.get("coupons"):
                reply += f"，{coupon_text(product['coupons'])}"
        elif slot == "stock":
            value = (stock or {}).get(str(pid), product.get("stock"))
            reply = (
                None
                if value is None
                else (f"{name}：已售罄" if int(value) <= 0 else f"{name}：还有 {int(value)} 件")
            )
        else:
            value = (product.get("attributes") or {}).get(slot)
            reply = f"{name}{FACT_LABELS.get(slot, slot)}：{value}" if value not in (None, "") else None
        if reply is None:
            return self._human(
                Answer(text, "human", 0.0, entry_id=f"{pid}:{slot}", reason=f"{name} lists no {slot}")
            )
        return self._send(text, reply, f"{pid}:{slot}", f"lineup fact ({slot} of {name})", product)

    def _send(
        self, text: str, reply: str, entry_id: str, source: str, product: dict[str, Any] | None = None
    ) -> Answer:
        """A direct answer, held for a human when the advertising-law check does not pass (the product's
        published coupons count as disclosed offers)."""
        offers = tuple(str(c["name"]) for c in (product or {}).get("coupons") or ())
        facts = ClaimFacts(offers=offers) if offers else None
        result = self.checker.check(reply, facts) if self.checker else None
        if result is not None and not result.allowed:
            return self._human(
                Answer(
                    text,
                    "human",
                    DIRECT_CONFIDENCE,
                    entry_id=entry_id,
                    reason=f"answer held: {result.reason}",
                    compliance=result.to_dict(),
                )
            )
        return Answer(
            text,
            "answered",
            DIRECT_CONFIDENCE,
            reply,
            entry_id,
            reason=f"answered from the {source}",
            compliance=result.to_dict() if result else None,
        )

    def _human(self, answer: Answer) -> Answer:
        if len(self.human_queue) == self.human_queue.maxlen:
            self.dropped += 1
        self.human_queue.append(answer.to_dict())
        return answer


@dataclass
class KnowledgeBase:
    """Products, FAQ entries and shop policies of a session; builds its :class:`Answerer`."""

    products: list[dict[str, Any]] = field(default_factory=list)
    faqs: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)

    def entries(self) -> list[Entry]:
        out = entries_from_products(self.products)
        for i, f in enumerate(self.faqs):
            out.append(Entry(f"faq:{i}", "faq", str(f["question"]), str(f["answer"]), f.get("product_id")))
        for i, p in enumerate(self.policies):
            out.append(Entry(f"policy:{p.get('key') or i}", "policy", str(p["question"]), str(p["answer"])))
        return out

    def keyed_policies(self) -> dict[str, str]:
        """Policies with a ``key`` (shipping, free_shipping, returns, authentic, coupon): answered as is."""
        return {str(p["key"]): str(p["answer"]) for p in self.policies if p.get("key")}

    def answerer(
        self,
        checker: ComplianceChecker | None = None,
        threshold: float = THRESHOLD,
        embedder: Embedder | None = None,
    ) -> Answerer:
        return Answerer(
            self.entries(),
            checker,
            threshold,
            embedder,
            products=self.products,
            policies=self.keyed_policies(),
        )


#: Shop policies every session starts with (editable per session).
DEFAULT_POLICIES = [
    {
        "key": "shipping",
        "question": "什么时候发货 几天到 发什么快递 when will it ship",
        "answer": "付款后48小时内发货，默认中通/圆通快递，一般3-5天送达。Ships within 48 h.",
    },
    {
        "key": "free_shipping",
        "question": "包邮吗 运费多少 is shipping free",
        "answer": "全场包邮（偏远地区除外）。Free shipping except remote areas.",
    },
    {
        "key": "returns",
        "question": "可以退货吗 退换货 七天无理由 return refund",
        "answer": "支持七天无理由退换货，质量问题运费由店铺承担。7-day returns.",
    },
    {
        "key": "authentic",
        "question": "是正品吗 真假 authentic genuine",
        "answer": "店铺商品均为品牌授权正品，可查验防伪码。Authorised genuine goods.",
    },
    {
        "key": "coupon",
        "question": "有优惠券吗 满减 怎么领券 coupon discount",
        "answer": "直播间领券满199减20，规则见商品页公示。Coupon rules are on the product page.",
    },
]
