"""Personalised, fair and auditable live-room lottery.

Eligibility: watched at least N minutes, engaged at least M times, not a winner of an earlier draw.
The draw is a seeded permutation of the eligible users sorted by id, so anyone holding the audit
record (seed, rules, the digest of the eligible list) can reproduce it. Each user wins at most once.
The prize *kind* follows the viewer's interest segment; its value is the same for everyone
(DESIGN §8 rule 2: spending level and willingness to pay never set a coupon or prize value).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from liveloop.core.errors import ValidationFailed
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse

AUDIT_ACTION = "live.lottery.draw"


@dataclass
class LotteryRules:
    winners: int = 3
    min_watch_minutes: float = 5.0
    min_engagement: int = 1
    prizes: dict[str, str] = field(default_factory=dict)  # segment -> prize
    default_prize: str = "直播间定制礼品 (room gift)"

    def validate(self) -> None:
        if not 1 <= self.winners <= 1000:
            raise ValidationFailed("winners must be between 1 and 1000", field="winners")
        if self.min_watch_minutes < 0 or self.min_engagement < 0:
            raise ValidationFailed("eligibility thresholds must be >= 0", field="min_watch_minutes")


@dataclass
class DrawResult:
    session_id: str
    seed: int
    rules: dict[str, Any]
    candidates: int
    eligible: int
    excluded: dict[str, int]
    digest: str
    winners: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def eligible_users(
    candidates: list[dict[str, Any]], rules: LotteryRules, past_winners: set[str]
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Eligible candidates (sorted by user id, one row per user) and why the others were excluded."""
    excluded: Counter[str] = Counter()
    by_user: dict[str, dict[str, Any]] = {}
    for c in candidates:
        uid = str(c.get("user_id") or "")
        if not uid:
            excluded["no_user_id"] += 1
        elif uid in by_user:
            excluded["duplicate"] += 1
        elif uid in past_winners:
            excluded["repeat_winner"] += 1
        elif float(c.get("watch_minutes") or 0) < rules.min_watch_minutes:
            excluded["watched_too_little"] += 1
        elif int(c.get("engagement") or 0) < rules.min_engagement:
            excluded["not_engaged"] += 1
        else:
            by_user[uid] = c
    return [by_user[u] for u in sorted(by_user)], excluded


def digest(users: list[str]) -> str:
    return hashlib.sha256("\n".join(users).encode()).hexdigest()


def draw(
    session_id: str,
    candidates: list[dict[str, Any]],
    rules: LotteryRules,
    seed: int,
    past_winners: set[str] | None = None,
) -> DrawResult:
    """A reproducible draw: the same candidates, rules and seed always give the same winners."""
    rules.validate()
    pool, excluded = eligible_users(candidates, rules, past_winners or set())
    order = np.random.default_rng(seed).permutation(len(pool))[: rules.winners]
    winners = []
    for rank, i in enumerate(order, 1):
        c = pool[int(i)]
        segment = c.get("segment")
        prize = rules.prizes.get(str(segment), rules.default_prize) if segment else rules.default_prize
        winners.append(
            {
                "rank": rank,
                "user_id": c["user_id"],
                "segment": segment,
                "prize": prize,
                "reason": f"eligible (watched {float(c.get('watch_minutes') or 0):.1f} min, "
                f"engagement {int(c.get('engagement') or 0)}); drawn with seed {seed}",
            }
        )
    return DrawResult(
        session_id,
        seed,
        asdict(rules),
        len(candidates),
        len(pool),
        dict(excluded),
        digest([c["user_id"] for c in pool]),
        winners,
    )


def past_winners(wh: Warehouse) -> set[str]:
    """Every user who won an earlier recorded draw."""
    out: set[str] = set()
    for data in audit.details_of(wh, AUDIT_ACTION):
        out.update(w["user_id"] for w in data.get("winners", []))
    return out


def draw_row(result: DrawResult, actor: str) -> dict[str, Any]:
    """The draw as a ``live_draws`` row (kept with the session's other room data)."""
    return {
        "session_id": result.session_id,
        "seed": result.seed,
        "candidates": result.candidates,
        "eligible": result.eligible,
        "digest": result.digest,
        "rules": json.dumps(result.rules, ensure_ascii=False),
        "winners": json.dumps(result.winners, ensure_ascii=False),
        "actor": actor,
    }


def record(wh: Warehouse, result: DrawResult, actor: str = "live-copilot") -> None:
    """Write the draw to the audit log (seed, rules, eligible digest, winners and their reasons)."""
    audit.record(
        wh,
        AuditEntry(
            actor,
            AUDIT_ACTION,
            result.session_id,
            f"{len(result.winners)} winners",
            f"seeded draw among {result.eligible} eligible of {result.candidates}",
            result.to_dict(),
        ),
    )


def _explain_draw(user_id: str, _decision: str | None, _reason: str | None, details: Any, lang: str) -> str:
    """A draw as one candidate reads it: drawn (with the prize and why) or not."""
    data = details or {}
    session = data.get("session_id", "")
    won = next((w for w in data.get("winners", []) if w.get("user_id") == user_id), None)
    zh = lang == "zh"
    head = f"直播间 {session} 抽奖：" if zh else f"lottery in live room {session}: "
    if won is None:
        return head + ("未中奖" if zh else "not drawn")
    prize, rank, why = won.get("prize"), won.get("rank"), won.get("reason")
    return head + (f"中奖（{prize}），第 {rank} 位；{why}" if zh else f"drawn ({prize}), rank {rank}; {why}")


audit.register_explainer(AUDIT_ACTION, _explain_draw, names_users_in_details=True)
