"""Comment text hygiene: safe decoding, bounded length, emoji to words, language guess.

Every comment entering the live copilot passes through :func:`clean` first, so empty, 100 KB,
emoji-only or invalid-UTF-8 input never reaches a model in a shape it cannot handle.
"""

from __future__ import annotations

import re
import unicodedata

from liveloop.core.text import storable

#: Longest comment text the copilot keeps (characters); the rest is cut, never an error.
MAX_CHARS = 280

#: Common live-room emoji mapped to a word the text models know (they were trained on reviews).
EMOJI_WORDS = {
    "👍": " 赞 ",
    "👏": " 赞 ",
    "❤": " 喜欢 ",
    "❤️": " 喜欢 ",
    "😍": " 喜欢 ",
    "🥰": " 喜欢 ",
    "💕": " 喜欢 ",
    "😘": " 喜欢 ",
    "🔥": " 火 ",
    "💯": " 完美 ",
    "😊": " 开心 ",
    "😀": " 开心 ",
    "😁": " 开心 ",
    "😂": " 哈哈 ",
    "🤣": " 哈哈 ",
    "😄": " 开心 ",
    "🎉": " 开心 ",
    "🙏": " 谢谢 ",
    "👎": " 差 ",
    "😡": " 生气 ",
    "😠": " 生气 ",
    "🤬": " 生气 ",
    "😤": " 生气 ",
    "💩": " 垃圾 ",
    "😭": " 失望 ",
    "😢": " 失望 ",
    "😞": " 失望 ",
    "🙄": " 无语 ",
    "🤮": " 恶心 ",
    "❓": " ？ ",
    "❔": " ？ ",
    "🛒": " 买 ",
    "💰": " 钱 ",
    "📦": " 快递 ",
    "🚚": " 快递 ",
}
_EMOJI_RE = re.compile("|".join(re.escape(e) for e in sorted(EMOJI_WORDS, key=len, reverse=True)))
_SPACE_RE = re.compile(r"\s+")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_LATIN3_RE = re.compile(r"[A-Za-z][^A-Za-z]*[A-Za-z][^A-Za-z]*[A-Za-z]")  # at least three Latin letters


def to_text(value: object) -> str:
    """Any input (bytes with invalid UTF-8, None, numbers) as a ``str``; never raises."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return storable(str(value))


def clean(value: object, max_chars: int = MAX_CHARS) -> str:
    """Normalised comment text: NFKC, emoji as words, whitespace collapsed, at most ``max_chars``."""
    text = to_text(value)[: max_chars * 4]
    text = unicodedata.normalize("NFKC", text).replace("\ufffd", " ").replace("\ufeff", "")
    text = _EMOJI_RE.sub(lambda m: EMOJI_WORDS[m.group(0)], text)
    return _SPACE_RE.sub(" ", text).strip()[:max_chars]


def language(text: str) -> str:
    """``zh``, ``en``, ``mixed`` (CJK with three or more Latin letters) or ``other``."""
    if _CJK_RE.search(text):
        return "mixed" if _LATIN3_RE.search(text) else "zh"
    return "en" if _LATIN_RE.search(text) else "other"
