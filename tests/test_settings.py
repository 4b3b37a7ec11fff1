"""Settings read from the environment: the currency money is shown in."""

from __future__ import annotations

from liveloop.core.config import Settings


def test_money_is_shown_in_the_configured_currency(monkeypatch) -> None:
    assert Settings().money(1691.08) == "¥1,691.08" and Settings().money(None) == "—"
    monkeypatch.setenv("LIVELOOP_CURRENCY", "usd")
    assert Settings.from_env().money(12) == "$12.00"
    monkeypatch.setenv("LIVELOOP_CURRENCY", "SGD")
    assert Settings.from_env().money(3.5) == "SGD 3.50"  # an unknown code is named, not guessed
