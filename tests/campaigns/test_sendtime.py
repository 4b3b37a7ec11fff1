"""Send time and channel per user: learning planted preferences, cold start, restrictions, persistence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from liveloop.campaigns.sendtime import SendTimeModel, history_from_warehouse
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

CHANNELS = ("app_push", "sms", "email", "social")


def planted_history(
    seed: int = 0, per_cell: int = 2, sends: int = 80
) -> tuple[pd.DataFrame, dict[str, tuple]]:
    """Each user has a planted channel and hour (every cell planted by ``per_cell`` users, so the population
    is flat): response 2% + 38% on that channel, fading over the hours around the planted one."""
    rng = np.random.default_rng(seed)
    cells = np.array([(c, h) for c in range(len(CHANNELS)) for h in range(9, 22)] * per_cell)
    users = len(cells)
    ids = np.array([f"u{i}" for i in rng.permutation(users)])
    best_c, best_h = cells[:, 0], cells[:, 1]
    uid = np.repeat(np.arange(users), sends)
    c = rng.integers(0, len(CHANNELS), uid.size)
    h = rng.integers(9, 22, uid.size)
    on = rng.random(uid.size) < 0.3  # a share of sends went to the planted cell (an earlier policy's luck)
    c = np.where(on, best_c[uid], c)
    h = np.where(on, best_h[uid], h)
    p = 0.02 + 0.38 * (c == best_c[uid]) * np.exp(-((h - best_h[uid]) ** 2) / 2.0)
    responded = rng.random(uid.size) < p
    frame = pd.DataFrame(
        {"user_id": ids[uid], "channel": np.array(CHANNELS)[c], "local_hour": h, "responded": responded}
    )
    truth = {ids[i]: (CHANNELS[best_c[i]], int(best_h[i])) for i in range(users)}
    return frame, truth


def test_finds_each_users_planted_best_hour_and_channel() -> None:
    history, truth = planted_history()
    model = SendTimeModel(CHANNELS, hours=range(9, 22), seed=1).fit(history)
    picks = model.choose(list(truth), CHANNELS, explore=False)
    found_channel = np.mean([truth[u][0] == c for u, c in zip(picks.user_id, picks.channel, strict=True)])
    hour_gap = np.array([abs(truth[u][1] - h) for u, h in zip(picks.user_id, picks.hour, strict=True)])
    assert found_channel >= 0.9
    assert np.mean(hour_gap <= 1) >= 0.9
    assert np.mean(hour_gap == 0) >= 0.4  # the next hours respond 61% as well; chance is 1 in 13
    assert (picks.source == "history").all()
    one = picks.iloc[0]
    assert f"{one.channel} messages" in one.reason and "responded to" in one.reason
    assert picks.expected_rate.between(0, 1).all()


def test_users_without_history_get_bandit_or_population_choices() -> None:
    history, _ = planted_history(per_cell=1)
    model = SendTimeModel(CHANNELS, hours=range(9, 22), seed=0).fit(history)
    explored = model.choose(["new1", "new2"], CHANNELS, explore=True)
    assert list(explored.source) == ["bandit", "bandit"]
    assert explored.reason.str.startswith("no message history").all()
    exploited = model.choose(["new1", "u0"], CHANNELS, explore=False)
    assert list(exploited.source) == ["population", "history"]
    # with no history the exploit choice is the population's best allowed cell
    rates = history.groupby(["channel", "local_hour"]).responded.mean()
    assert rates[(exploited.channel[0], exploited.hour[0])] >= rates.quantile(0.9)


def test_online_updates_move_a_user_to_where_they_respond() -> None:
    model = SendTimeModel(CHANNELS, hours=range(9, 22), seed=0, min_history=5)
    for _ in range(30):
        model.learn_one("a", "sms", 10, False)
        model.learn_one("a", "email", 19, True)
        model.learn_one("b", "sms", 10, False)
    pick = model.choose(["a"], CHANNELS, explore=False).iloc[0]
    assert (pick.channel, pick.hour) == ("email", 19)
    assert pick.source == "history"
    assert "30 of 30 email messages" in pick.reason


def test_allowed_channels_and_hours_are_respected() -> None:
    history, truth = planted_history(per_cell=1)
    model = SendTimeModel(CHANNELS, hours=range(9, 22), seed=3).fit(history)
    users = [*truth, "nobody"]
    only = model.choose(users, ["sms", "email"], hours=range(12, 15))
    assert set(only.channel) <= {"sms", "email"}
    assert only.hour.between(12, 14).all()
    per_user = {u: (["social"] if i % 2 else ["app_push", "sms"]) for i, u in enumerate(users)}
    mixed = model.choose(users, per_user)
    for user, channel in zip(mixed.user_id, mixed.channel, strict=True):
        assert channel in per_user[user]
    assert mixed.hour.between(9, 21).all()  # the model's default hours


def test_same_seed_same_choices_and_save_load_round_trip(tmp_path: Path) -> None:
    history, truth = planted_history(per_cell=1, sends=20)
    users = [*truth, "x", "y"]
    a = SendTimeModel(CHANNELS, seed=5).fit(history)
    b = SendTimeModel(CHANNELS, seed=5).fit(history)
    first = a.choose(users, CHANNELS)
    pd.testing.assert_frame_equal(first, b.choose(users, CHANNELS))
    other = SendTimeModel(CHANNELS, seed=6).fit(history).choose(users, CHANNELS)
    assert not first[["channel", "hour"]].equals(other[["channel", "hour"]])

    path = a.save(tmp_path / "sendtime.npz")
    restored = SendTimeModel.load(path)
    assert restored.channels == a.channels and restored.hours == a.hours
    # the random state travels too: the next draws of both agree
    pd.testing.assert_frame_equal(a.choose(users, CHANNELS), restored.choose(users, CHANNELS))
    pd.testing.assert_frame_equal(
        a.choose(users, CHANNELS, explore=False), restored.choose(users, CHANNELS, explore=False)
    )


def test_bad_input_is_refused_with_the_field() -> None:
    model = SendTimeModel(CHANNELS)
    bad_rows = pd.DataFrame({"user_id": ["u"], "channel": ["fax"], "local_hour": [10], "responded": [True]})
    cases = [
        (lambda: model.update(bad_rows), "channel"),
        (lambda: model.update(bad_rows.assign(channel="sms", local_hour=24)), "local_hour"),
        (lambda: model.choose(["u"], []), "allowed_channels"),
        (lambda: model.choose(["u"], ["fax"]), "allowed_channels"),
        (lambda: model.choose(["u"], {"u": []}), "allowed_channels"),
        (lambda: model.choose(["u", "v"], {"u": ["sms"]}), "allowed_channels"),
        (lambda: model.choose(["u"], CHANNELS, hours=[8, 25]), "hours"),
        (lambda: model.choose(["u"], CHANNELS, hours=[]), "hours"),
        (lambda: SendTimeModel(CHANNELS, hours=range(-1, 5)), "hours"),
        (lambda: SendTimeModel([]), "channels"),
    ]
    for call, field in cases:
        with pytest.raises(ValidationFailed) as err:
            call()
        assert err.value.field == field


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_history_from_a_real_warehouse(wh: Warehouse) -> None:
    messages = pa.table(
        {
            "message_id": ["m1", "m2", "m3", "m4", "m5"],
            "user_id": ["u1", "u1", "u2", "u2", "u3"],
            "channel": ["email", "sms", "app_push", "app_push", "email"],
            "status": ["sent"] * 5,
            "sent_at": [
                _ts("2026-11-01 12:00:00"),  # 20:00 in Shanghai, opened
                _ts("2026-11-01 01:30:00"),  # 09:30, clicked
                _ts("2026-11-02 04:00:00"),  # 12:00, no timestamp but an open event follows
                _ts("2026-11-03 04:00:00"),  # 12:00, nothing
                None,  # never sent: not history
            ],
            "opened_at": [_ts("2026-11-01 12:05:00"), None, None, None, None],
            "clicked_at": [None, _ts("2026-11-01 02:00:00"), None, None, None],
        }
    )
    wh.append("messages", messages)
    events = pa.table(
        {
            "event_id": ["e1", "e2", "e3"],
            "ts": [
                _ts("2026-11-02 05:00:00"),  # opens m3 (app_push, an hour later)
                _ts("2026-11-01 12:06:00"),  # duplicate of m1's open: adds nothing
                _ts("2026-11-04 13:00:00"),  # imported history: no send logged for u4
            ],
            "user_id": ["u2", "u1", "u4"],
            "type": ["message_open", "message_click", "message_open"],
            "channel": ["app_push", "email", "sms"],
        }
    )
    wh.append("events", events)
    got = history_from_warehouse(wh, tz="Asia/Shanghai").sort_values(["user_id", "local_hour"])
    rows = [tuple(r) for r in got.itertuples(index=False)]
    assert rows == [
        ("u1", "sms", 9, True),
        ("u1", "email", 20, True),
        ("u2", "app_push", 12, True),
        ("u2", "app_push", 12, False),
        ("u4", "sms", 21, True),
    ]
    assert list(got.columns) == ["user_id", "channel", "local_hour", "responded"]
    utc = history_from_warehouse(wh, tz="UTC")
    assert sorted(utc.local_hour) == [1, 4, 4, 12, 13]
    model = SendTimeModel(["app_push", "sms", "email"]).fit(got)
    assert model.n_users == 3
    with pytest.raises(ValidationFailed) as err:
        history_from_warehouse(wh, tz="Mars/Olympus")
    assert err.value.field == "tz"
