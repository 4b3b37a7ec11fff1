"""One time range for every write path (files, API, feedback, live rooms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from liveloop.core.clock import EARLIEST, checked_time, utcnow
from liveloop.core.errors import ValidationFailed


def test_times_inside_the_range_come_back_as_utc() -> None:
    assert checked_time(1_700_000_000, "ts") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    naive = datetime(2024, 5, 1, 12, 0)
    assert checked_time(naive, "ts") == naive.replace(tzinfo=UTC)
    assert checked_time(EARLIEST, "ts") == EARLIEST


@pytest.mark.parametrize(
    "value",
    [
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        -5,
        1e20,
        float("nan"),
        "2024-05-01",  # a string is parsed by the caller, never guessed here
        True,
        None,
        EARLIEST - timedelta(seconds=1),
    ],
)
def test_times_outside_the_range_or_not_times_are_refused_naming_the_field(value: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_time(value, "events[3].ts")
    assert refused.value.field == "events[3].ts"


def test_a_day_ahead_is_the_limit() -> None:
    assert checked_time(utcnow() + timedelta(hours=23), "ts")
    with pytest.raises(ValidationFailed):
        checked_time(utcnow() + timedelta(days=2), "ts")
