"""The simulated users answer liveloop's messages as the Oracle says: rates checked against the real
randomised e-mail experiment (Hillstrom), determinism, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from liveloop.datasets.loader import load
from liveloop.datasets.simulator import Oracle, SimConfig
from liveloop.datasets.simulator.responses import respond_to_messages
from liveloop.warehouse import Warehouse

AT_20 = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai


def messages_for(wh: Warehouse, oracle: Oracle, n: int) -> None:
    ids = [f"{oracle.prefix}u{i}" for i in range(n)]
    wh.append(
        "messages",
        pa.table(
            {
                "message_id": [f"m{i}" for i in range(n)],
                "user_id": ids,
                "channel": ["email"] * n,
                "status": ["sent" if i % 2 else "holdout" for i in range(n)],
                "grp": ["treatment" if i % 2 else "holdout" for i in range(n)],
                "sent_at": pa.array(
                    [AT_20 if i % 2 else None for i in range(n)], pa.timestamp("us", tz="UTC")
                ),
                "scheduled_at": pa.array([AT_20] * n, pa.timestamp("us", tz="UTC")),
            }
        ),
    )


@pytest.fixture
def oracle() -> Oracle:
    return Oracle.from_config(SimConfig.preset("small", seed=3))


def test_response_rates_sit_between_hillstroms_conversion_and_visit_rates(
    wh, oracle, data_home: Path
) -> None:
    """A simulated "response" is more than a purchase and less than a site visit: its control rate and its
    lift at a good hour fall between the real experiment's conversion and visit figures."""
    hill = load("hillstrom_email")["hillstrom.csv"]
    rates = hill[hill["segment"] != "Mens E-Mail"].groupby("segment")[["visit", "conversion"]].mean()
    control, treated = rates.loc["No E-Mail"], rates.loc["Womens E-Mail"]
    n = oracle.world.users.n
    everyone = [f"{oracle.prefix}u{i}" for i in range(n)]
    p_control = oracle.message_response(everyone, "email", 20, treated=False).mean()
    p_treated = oracle.message_response(everyone, "email", 20, treated=True).mean()
    assert control["conversion"] < p_control < control["visit"]
    assert (
        treated["conversion"] - control["conversion"]
        < p_treated - p_control
        < treated["visit"] - control["visit"]
    )

    messages_for(wh, oracle, n)  # half sent at 20:00, half held out: realised as the truth says
    got = respond_to_messages(wh, oracle, seed=1)
    assert got["answered"] == n
    per_group = dict(
        wh.sql(
            "SELECT m.grp, count(e.event_id) FROM messages m LEFT JOIN events e ON e.event_id = 'answer:' "
            "|| m.message_id GROUP BY 1"
        )
    )
    for grp, truth in (("treatment", got["true_rate_treated"]), ("holdout", got["true_rate_control"])):
        rate, half = per_group[grp] / (n / 2), n / 2
        assert abs(rate - truth) < 4 * (truth * (1 - truth) / half) ** 0.5
    bought = dict(wh.sql("SELECT source, count(*) FROM events WHERE type = 'purchase' GROUP BY 1"))
    assert bought == {"simulator-response": got["bought"]}
    opened = wh.sql("SELECT count(*) FROM messages WHERE opened_at IS NOT NULL")[0][0]
    assert opened == got["opened"] > 0


def test_answers_are_deterministic_and_given_once(wh, oracle) -> None:
    messages_for(wh, oracle, 400)
    first = respond_to_messages(wh, oracle, seed=5)
    events = wh.sql("SELECT count(*) FROM events")[0][0]
    again = respond_to_messages(wh, oracle, seed=5)
    assert wh.sql("SELECT count(*) FROM events")[0][0] == events  # nothing new
    assert again["bought"] == 0 and again["answered"] == 400 - first["bought"]
    wh.sql("DELETE FROM events")
    wh.sql("UPDATE messages SET opened_at = NULL")
    assert respond_to_messages(wh, oracle, seed=5)["bought"] == first["bought"]
