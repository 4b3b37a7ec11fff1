"""A labelled phrase bank for live-room comments (弹幕) in Chinese and English, and its noisy renderer.

Each template carries its true labels (intent, sentiment); ``{m}`` marks a product mention ("3号链接",
"link 3", or the product's name), whose product is recorded in the ground truth. Typos, emoji and
mixed-language variants are added afterwards, so a classifier sees the noise real danmaku has.
"""

from __future__ import annotations

import numpy as np

from liveloop.core.types import COMMENT_INTENTS

#: (intent, sentiment, language, template). ``{m}`` = a product mention.
BANK: tuple[tuple[str, str, str, str], ...] = (
    ("question", "neutral", "zh", "{m}是什么材质的"),
    ("question", "neutral", "zh", "{m}敏感肌能用吗"),
    ("question", "neutral", "zh", "主播身高多少，穿什么码"),
    ("question", "neutral", "zh", "{m}有没有别的颜色"),
    ("question", "neutral", "zh", "这个保质期多久"),
    ("question", "neutral", "zh", "{m}怎么用啊"),
    ("question", "neutral", "en", "what size should I get for {m}?"),
    ("question", "neutral", "en", "is {m} suitable for sensitive skin?"),
    ("question", "neutral", "en", "does it come in other colors"),
    ("purchase_intent", "positive", "zh", "{m}已拍"),
    ("purchase_intent", "positive", "zh", "拍了拍了"),
    ("purchase_intent", "positive", "zh", "{m}上车"),
    ("purchase_intent", "positive", "zh", "想要{m}"),
    ("purchase_intent", "positive", "zh", "冲冲冲，{m}买两件"),
    ("purchase_intent", "positive", "zh", "已下单，蹲发货"),
    ("purchase_intent", "positive", "en", "just bought {m}"),
    ("purchase_intent", "positive", "en", "adding {m} to cart now"),
    ("price_question", "neutral", "zh", "{m}多少钱"),
    ("price_question", "neutral", "zh", "{m}有优惠券吗"),
    ("price_question", "neutral", "zh", "今天是最低价吗"),
    ("price_question", "neutral", "zh", "{m}能再便宜点吗"),
    ("price_question", "neutral", "zh", "满减怎么算"),
    ("price_question", "neutral", "en", "how much is {m}?"),
    ("price_question", "neutral", "en", "any coupon for {m}?"),
    ("logistics_question", "neutral", "zh", "什么时候发货"),
    ("logistics_question", "neutral", "zh", "{m}包邮吗"),
    ("logistics_question", "neutral", "zh", "发什么快递"),
    ("logistics_question", "neutral", "zh", "新疆能发吗"),
    ("logistics_question", "neutral", "en", "when will {m} ship?"),
    ("logistics_question", "neutral", "en", "is shipping free?"),
    ("complaint", "negative", "zh", "{m}上次买的质量太差了"),
    ("complaint", "negative", "zh", "等了一周还没发货"),
    ("complaint", "negative", "zh", "客服一直不回"),
    ("complaint", "negative", "zh", "{m}和图片不一样"),
    ("complaint", "negative", "zh", "退款还没到账"),
    ("complaint", "negative", "en", "{m} broke after two days"),
    ("complaint", "negative", "en", "still waiting for my refund"),
    ("praise", "positive", "zh", "{m}回购好几次了"),
    ("praise", "positive", "zh", "主播好漂亮"),
    ("praise", "positive", "zh", "{m}真的好用"),
    ("praise", "positive", "zh", "质量很好，物流也快"),
    ("praise", "positive", "zh", "支持主播"),
    ("praise", "positive", "en", "love {m}, works great"),
    ("praise", "positive", "en", "best stream ever"),
    ("chit_chat", "neutral", "zh", "来了来了"),
    ("chit_chat", "neutral", "zh", "哈哈哈哈"),
    ("chit_chat", "neutral", "zh", "晚上好"),
    ("chit_chat", "neutral", "zh", "打卡"),
    ("chit_chat", "neutral", "zh", "主播今天穿的好看"),
    ("chit_chat", "neutral", "zh", "？？？"),
    ("chit_chat", "neutral", "en", "hi everyone"),
    ("chit_chat", "neutral", "en", "lol"),
)

_INTENT_OF = np.array([COMMENT_INTENTS.index(b[0]) for b in BANK])
_HAS_MENTION = np.array(["{m}" in b[3] for b in BANK])
_LANG_EN = np.array([b[2] == "en" for b in BANK])
#: Intent mix with no product on stage, and while a product is being presented.
INTENT_P_IDLE = np.array([0.10, 0.06, 0.06, 0.06, 0.05, 0.17, 0.50])
INTENT_P_STAGE = np.array([0.16, 0.17, 0.17, 0.07, 0.05, 0.14, 0.24])

