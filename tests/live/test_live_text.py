"""Live-comment normalisation and the question-form markers (the featurisation every head sees)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveloop.live.linear import markers
from liveloop.live.normalize import normalize
from liveloop.live.text import clean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("哈哈哈哈哈哈哈哈", "哈哈哈"),
        ("啊啊啊啊啊啊", "啊啊啊"),
        ("！！！！！！", "!!!"),  # full-width punctuation is half-width after clean (NFKC)
        ("老婆老婆老婆老婆老婆", "老婆老婆"),
        ("666666", "厉害"),
        ("2333333", "哈哈哈"),
        ("555555", "呜呜呜"),
        ("88", "拜拜"),
        ("520快乐", "爱你 快乐"),
        ("yyds!!!", "永远的神 !!!"),
        ("hhhhhh", "哈哈哈"),
        ("awsl", "啊我死了 好可爱"),
        ("u1s1 nb", "有一说一 牛逼"),
        ("(⌒▽⌒)", "(⌒▽⌒) 颜文字开心"),
        ("(╯‵□′)╯︵┻━┻", "(╯‵□′)╯(┻━┻ 颜文字生气"),  # NFKC turns ︵ into (
        ("_(:3」∠)_", "_(:3」∠)_ 颜文字无奈"),
        ("QAQ", "哭 颜文字哭"),
    ],
)
def test_danmaku_shapes_become_plain_words(raw: str, expected: str) -> None:
    assert normalize(clean(raw)) == expected


@pytest.mark.parametrize("raw", ["88元", "¥666", "520块", "10000元", "6666号", "1111", "3号链接", "价格199"])
def test_quantities_and_link_numbers_stay_numbers(raw: str) -> None:
    assert normalize(clean(raw)) == clean(raw).lower()


@given(st.text(max_size=60))
def test_normalize_never_fails_and_never_grows_without_bound(text: str) -> None:
    out = normalize(clean(text))
    assert isinstance(out, str) and len(out) <= 3 * len(clean(text)) + 40


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("几点开播", {"@q_word"}, set()),
        ("考虑染发不", {"@q_particle_不"}, set()),
        ("今天播吗", {"@q_particle_吗"}, set()),
        ("真的吗?", {"@q_end", "@q_particle_吗"}, set()),
        ("去不去", {"@q_ab"}, set()),
        ("不去不去不去", set(), {"@q_ab"}),  # a repeated refusal, not an A-not-A question
        ("?又来迫害了", {"@q_lead"}, {"@q_end"}),  # astonishment in front of a statement
        ("你怎么这么帅", {"@q_exclaim"}, {"@q_word"}),  # an exclamation, not a question
        ("什么都行", {"@q_exclaim"}, {"@q_word"}),
        ("???", {"@noword?"}, {"@q_end"}),  # punctuation alone
    ],
)
def test_question_form_markers(text: str, expected: set[str], absent: set[str]) -> None:
    found = set(markers(clean(text)))
    assert expected <= found and not (absent & found)
