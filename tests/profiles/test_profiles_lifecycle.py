"""Lifecycle stages on constructed users, with the built-in rules and with rules from a file or the env."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from liveloop.core.errors import ValidationFailed
from liveloop.profiles import BuildOptions, LifecycleRules, build_profiles, load_rules, user_profile
from liveloop.warehouse import Warehouse

NOW = datetime(2026, 6, 1, tzinfo=UTC)

#: user -> days before NOW of each purchase (and the stage the default rules give).
HISTORIES = {
    "new": ([10], "new"),  # first purchase 10 days ago (< 30)
    "active": ([100, 20], "active"),  # 2 purchases, last 20 days ago
    "loyal": ([150, 120, 90, 50, 10], "loyal"),  # 5 purchases (>= 4), last 10 days ago
    "at_risk": ([200, 90], "at_risk"),  # none for 90 days (> 60, <= 180)
    "churned": ([300, 200], "churned"),  # none for 200 days (> 180)
    "won_back": ([400, 10], "won_back"),  # back 10 days ago after a 390-day gap (> 180)
    "prospect": ([], "prospect"),  # registered, never bought
    "many_recent": (list(range(1, 16)), "loyal"),  # 15 purchases, the first 15 days ago: not new
}


def _seed(wh: Warehouse) -> None:
    wh.append(
        "users",
        pa.table({"user_id": list(HISTORIES), "signup_ts": [NOW - timedelta(days=500)] * len(HISTORIES)}),
    )
    rows = [(u, d) for u, (days, _) in HISTORIES.items() for d in days]
    wh.append(
        "orders",
        pa.table(
            {
                "order_id": [f"o-{u}-{d}" for u, d in rows],
                "user_id": [u for u, _ in rows],
                "ts": [NOW - timedelta(days=d) for _, d in rows],
                "amount": pa.array([50.0] * len(rows), pa.float64()),
            }
        ),
    )


def _stages(wh: Warehouse) -> dict[str, str]:
    return {u: user_profile(wh, u)["lifecycle"]["value"] for u in HISTORIES}


@pytest.mark.slow
def test_every_stage_with_the_default_rules(wh: Warehouse) -> None:
    _seed(wh)
    build_profiles(wh, BuildOptions(cutoff=NOW))
    assert _stages(wh) == {u: stage for u, (_, stage) in HISTORIES.items()}
    assert user_profile(wh, "won_back")["lifecycle"]["name_zh"] == "已召回"


@pytest.mark.slow
def test_rules_from_a_toml_file_change_the_stages(wh: Warehouse, tmp_path: Path) -> None:
    _seed(wh)
    path = tmp_path / "rules.toml"
    path.write_text("[lifecycle]\nnew_days = 5\nactive_days = 30\nchurn_days = 80\nloyal_orders = 6\n")
    rules, source = load_rules(path)
    assert rules == LifecycleRules(new_days=5, active_days=30, churn_days=80, loyal_orders=6)
    assert source == str(path)
    summary = build_profiles(wh, BuildOptions(cutoff=NOW, rules=rules, rules_source=source))
    assert summary["rules"] == str(path)
    stages = _stages(wh)
    assert stages["new"] == "active"
    assert stages["active"] == "active" and stages["loyal"] == "active"  # 5 purchases < 6
    assert stages["at_risk"] == "churned"  # 90 days > churn_days 80
    assert stages["won_back"] == "won_back" and stages["prospect"] == "prospect"
    params = json.loads(wh.sql("SELECT params FROM model_versions WHERE name = 'profiles' AND active")[0][0])
    assert params["rules"]["churn_days"] == 80 and params["rules_source"] == str(path)


def test_rules_from_the_environment_and_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"churn_days": 365, "won_back_gap_days": 90}))
    monkeypatch.setenv("LIVELOOP_LIFECYCLE_RULES", str(env_file))
    rules, source = load_rules(None, tmp_path)
    assert rules.churn_days == 365 and rules.gap_days == 90 and source.endswith("env.json")
    monkeypatch.delenv("LIVELOOP_LIFECYCLE_RULES")
    assert load_rules(None, tmp_path) == (LifecycleRules(), "defaults")
    (tmp_path / "lifecycle_rules.toml").write_text("loyal_orders = 2\n")
    rules, source = load_rules(None, tmp_path)
    assert rules.loyal_orders == 2 and source.endswith("lifecycle_rules.toml")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("churn_days = 30\nactive_days = 60\n", "active_days"),
        ("new_days = -1\n", "new_days"),
        ("loyal_orders = 2.5\n", "loyal_orders"),
        ("churn = 10\n", "churn"),
        ("new_days = \n", "rules"),
    ],
)
def test_bad_rules_files_name_the_rule(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValidationFailed) as err:
        LifecycleRules.from_file(path)
    assert err.value.field == field
    with pytest.raises(ValidationFailed) as missing:
        LifecycleRules.from_file(tmp_path / "absent.toml")
    assert missing.value.field == "rules"


def test_a_background_rebuild_refuses_bad_home_rules(settings) -> None:
    from liveloop.profiles.jobs import JobRegistry

    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "lifecycle_rules.toml").write_text("churn_days = 0\n")
    with pytest.raises(ValidationFailed) as err:
        JobRegistry().start_rebuild(settings)
    assert err.value.field == "churn_days"
