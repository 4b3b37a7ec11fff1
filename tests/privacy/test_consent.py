"""The consent registry: history kept, the latest applicable statement rules, defaults per purpose, and
refusals enforced where the data is used (audiences and sends read ``allowed_sql``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.privacy import consent
from liveloop.privacy.audit import decisions
from liveloop.privacy.consent import ConsentChange
from liveloop.warehouse import Warehouse

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _say(wh: Warehouse, user: str, purpose: str, status: str, channel: str = "all", days: int = 0) -> None:
    consent.record(
        wh,
        [ConsentChange(user, purpose, status, channel, "test", None, T0 + timedelta(days=days))],
        actor="t",
    )


def _users(wh: Warehouse, n: int = 4) -> list[str]:
    ids = [f"u{i}" for i in range(n)]
    wh.append("users", pa.table({"user_id": ids}))
    return ids


def _audience(wh: Warehouse, purpose: str, channel: str, settings: Settings | None = None) -> set[str]:
    cond = consent.allowed_sql("user_id", purpose, channel, settings)
    return {r[0] for r in wh.sql(f"SELECT user_id FROM users WHERE {cond}")}


def test_marketing_is_opt_in_per_channel_and_the_latest_statement_rules(wh: Warehouse) -> None:
    _users(wh)
    assert _audience(wh, "marketing", "email") == set()  # nobody said yes: nobody is mailed
    _say(wh, "u0", "marketing", "granted", "email")
    _say(wh, "u1", "marketing", "granted", "all")
    assert _audience(wh, "marketing", "email") == {"u0", "u1"}
    assert _audience(wh, "marketing", "sms") == {"u1"}  # a grant for e-mail is not one for SMS
    _say(wh, "u0", "marketing", "revoked", "all", days=1)  # "stop everything" after "yes to e-mail"
    assert _audience(wh, "marketing", "email") == {"u1"}
    _say(wh, "u0", "marketing", "granted", "email", days=2)  # then "yes to e-mail" again: e-mail alone
    assert _audience(wh, "marketing", "email") == {"u0", "u1"} and "u0" not in _audience(
        wh, "marketing", "sms"
    )
    assert "u0" in consent.withheld(wh, "marketing", "sms") and "u0" not in consent.withheld(
        wh, "marketing", "email"
    )
    assert consent.allows(wh, "u1", "marketing", "sms") and not consent.allows(wh, "u2", "marketing", "sms")
    history = consent.of_user(wh, "u0")["history"]
    assert [h["status"] for h in history] == ["granted", "revoked", "granted"]  # every statement kept


def test_personalisation_and_profiling_hold_until_refused_and_opt_in_is_a_setting(
    wh: Warehouse, settings: Settings
) -> None:
    _users(wh)
    assert _audience(wh, "personalisation", "all") == {"u0", "u1", "u2", "u3"}
    _say(wh, "u2", "personalisation", "denied")
    wh.sql("UPDATE users SET non_personalised = TRUE WHERE user_id = 'u3'")  # the user's own switch
    assert _audience(wh, "personalisation", "all") == {"u0", "u1"}
    assert consent.withheld(wh, "personalisation") == consent.UserSet(frozenset({"u2", "u3"}))
    strict = Settings(home=settings.home, consent_opt_in=("marketing", "sharing", "profiling"))
    assert _audience(wh, "profiling", "all", strict) == set()
    _say(wh, "u1", "profiling", "granted")
    assert _audience(wh, "profiling", "all", strict) == {"u1"}
    assert "u0" in consent.withheld(wh, "profiling", settings=strict)
    with pytest.raises(ValidationFailed, match="unknown purposes"):
        consent.opt_in(Settings(consent_opt_in=("marketting",)))
    current = {(c["purpose"], c["channel"]): c for c in consent.of_user(wh, "u3")["current"]}
    assert current[("personalisation", "all")]["basis"] == "non_personalised"
    assert (
        current[("marketing", "all")] | {"allowed": False, "basis": "default"}
        == current[("marketing", "all")]
    )
    assert (
        current[("marketing", "all")] | {} == current[("marketing", "all")]
        and not current[("marketing", "all")]["allowed"]
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (ConsentChange("u 1", "marketing", "granted"), "user_id"),
        (ConsentChange("u1", "ads", "granted"), "purpose"),
        (ConsentChange("u1", "marketing", "maybe"), "status"),
        (ConsentChange("u1", "marketing", "granted", "pigeon"), "channel"),
        (ConsentChange("u1", "profiling", "granted", "sms"), "channel"),
        (ConsentChange("u1", "marketing", "granted", ts=datetime(9999, 1, 1, tzinfo=UTC)), "ts"),
        (ConsentChange("u1", "marketing", "granted", proof="x" * 3000), "proof"),
    ],
)
def test_a_bad_statement_is_refused_naming_its_field_and_nothing_is_written(
    wh: Warehouse, change: ConsentChange, field: str
) -> None:
    good = ConsentChange("u1", "marketing", "granted", ts=T0)
    with pytest.raises(ValidationFailed) as err:
        consent.record(wh, [good, change], actor="t")
    assert err.value.field == field
    assert wh.sql("SELECT count(*) FROM consents")[0][0] == 0  # all or nothing


def test_a_repeated_statement_is_recorded_once_and_each_change_is_audited_and_explained(
    wh: Warehouse,
) -> None:
    change = ConsentChange("u1", "marketing", "granted", "sms", "app", "form 17", T0)
    assert consent.record(wh, [change, change], actor="key:k1") == {"recorded": 1, "already_known": 1}
    assert consent.record(wh, [change], actor="key:k1") == {"recorded": 0, "already_known": 1}
    zh = decisions(wh, "u1", lang="zh")
    en = decisions(wh, "u1", lang="en")
    assert len(zh) == 1 and "营销消息" in zh[0]["explanation"] and "sms" in zh[0]["explanation"]
    assert en[0]["explanation"] == "your choice for marketing on sms was recorded: granted"
