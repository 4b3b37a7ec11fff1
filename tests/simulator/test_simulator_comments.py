"""Comment noise at its documented rates (typos 12%, code-mixing in 20% of Chinese comments, emoji 25%,
English from about one viewer in eleven), and labels that still describe the noisy text."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from liveloop.datasets.simulator import phrases

EMOJI_TAIL = re.compile(f"(?:{'|'.join(re.escape(e) for e in phrases.EMOJI)})+$")


def _pattern(template: str) -> re.Pattern[str]:
    parts = [("(.+)" if part == "{m}" else re.escape(part)) for part in re.split(r"(\{m\})", template)]
    return re.compile("^" + "".join(parts) + "$")


#: Per (intent, sentiment, language): the clean templates and their typo variants, as patterns.
CLEAN: dict[tuple[str, str, str], list[re.Pattern[str]]] = {}
TYPO: dict[tuple[str, str, str], list[re.Pattern[str]]] = {}
for _intent, _sentiment, _lang, _tpl in phrases.BANK:
    CLEAN.setdefault((_intent, _sentiment, _lang), []).append(_pattern(_tpl))
    for _ok, _slip in phrases.TYPOS:
        if _ok in _tpl.replace("{m}", "\x00"):
            TYPO.setdefault((_intent, _sentiment, _lang), []).append(_pattern(_tpl.replace(_ok, _slip, 1)))


@pytest.fixture(scope="module")
def comments(small_world: dict[str, Any]) -> pd.DataFrame:
    root = small_world["dir"]
    return pd.read_parquet(root / "comments.parquet").merge(
        pd.read_parquet(root / "truth" / "comment_labels.parquet"), on="comment_id"
    )


def _strip(text: str, lang: str) -> str:
    """The text without its emoji tail and, for code-mixed comments, the English word appended."""
    text = EMOJI_TAIL.sub("", text)
    if lang == "mixed":
        for word in phrases.MIXED:
            if text.endswith(word):
                return text[: -len(word)]
        raise AssertionError(f"mixed comment without a code-mixed word: {text!r}")
    return text


def test_noise_rates_and_labels_preserved(comments: pd.DataFrame) -> None:
    assert len(comments) > 3000
    emoji = comments["text"].str.contains(EMOJI_TAIL)
    assert abs(emoji.mean() - 0.25) < 0.025
    chinese = comments["lang"] != "en"
    assert abs((comments.loc[chinese, "lang"] == "mixed").mean() - 0.20) < 0.025
    assert not comments.loc[comments["lang"] == "en", "text"].str.contains(r"[\u4e00-\u9fff]").any()
    assert comments.loc[chinese, "text"].str.contains(r"[\u4e00-\u9fff]|？？？|\?\?\?").all()
    # every noisy text still matches a template of its labelled intent, sentiment and language, so the
    # labels survive the noise; the typo'd share is the documented 12%
    clean = typo = 0
    for text, lang, intent, sentiment in comments[["text", "lang", "intent", "sentiment"]].itertuples(
        index=False
    ):
        key = (intent, sentiment, "zh" if lang == "mixed" else lang)
        body = _strip(text, lang)
        if any(p.match(body) for p in CLEAN[key]):
            clean += 1
        elif any(p.match(body) for p in TYPO.get(key, [])):
            typo += 1
        else:
            raise AssertionError(f"{text!r} does not match its labels {key}")
    assert abs(typo / len(comments) - 0.12) < 0.02, typo / len(comments)


def test_english_speakers(comments: pd.DataFrame) -> None:
    number = comments["user_id"].str[-7:].astype(int)
    english = comments["lang"] == "en"
    assert english[number % 11 == 0].all()  # about one viewer in eleven always comments in English
    assert abs(english[number % 11 != 0].mean() - 0.03) < 0.015  # the others in 3% of their comments
    assert 0.05 < english.mean() < 0.3
