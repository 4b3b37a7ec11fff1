"""``readers.prefetched``: the next chunks are read by a thread, in order, bounded, and stopped cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from liveloop.ingest.readers import prefetched


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "liveloop-reader"]


def test_items_in_order_and_the_thread_ends() -> None:
    assert list(prefetched(range(50))) == list(range(50))
    assert _readers() == []


def test_an_error_reaches_the_caller_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3: bad bytes")

    got = []
    with pytest.raises(ValueError, match="line 3"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2]


def test_reads_at_most_depth_ahead_and_an_early_stop_closes_the_source() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # the thread runs ahead as far as it may
    assert len(produced) == 3  # the one taken and two waiting; the next is not started
    assert next(items) == 1
    time.sleep(0.3)
    assert len(produced) == 4
    items.close()  # the caller stops (an error, Ctrl-C)
    assert closed.wait(2)
    assert _readers() == []
