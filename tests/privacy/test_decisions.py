"""Every decision about a person, explained in their language: a draw, a tag removal, a PII reveal."""

from __future__ import annotations

import re

import liveloop.live
import liveloop.profiles  # noqa: F401  (their explainers register on import)
from liveloop.live.lottery import LotteryRules, draw, record
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry, decisions
from liveloop.warehouse import Warehouse

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_draw_is_explained_to_winners_and_to_those_not_drawn(wh: Warehouse) -> None:
    candidates = [{"user_id": f"u{i}", "watch_minutes": 10 + i, "engagement": i} for i in range(6)]
    result = draw("s1", candidates, LotteryRules(winners=2, min_watch_minutes=1), seed=7)
    record(wh, result)
    winner = result.winners[0]["user_id"]
    loser = next(
        c["user_id"] for c in candidates if c["user_id"] not in {w["user_id"] for w in result.winners}
    )
    won = decisions(wh, winner, lang="zh")
    assert len(won) == 1 and "中奖" in won[0]["explanation"] and "s1" in won[0]["explanation"]
    assert "drawn (" in decisions(wh, winner, lang="en")[0]["explanation"]
    assert decisions(wh, loser, lang="en") == []  # a candidate not drawn is not named in the record
    assert decisions(wh, "u", lang="en") == []  # ids are matched whole, never as a prefix


def test_reveals_and_tag_removals_read_in_both_languages(wh: Warehouse) -> None:
    audit.write(
        wh,
        [
            AuditEntry("key:admin", "pii.reveal", "users:u9", "allowed", "admin asked"),
            AuditEntry("u9", "profiles.remove_tag", "u9", "category:beauty", "the user removed it"),
            AuditEntry("x", "some.future.decision", "u9", "yes", "because"),
        ],
    )
    zh = [d["explanation"] for d in decisions(wh, "u9", lang="zh")]
    en = [d["explanation"] for d in decisions(wh, "u9", lang="en")]
    assert len(zh) == len(en) == 3
    assert "你移除了兴趣标签「category:beauty」" in zh and "管理员查看了你的明文个人信息" in zh
    assert "yes: because" in en and not any(CJK.search(e) for e in en)
