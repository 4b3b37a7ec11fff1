"""Live-comment normalisation: the shapes danmaku take that reviews never do, mapped to plain words.

Applied after :func:`liveloop.live.text.clean` (NFKC, emoji as words) and before featurisation, on
training and live text alike:

- **repeated characters and pieces** — 哈哈哈哈哈哈, 啊啊啊啊啊, ！！！！！, 老婆老婆老婆老婆 — are cut
  to three (two for a repeated two-character piece; digits never), so a long cheer and a short one look alike;
- **numbers used as words** — 666 (impressive), 2333 / 233 (laughter), 555 (crying), 88 / 886 (bye),
  520 (love) — become the word they stand for; other numbers are left alone;
- **Latin slang and pinyin initials** — yyds, awsl, xswl, nb, hhh, www, qaq, u1s1, bdjw … — become
  Chinese words;
- **kaomoji** — (⌒▽⌒), _(:3」∠)_, (╯‵□′)╯︵┻━┻, QAQ — become the feeling they draw.

Full-width punctuation is already half-width after NFKC. Every rule is a regular expression compiled
once; the whole pass costs a few microseconds a comment.
"""

from __future__ import annotations

import re

#: Latin slang, internet abbreviations and pinyin initials common in danmaku (whole words only).
SLANG: dict[str, str] = {
    "yyds": "永远的神",
    "awsl": "啊我死了 好可爱",
    "xswl": "笑死我了",
    "nb": "牛逼",
    "nbcs": "不明觉厉",
    "niubi": "牛逼",
    "tql": "太强了",
    "u1s1": "有一说一",
    "bdjw": "不懂就问",
    "dbq": "对不起",
    "srds": "虽然但是",
    "zqsg": "真情实感",
    "yygq": "阴阳怪气",
    "nsdd": "你说得对",
    "kdl": "嗑到了",
    "szd": "是真的",
    "bushi": "不是",
    "woc": "卧槽",
    "wc": "卧槽",
    "cnm": "脏话",
    "sb": "傻逼",
    "lp": "老婆",
    "lg": "老公",
    "bgm": "背景音乐",
    "pdd": "拼多多",
    "dddd": "懂的都懂",
    "mua": "亲亲",
    "suki": "喜欢",
    "qwq": "哭",
    "qaq": "哭",
    "tat": "哭",
    "orz": "跪了",
    "ok": "好的",
    "zzz": "睡觉",
    "hso": "好色哦",
    "plmm": "漂亮妹妹",
    "xdm": "兄弟们",
    "jms": "姐妹们",
    "emo": "难过",
}
_SLANG_RE = re.compile(r"(?<![a-z0-9])(" + "|".join(sorted(SLANG, key=len, reverse=True)) + r")(?![a-z0-9])")
#: Laughter spelt in Latin letters (hhhh, hahaha, www, lol, lmao).
_LATIN_LAUGH_RE = re.compile(r"(?<![a-z])(?:h{2,}|(?:ha){2,}h?|w{3,}|lol+|lmao+)(?![a-z])")

#: Numbers that are words in danmaku (whole digit runs only, so prices and link numbers stay numbers).
#: A number followed by a unit or preceded by a currency sign is a quantity, never a word.
_QUANTITY = r"(?![\d.,]|\s*(?:元|块|米|rmb|号|个|件|斤|码|cm|ml|g|kg|w|k|万|%|折|天|分|秒|点|岁|楼))"
_NUMBER_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"(?<![\d¥$.])6{{3,}}{_QUANTITY}"), " 厉害 "),
    (re.compile(rf"(?<![\d¥$.])23{{2,}}{_QUANTITY}"), " 哈哈哈 "),
    (re.compile(rf"(?<![\d¥$.])5{{3,}}{_QUANTITY}"), " 呜呜呜 "),
    (re.compile(rf"(?<![\d¥$.])88{{1,2}}6?{_QUANTITY}"), " 拜拜 "),
    (re.compile(rf"(?<![\d¥$.])520{_QUANTITY}"), " 爱你 "),
]

#: Kaomoji by the feeling they draw: a few characters are enough to tell most apart.
_KAOMOJI: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[╯┻︵╬皿益]|\(#"), " 颜文字生气 "),
    (re.compile(r"[╥;；]_[;；╥]|t_t|[╥ಥ]|qaq|qwq|;_;"), " 颜文字哭 "),
    (re.compile(r"[╮╭]\(|┐\(|¯\\_|_\(:3|\(:3"), " 颜文字无奈 "),
    (re.compile(r"[▽∀ω≧≦⌒∇◕ᴗ♡]|\^\^|\^_\^|\^o\^|\(\^"), " 颜文字开心 "),
    (re.compile(r"[⊙∑Дд口□]|[oO]_[oO]|°[oO]°"), " 颜文字惊讶 "),
]
_KAOMOJI_HINT = re.compile(r"[()\^_╯┻︵╬皿益╥;；╮╭┐¯▽∀ω≧≦⌒∇◕ᴗ♡⊙∑Дд口□°]|qaq|qwq|t_t|:3")

#: Three or more of one character (kept: three), or of a two-character piece (kept: two).
_REPEAT_CHAR = re.compile(r"(\D)\1{3,}")
_REPEAT_PAIR = re.compile(r"(\D\D)\1{2,}")


def normalize(text: str) -> str:
    """A cleaned comment in the shape the models are trained on (see the module docstring)."""
    if not text:
        return text
    t = text.lower()
    if _KAOMOJI_HINT.search(t):
        for pattern, word in _KAOMOJI:
            if pattern.search(t):
                t = t + word
                break
    if any(c.isdigit() for c in t):
        for pattern, word in _NUMBER_WORDS:
            t = pattern.sub(word, t)
    if t.isascii() or any("a" <= c <= "z" for c in t):
        t = _LATIN_LAUGH_RE.sub(" 哈哈哈 ", t)
        t = _SLANG_RE.sub(lambda m: f" {SLANG[m.group(1)]} ", t)
    t = _REPEAT_CHAR.sub(r"\1\1\1", t)
    t = _REPEAT_PAIR.sub(r"\1\1", t)
    return " ".join(t.split())
