"""Settings read from the environment: the currency money is shown in."""

from __future__ import annotations

from liveloop.core.config import Settings


def test_money_is_shown_in_the_configured_currency(monkeypatch) -> None:
    assert Settings().money(1691.08) == "¥1,691.08" and Settings().money(None) == "—"
    monkeypatch.setenv("LIVELOOP_CURRENCY", "usd")
    assert Settings.from_env().money(12) == "$12.00"
    monkeypatch.setenv("LIVELOOP_CURRENCY", "SGD")
    assert Settings.from_env().money(3.5) == "SGD 3.50"  # an unknown code is named, not guessed


def test_switches_take_on_or_off_and_refuse_anything_else(monkeypatch) -> None:
    import pytest

    from liveloop.core.errors import ValidationFailed

    assert Settings.from_env().nlp_autotrain is True  # unset: the server trains a missing model
    for value, want in (("off", False), ("0", False), ("No", False), ("on", True), ("TRUE", True)):
        monkeypatch.setenv("LIVELOOP_NLP_AUTOTRAIN", value)
        assert Settings.from_env().nlp_autotrain is want
    monkeypatch.setenv("LIVELOOP_NLP_AUTOTRAIN", "maybe")
    with pytest.raises(ValidationFailed) as bad:
        Settings.from_env()
    assert bad.value.field == "LIVELOOP_NLP_AUTOTRAIN"


def test_embeddings_are_switched_on_or_off_and_a_bad_value_is_refused_at_once(monkeypatch) -> None:
    import pytest

    from liveloop.core.errors import ValidationFailed
    from liveloop.live.embeddings import enabled

    assert Settings.from_env().embeddings is True and enabled() is True
    monkeypatch.setenv("LIVELOOP_EMBEDDINGS", "OFF")
    assert Settings.from_env().embeddings is False and enabled() is False
    monkeypatch.setenv("LIVELOOP_EMBEDDINGS", "of")  # a typo once read as "on"
    for read in (Settings.from_env, enabled):
        with pytest.raises(ValidationFailed) as bad:
            read()
        assert bad.value.field == "LIVELOOP_EMBEDDINGS"
