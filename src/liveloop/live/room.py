"""A live room's state in sliding windows (10 s, 1 min, 5 min), in bounded memory.

Events are counted into one-second buckets (at most :data:`HORIZON` of them are kept), so a window is
the sum of its last buckets. Viewers, per-viewer engagement and question groups are capped too; what
does not fit is counted in ``drops``, never held.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liveloop.core.types import QUESTION_INTENTS
from liveloop.live.events import RoomEvent
from liveloop.live.lineup_qa import resolve
from liveloop.live.nlp import CommentScores

WINDOWS = {"10s": 10, "1min": 60, "5min": 300}
HORIZON = 300  # seconds of one-second buckets kept
MAX_VIEWERS = 200_000  # viewers tracked individually (for watch time and the lottery)
MAX_QUESTION_GROUPS = 200
MAX_PRODUCTS = 200  # products outside the lineup tracked per session (the rest are counted as drops)
RECENT_QUESTIONS = 50
MINUTES_KEPT = 720  # closed per-minute rows waiting to be written (the recorder drains them)
CURVE_KEPT = 1440  # per-minute points of the session kept for its summary (24 hours)
SIMILARITY = 0.5  # char-bigram Jaccard at which two questions are "the same question"


@dataclass
class Bucket:
    """Everything counted in one second of event time."""

    second: int
    counts: Counter[str] = field(default_factory=Counter)
    sentiment_sum: float = 0.0
    gift_value: float = 0.0
    gmv: float = 0.0
    product: dict[str, Counter[str]] = field(default_factory=dict)
    viewers: int | None = None


@dataclass
class Viewer:
    first_ts: float
    last_ts: float
    present: bool = True
    comments: int = 0
    engagement: int = 0  # likes, shares, follows, gifts, comments
    segment: str | None = None
    traits: tuple[str, ...] = ()  # extra talking-point segments from the profile (e.g. young_fashion)
    profiled: bool = False  # segment from the viewer's built profile (else from event props, if any)


def _bigrams(text: str) -> frozenset[str]:
    t = "".join(ch for ch in text.lower() if ch.isalnum())
    return frozenset(t[i : i + 2] for i in range(len(t) - 1)) or frozenset([t])


@dataclass
class QuestionGroup:
    """Similar questions counted together, so the host sees what many people ask."""

    text: str
    grams: frozenset[str]
    intent: str
    product_id: str | None
    first_ts: float
    last_ts: float
    count: int = 0
    askers: set[str] = field(default_factory=set)
    answered: bool = False
    answer: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "product_id": self.product_id,
            "count": self.count,
            "askers": len(self.askers),
            "answered": self.answered,
            "answer": self.answer,
            "last_ts": self.last_ts,
        }


class RoomState:
    """Counters of one session, updated by batches of events and their comment scores."""

    def __init__(self, session_id: str, lineup: list[dict[str, Any]] | None = None):
        self.session_id = session_id
        self.lineup = {str(p["product_id"]): dict(p) for p in (lineup or [])}
        self.buckets: deque[Bucket] = deque(maxlen=HORIZON)
        self.viewers: OrderedDict[str, Viewer] = OrderedDict()
        self.online: int | None = None  # the platform's own viewer count, when it reports one
        self.questions: OrderedDict[str, QuestionGroup] = OrderedDict()
        self.recent_questions: deque[dict[str, Any]] = deque(maxlen=RECENT_QUESTIONS)
        self.sold: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self.now = 0.0
        self.sentiment_series: deque[tuple[int, float, int]] = deque(maxlen=HORIZON // 10 * 6)
        self.on_stage: str | None = None  # the product the host is presenting (``stage`` events)
        self.products: dict[str, Counter[str]] = {}  # per product totals, split by "while on stage"
        self.minutes: deque[dict[str, Any]] = deque(maxlen=MINUTES_KEPT)  # closed minutes, oldest first
        self.curve: deque[dict[str, Any]] = deque(maxlen=CURVE_KEPT)  # every closed minute, for the summary
        self._minute: int | None = None  # the minute (epoch // 60) now being counted
        self.first_ts: float | None = None

    # -- updating --------------------------------------------------------------------------------
    def _bucket(self, ts: float) -> Bucket:
        second = int(ts)
        if self.buckets and second < self.buckets[-1].second:
            # late event: count it in the newest bucket still kept, else drop it
            if second <= self.buckets[-1].second - HORIZON:
                self.drops["late_event"] += 1
                return Bucket(second)
            return self.buckets[-1]
        if not self.buckets or second > self.buckets[-1].second:
            self._close_series()
            if self._minute is not None and second // 60 > self._minute:
                self._close_minute()
            self._minute = second // 60
            self.buckets.append(Bucket(second))
        return self.buckets[-1]

    def _close_minute(self) -> None:
        """Sum the buckets of the minute being counted into one row of :attr:`minutes`."""
        minute = self._minute
        if minute is None:
            return
        win = [b for b in self.buckets if b.second // 60 == minute]
        c: Counter[str] = Counter()
        for b in win:
            c.update(b.counts)
            for pc in b.product.values():
                c.update({k: v for k, v in pc.items() if k in ("click", "cart", "purchase")})
        n = c["comment"]
        reported = [b.viewers for b in win if b.viewers is not None]
        if len(self.minutes) == self.minutes.maxlen:
            self.drops["minute_rows"] += 1
        row = {
            "minute": minute * 60,
            "viewers": reported[-1] if reported else self.viewer_count(),
            "comments": n,
            "positive": c["sent_positive"],
            "negative": c["sent_negative"],
            "neutral": c["sent_neutral"],
            "sentiment_index": round(100 * sum(b.sentiment_sum for b in win) / n, 1) if n else None,
            "questions": sum(c[f"intent_{i}"] for i in QUESTION_INTENTS),
            "likes": c["like"],
            "enters": c["enter"],
            "leaves": c["leave"],
            "shares": c["share"],
            "follows": c["follow"],
            "gifts": c["gift"],
            "gift_value": round(sum(b.gift_value for b in win), 2),
            "clicks": c["click"],
            "carts": c["cart"],
            "purchases": c["purchase"],
            "gmv": round(sum(b.gmv for b in win), 2),
            "on_stage": self.on_stage,
        }
        self.minutes.append(row)
        self.curve.append(row)

    def finish(self) -> None:
        """Close the minute being counted (at the end of the session)."""
        self._close_minute()
        self._minute = None

    def _close_series(self) -> None:
        """Append the last finished 10-second point of the sentiment line."""
        if not self.buckets:
            return
        last = self.buckets[-1].second
        point = last - last % 10
        if self.sentiment_series and self.sentiment_series[-1][0] >= point:
            return
        idx, n = self.index(10)
        self.sentiment_series.append((point, idx, n))

    def _viewer(self, user: str, ts: float) -> Viewer | None:
        if not user:
            return None
        v = self.viewers.get(user)
        if v is None:
            if len(self.viewers) >= MAX_VIEWERS:
                self.drops["viewer_cap"] += 1
                return None
            v = self.viewers[user] = Viewer(ts, ts)
        v.last_ts = max(v.last_ts, ts)
        return v

    def apply(self, events: list[RoomEvent], scores: CommentScores | None) -> None:
        """Count a batch; ``scores`` holds the NLP results of the batch's comments, in order."""
        k = 0
        for ev in events:
            self.now = max(self.now, ev.ts)
            if self.first_ts is None or ev.ts < self.first_ts:
                self.first_ts = ev.ts
            b = self._bucket(ev.ts)
            b.counts[ev.type] += 1
            self.totals[ev.type] += 1
            v = self._viewer(ev.user_id, ev.ts)
            if v is not None and not v.profiled and ev.props.get("segment"):
                v.segment = str(ev.props["segment"])[:40]
            if ev.type == "comment":
                self._comment(ev, b, v, scores, k)
                k += 1
            elif ev.type == "enter" and v is not None:
                v.present = True
            elif ev.type == "leave" and v is not None:
                v.present = False
            elif ev.type == "viewers":
                self.online = b.viewers = ev.count
            elif ev.type == "gift":
                b.gift_value += ev.amount
                self.totals["gift_value"] += round(ev.amount * 100)
            elif ev.type == "stage" or (ev.type == "click" and ev.props.get("on_stage")):
                self.on_stage = ev.product_id
            if ev.type in ("like", "share", "follow", "gift") and v is not None:
                v.engagement += 1
            if ev.type in ("click", "cart", "purchase") and ev.product_id:
                self._product(b, ev.product_id)[ev.type] += 1
                if ev.type == "purchase":
                    units = max(ev.quantity, 1)
                    self.sold[ev.product_id] += units
                    b.gmv += ev.amount
                    self.totals["gmv_cents"] += round(ev.amount * 100)
                self._product_totals(ev)

    def _product_totals(self, ev: RoomEvent) -> None:
        """Session totals per product, with the part that happened while it was on stage."""
        pid = str(ev.product_id)
        totals = self.products.get(pid)
        if totals is None:
            if pid not in self.lineup and len(self.products) - len(self.lineup) >= MAX_PRODUCTS:
                self.drops["product_cap"] += 1
                return
            totals = self.products[pid] = Counter()
        staged = pid == self.on_stage
        add = {ev.type: 1}
        if ev.type == "purchase":
            add.update(units=max(ev.quantity, 1), gmv_cents=round(ev.amount * 100))
        for key, n in add.items():
            totals[key] += n
            if staged:
                totals[f"{key}_on_stage"] += n

    def product_totals(self) -> list[dict[str, Any]]:
        """Per product (lineup first, in order): clicks, carts, purchases, units and GMV, all and on stage."""
        order = [*self.lineup, *(p for p in self.products if p not in self.lineup)]
        out = []
        for pid in order:
            c = self.products.get(pid, Counter())
            row: dict[str, Any] = {"product_id": pid, "name": self.lineup.get(pid, {}).get("name") or pid}
            for key in ("click", "cart", "purchase", "units"):
                row[f"{key}s" if key != "units" else key] = c[key]
                row[f"{key}s_on_stage" if key != "units" else "units_on_stage"] = c[f"{key}_on_stage"]
            row["gmv"] = c["gmv_cents"] / 100
            row["gmv_on_stage"] = c["gmv_cents_on_stage"] / 100
            out.append(row)
        return out

    def _product(self, b: Bucket, pid: str) -> Counter[str]:
        if pid not in b.product:
            if pid not in self.lineup and len(b.product) >= 200:
                self.drops["product_cap"] += 1
                return Counter()
            b.product[pid] = Counter()
        return b.product[pid]

    def _comment(
        self, ev: RoomEvent, b: Bucket, v: Viewer | None, scores: CommentScores | None, k: int
    ) -> None:
        if v is not None:
            v.comments += 1
            v.engagement += 1
        if scores is None:
            return
        sentiment = str(scores.sentiment[k])
        b.counts[f"sent_{sentiment}"] += 1
        b.sentiment_sum += float(scores.sentiment_score[k])
        intent = str(scores.intent[k])
        b.counts[f"intent_{intent}"] += 1
        pid = scores.product_mention[k] or ev.product_id
        if pid:
            self._product(b, pid)["mention"] += 1
        if intent in QUESTION_INTENTS:
            self._question(scores.text[k], intent, pid, ev)

    def _question(self, text: str, intent: str, pid: str | None, ev: RoomEvent) -> None:
        """Count a question into the group of the same question about the same product (a question about
        a product fact that names none is about the product on stage). Groups are matched on the cleaned
        text and show the first asker's words as written (emoji kept)."""
        if sum(ch.isalnum() for ch in text) < 2:  # "？？？" is a reaction, not a question to answer
            return
        if pid is None and self.on_stage is not None and resolve(text, None, self.on_stage).kind == "product":
            pid = self.on_stage
        grams = _bigrams(text)
        shown = " ".join(ev.text.split())[:140] or text
        best, best_sim = None, 0.0
        for key, group in self.questions.items():
            if group.product_id != pid:
                continue
            inter = len(grams & group.grams)
            sim = inter / max(len(grams | group.grams), 1)
            if sim > best_sim:
                best, best_sim = key, sim
        if best is None or best_sim < SIMILARITY:
            if len(self.questions) >= MAX_QUESTION_GROUPS:
                self.questions.popitem(last=False)
                self.drops["question_group_evicted"] += 1
            best = f"q{self.totals['question_groups']}"
            self.totals["question_groups"] += 1
            self.questions[best] = QuestionGroup(shown, grams, intent, pid, ev.ts, ev.ts)
        group = self.questions[best]
        self.questions.move_to_end(best)
        group.count += 1
        group.last_ts = ev.ts
        if len(group.askers) < 1000 and ev.user_id:
            group.askers.add(ev.user_id)
        self.recent_questions.append(
            {
                "text": shown,
                "intent": intent,
                "product_id": pid,
                "ts": ev.ts,
                "group": best,
            }
        )

    # -- reading ---------------------------------------------------------------------------------
    def window(self, seconds: int) -> list[Bucket]:
        if not self.buckets:
            return []
        start = self.buckets[-1].second - seconds + 1
        return [b for b in self.buckets if b.second >= start]

    def index(self, seconds: int) -> tuple[float, int]:
        """Sentiment index in [-100, 100] (mean comment polarity) and the comments it rests on."""
        win = self.window(seconds)
        n = sum(b.counts["comment"] for b in win)
        total = sum(b.sentiment_sum for b in win)
        return (round(100 * total / n, 1) if n else 0.0), n

    def viewer_count(self) -> int:
        if self.online is not None:
            return self.online
        return sum(1 for v in self.viewers.values() if v.present)

    def product_heat(self, seconds: int = 300) -> dict[str, dict[str, float]]:
        heat: dict[str, Counter[str]] = {pid: Counter() for pid in self.lineup}
        for b in self.window(seconds):
            for pid, c in b.product.items():
                heat.setdefault(pid, Counter()).update(c)
        out = {}
        for pid, c in heat.items():
            clicks = c["click"]
            out[pid] = {
                "mentions": c["mention"],
                "clicks": clicks,
                "carts": c["cart"],
                "purchases": c["purchase"],
                "conversion": round(c["purchase"] / clicks, 4) if clicks else 0.0,
            }
        return out

    def windows(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, seconds in WINDOWS.items():
            win = self.window(seconds)
            c: Counter[str] = Counter()
            for b in win:
                c.update(b.counts)
            span = max(min(seconds, len(win) and (win[-1].second - win[0].second + 1)), 1)
            idx, _ = self.index(seconds)
            out[name] = {
                "comments": c["comment"],
                "comments_per_min": round(c["comment"] * 60 / span, 1),
                "sentiment_index": idx,
                "positive": c["sent_positive"],
                "negative": c["sent_negative"],
                "neutral": c["sent_neutral"],
                "questions": sum(c[f"intent_{i}"] for i in QUESTION_INTENTS),
                "likes": c["like"],
                "enters": c["enter"],
                "leaves": c["leave"],
                "gifts": c["gift"],
                "gift_value": round(sum(b.gift_value for b in win), 2),
                "intents": {k[7:]: v for k, v in c.items() if k.startswith("intent_")},
            }
        return out

    def viewers_at(self, seconds_ago: int) -> int | None:
        """The platform viewer count about ``seconds_ago`` before the newest bucket, if reported."""
        if not self.buckets:
            return None
        target = self.buckets[-1].second - seconds_ago
        value = None
        for b in self.buckets:
            if b.second > target:
                break
            if b.viewers is not None:
                value = b.viewers
        return value

    def top_questions(self, n: int = 10) -> list[dict[str, Any]]:
        groups = sorted(
            self.questions.values(), key=lambda g: (len(g.askers), g.count, g.last_ts), reverse=True
        )
        return [g.to_dict() for g in groups[:n]]

    def apply_profiles(self, profiles: dict[str, tuple[str, tuple[str, ...]]]) -> int:
        """Set viewers' segments from their built profiles (``user -> (segment, traits)``); how many set."""
        done = 0
        for user, (segment, traits) in profiles.items():
            v = self.viewers.get(user)
            if v is not None:
                v.segment, v.traits, v.profiled = segment, traits, True
                done += 1
        return done

    def segments(self, profiled_only: bool = False) -> Counter[str]:
        """Present viewers per segment and trait (a viewer may count in one segment and its traits)."""
        out: Counter[str] = Counter()
        for v in self.viewers.values():
            if v.present and v.segment and (v.profiled or not profiled_only):
                out[v.segment] += 1
                out.update(v.traits)
        return out

    def present_profiled(self) -> int:
        return sum(1 for v in self.viewers.values() if v.present and v.profiled)

    def engagement_table(self) -> list[dict[str, Any]]:
        """Per viewer: watch minutes (first to last seen) and engagement; input to the lottery."""
        return [
            {
                "user_id": u,
                "watch_minutes": (v.last_ts - v.first_ts) / 60,
                "engagement": v.engagement,
                "comments": v.comments,
                "segment": v.segment,
            }
            for u, v in self.viewers.items()
        ]

    def sentiment_line(self) -> list[dict[str, float]]:
        return [{"ts": float(t), "index": i, "comments": n} for t, i, n in self.sentiment_series]

    def mean_sentiment(self) -> float:
        return float(np.mean([p[1] for p in self.sentiment_series])) if self.sentiment_series else 0.0
