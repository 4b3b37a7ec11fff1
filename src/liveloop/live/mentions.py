"""Product mentions against a session lineup: names, aliases and "3号链接" / "link 3" numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_NUM = r"(\d{1,3}|[一二两三四五六七八九十])"
_LINK_RE = re.compile(
    rf"{_NUM}\s*号\s*(?:链接|宝贝|商品|产品)?|(?:链接|宝贝|link|item|no\.?|#)\s*{_NUM}", re.I
)


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _CN_DIGITS[token]


@dataclass(frozen=True)
class LineupItem:
    """One product on the session lineup, at link number ``position`` (1-based)."""

    product_id: str
    name: str
    position: int
    aliases: tuple[str, ...] = ()


@dataclass
class MentionMatcher:
    """Finds which lineup product a comment names (first match wins; ``None`` when none)."""

    items: Sequence[LineupItem]
    _by_position: dict[int, str] = field(init=False, default_factory=dict)
    _by_name: dict[str, str] = field(init=False, default_factory=dict)
    _names: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._by_position = {item.position: item.product_id for item in self.items}
        for item in self.items:
            for name in (item.name, *item.aliases):
                if name and len(name.strip()) >= 2:
                    self._by_name.setdefault(name.strip().lower(), item.product_id)
        if self._by_name:
            alternation = "|".join(re.escape(n) for n in sorted(self._by_name, key=len, reverse=True))
            self._names = re.compile(alternation, re.I)

    @classmethod
    def from_lineup(cls, lineup: Sequence[dict[str, Any]]) -> MentionMatcher:
        """From dicts with ``product_id``, ``name`` and optional ``aliases``; position = list order."""
        items = [
            LineupItem(
                str(p["product_id"]),
                str(p.get("name") or ""),
                i + 1,
                tuple(str(a) for a in p.get("aliases") or ()),
            )
            for i, p in enumerate(lineup)
        ]
        return cls(items)

    def match_one(self, text: str) -> str | None:
        if not self.items or not text:
            return None
        link = _LINK_RE.search(text)
        if link:
            pid = self._by_position.get(_number(link.group(1) or link.group(2)))
            if pid:
                return pid
        if self._names is not None:
            name = self._names.search(text)
            if name:
                return self._by_name[name.group(0).lower()]
        return None

    def match(self, texts: Sequence[str]) -> list[str | None]:
        return [self.match_one(t) for t in texts]