EMOJI = ("😂", "👍", "❤️", "🔥", "😍", "🙏", "💰", "😭", "🎉", "👏")
#: (correct, as typed): common danmaku homophones, pinyin and abbreviations (zh) and slips (en). Every
#: template holds at least one of them, so the typo rate is the rate drawn.
TYPOS = (
    ("什么", "神马"),
    ("好", "hao"),
    ("的", "滴"),
    ("这个", "介个"),
    ("吗", "嘛"),
    ("没有", "木有"),
    ("主播", "zb"),
    ("怎么", "肿么"),
    ("是", "系"),
    ("了", "惹"),
    ("已", "以"),
    ("哈哈", "hhh"),
    ("多少", "多小"),
    ("发货", "发huo"),
    ("想要", "想腰"),
    ("客服", "kf"),
    ("图片", "图pian"),
    ("打卡", "打ka"),
    ("上车", "上che"),
    ("？？？", "???"),
    ("冲冲冲", "冲鸭"),
    ("退款", "tk"),
    ("size", "sz"),
    ("shipping", "shiping"),
    ("coupon", "cupon"),
    ("great", "grate"),
    ("you", "u"),
    ("what", "wat"),
    ("everyone", "every1"),
    ("other", "othr"),
    ("ship", "shipp"),
    ("just", "jus"),
    ("love", "luv"),
    ("lol", "lool"),
    ("after", "aftr"),
    ("for", "4"),
    ("now", "nao"),
    ("ever", "evr"),
    ("much", "mch"),
)
#: Per template, the typos that can occur in it (applied to the template, never inside a mention).
_TYPOS_OF = tuple(
    np.array([k for k, (ok, _) in enumerate(TYPOS) if ok in b[3].replace("{m}", "\x00")], dtype=np.int64)
    for b in BANK
)
MIXED = ("yyds", "nice", "OMG", "666", "cute", "ok")


def pick_templates(rng: np.random.Generator, on_stage: np.ndarray, english: np.ndarray) -> np.ndarray:
    """A template per comment: intent from the stage mix, then a template of that intent and language."""
    n = len(on_stage)
    u = rng.random(n)
    cum_idle, cum_stage = np.cumsum(INTENT_P_IDLE), np.cumsum(INTENT_P_STAGE)
    intent = np.where(
        on_stage,
        np.searchsorted(cum_stage, u * cum_stage[-1], side="right"),
        np.searchsorted(cum_idle, u * cum_idle[-1], side="right"),
    )
    intent = np.minimum(intent, len(COMMENT_INTENTS) - 1)
    out = np.empty(n, dtype=np.int64)
    pick = rng.random(n)
    for i in range(len(COMMENT_INTENTS)):
        for en in (False, True):
            mask = (intent == i) & (english == en)
            if not mask.any():
                continue
            choices = np.flatnonzero((i == _INTENT_OF) & (en == _LANG_EN))
            out[mask] = choices[(pick[mask] * len(choices)).astype(int)]
    return out


def render(
    rng: np.random.Generator,
    templates: np.ndarray,
    mention_slot: np.ndarray,
    mention_name_zh: list[str],
    mention_name_en: list[str],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Comment texts plus (has_mention, is_mixed_language) flags; noise: typos, emoji, code-mixing."""
    n = len(templates)
    style = rng.random(n)
    noise = rng.random((n, 3))
    emoji = rng.integers(0, len(EMOJI), n)
    typo = rng.random(n)
    mixed = rng.integers(0, len(MIXED), n)
    texts: list[str] = []
    for k in range(n):
        _, _, lang, tpl = BANK[templates[k]]
        choices = _TYPOS_OF[templates[k]]
        if noise[k, 0] < 0.12 and len(choices):
            correct, slip = TYPOS[choices[int(typo[k] * len(choices))]]
            tpl = tpl.replace(correct, slip, 1)
        slot = mention_slot[k]
        if "{m}" in tpl:
            if slot < 0:
                mention = "这个" if lang == "zh" else "this"
            elif style[k] < 0.45:
                mention = f"{slot + 1}号链接" if lang == "zh" else f"link {slot + 1}"
            elif style[k] < 0.65:
                mention = f"{slot + 1}号" if lang == "zh" else f"#{slot + 1}"
            else:
                mention = mention_name_zh[k] if lang == "zh" else mention_name_en[k]
            tpl = tpl.replace("{m}", mention)
        if noise[k, 1] < 0.2 and lang == "zh":
            tpl = tpl + MIXED[mixed[k]]
        if noise[k, 2] < 0.25:
            tpl = tpl + EMOJI[emoji[k]] * (1 + int(noise[k, 2] * 12))
        texts.append(tpl)
    has_mention = _HAS_MENTION[templates] & (mention_slot >= 0)
    is_mixed = (noise[:, 1] < 0.2) & ~_LANG_EN[templates]
    return texts, has_mention, is_mixed


def labels(templates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(intent, sentiment, language) of each template index."""
    bank = np.array(BANK, dtype=object)
    return bank[templates, 0].astype(str), bank[templates, 1].astype(str), bank[templates, 2].astype(str)
