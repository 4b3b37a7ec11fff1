"""Recorded live-room logs as event streams, and replaying them at real or scaled speed.

Two sources: the real Bilibili evening (``bilibili_live_room_events_20211230``: danmaku, gifts, super
chats, memberships, enters, follows and online counts) and any event file (CSV, JSON lines or Parquet
with liveloop's ``events`` columns, e.g. a simulator session exported from the warehouse).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets import data_file
from liveloop.live.events import EVENT_TYPES

BILIBILI = "bilibili_live_room_events_20211230"
BILIBILI_ROOM = 11365  # the big room of the evening (41,113 danmaku)


def _bili(name: str, settings: Settings | None) -> pd.DataFrame:
    return pd.read_csv(data_file(BILIBILI, name, settings))


def bilibili_events(room_id: int = BILIBILI_ROOM, settings: Settings | None = None) -> pd.DataFrame:
    """The room's real events in time order: type, ts (epoch s), user_id, text, amount (CNY), count."""
    frames = []
    dm = _bili("danmaku.csv.gz", settings)
    dm = dm[dm["room_id"] == room_id]
    frames.append(
        pd.DataFrame(
            {
                "type": "comment",
                "delta_s": dm["delta_s"],
                "ts0": dm["ts"],
                "user_id": "n" + dm["user_name_hash"].astype(str),
                "text": dm["text"].astype(str),
            }
        )
    )
    gifts = _bili("gifts.csv.gz", settings)
    gifts = gifts[gifts["room_id"] == room_id]
    paid = (gifts["coin_type"] == "gold").astype(float)
    frames.append(
        pd.DataFrame(
            {
                "type": "gift",
                "delta_s": gifts["delta_s"],
                "ts0": gifts["ts"],
                "user_id": "u" + gifts["user_hash"].astype(str),
                "amount": gifts["total_coin"].astype(float) / 1000 * paid,
            }
        )
    )
    sc = _bili("super_chat.csv", settings)
    sc = sc[sc["room_id"] == room_id]
    frames.append(
        pd.DataFrame(
            {
                "type": "gift",
                "delta_s": sc["delta_s"],
                "ts0": sc["ts"],
                "user_id": "u" + sc["user_hash"].astype(str),
                "amount": sc["price_cny"].astype(float),
            }
        )
    )
    frames.append(
        pd.DataFrame(
            {
                "type": "comment",
                "delta_s": sc["delta_s"],
                "ts0": sc["ts"],
                "user_id": "u" + sc["user_hash"].astype(str),
                "text": sc["message"].astype(str),
            }
        )
    )
    inter = _bili("interact.csv.gz", settings)
    inter = inter[inter["room_id"] == room_id]
    frames.append(
        pd.DataFrame(
            {
                "type": inter["msg_type"].map({1: "enter", 2: "follow"}).fillna("enter"),
                "delta_s": inter["delta_s"],
                "ts0": inter["ts"],
                "user_id": "u" + inter["user_hash"].astype(str),
            }
        )
    )
    online = _bili("online_rank_count.csv.gz", settings)
    online = online[online["room_id"] == room_id]
    frames.append(
        pd.DataFrame(
            {
                "type": "viewers",
                "delta_s": online["delta_s"],
                "ts0": online["ts"],
                "count": online["count"].astype(int),
            }
        )
    )
    df = pd.concat(frames, ignore_index=True).sort_values("delta_s", kind="stable").reset_index(drop=True)
    if df.empty:
        raise ValidationFailed(f"no events for Bilibili room {room_id}", field="room")
    start = pd.Timestamp(df["ts0"].iloc[0]).timestamp() - float(df["delta_s"].iloc[0])
    df["ts"] = start + df["delta_s"].astype(float)
    return df.drop(columns=["delta_s", "ts0"])


def file_events(path: Path, session_id: str | None = None) -> pd.DataFrame:
    """Events from a CSV / JSON-lines / Parquet file with at least ``type`` and ``ts`` columns."""
    if not path.is_file():
        raise ValidationFailed(f"no such file: {path}", field="file")
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            df = pd.read_parquet(path)
        elif name.endswith((".jsonl", ".json", ".jsonl.gz", ".ndjson")):
            df = pd.read_json(path, lines=True)
        else:
            df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationFailed(f"cannot read {path.name}: {exc}".splitlines()[0], field="file") from None
    missing = {"type", "ts"} - set(df.columns)
    if missing:
        raise ValidationFailed(f"{path.name} lacks column(s) {', '.join(sorted(missing))}", field="file")
    if session_id is not None and "session_id" in df.columns:
        df = df[df["session_id"].astype(str) == session_id]
    df = df[df["type"].astype(str).str.lower().isin(EVENT_TYPES)].copy()
    ts = (
        pd.to_datetime(df["ts"], utc=True, errors="coerce")
        if not pd.api.types.is_numeric_dtype(df["ts"])
        else None
    )
    df["ts"] = (ts.astype("int64") / 1e9) if ts is not None else df["ts"].astype(float)
    return df.dropna(subset=["ts"]).sort_values("ts", kind="stable").reset_index(drop=True)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready event dicts (NaN dropped per field)."""
    keep = [
        c
        for c in ("type", "ts", "user_id", "text", "product_id", "amount", "quantity", "count", "props")
        if c in df.columns
    ]
    out = []
    for row in df[keep].itertuples(index=False):
        out.append({k: v for k, v in zip(keep, row, strict=True) if not (isinstance(v, float) and v != v)})
    return out


@dataclass
class ReplayStats:
    events: int = 0
    batches: int = 0
    dropped: int = 0
    wall_s: float = 0.0
    span_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "batches": self.batches,
            "dropped": self.dropped,
            "wall_s": round(self.wall_s, 2),
            "log_span_s": round(self.span_s, 1),
        }


def batches(
    events: list[dict[str, Any]], speed: float, max_batch: int = 1000, tick: float = 0.05
) -> Iterator[list[dict[str, Any]]]:
    """Events grouped as they fall due at ``speed``× real time (``speed`` <= 0: as fast as possible)."""
    if not events:
        return
    t0, started = float(events[0]["ts"]), time.monotonic()
    i = 0
    while i < len(events):
        if speed > 0:
            due_log = t0 + (time.monotonic() - started + tick) * speed
            j = i
            while j < len(events) and j - i < max_batch and float(events[j]["ts"]) <= due_log:
                j += 1
            if j == i:
                wait = (float(events[i]["ts"]) - t0) / speed - (time.monotonic() - started)
                time.sleep(min(max(wait, 0.001), tick))
                continue
        else:
            j = min(i + max_batch, len(events))
        yield events[i:j]
        i = j


def replay(
    events: list[dict[str, Any]],
    sink: Callable[[list[dict[str, Any]]], dict[str, int]],
    speed: float,
    limit_s: float | None = None,
    on_batch: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    """Feed ``events`` to ``sink`` batch by batch at ``speed``; stop after ``limit_s`` wall seconds."""
    stats = ReplayStats(span_s=float(events[-1]["ts"]) - float(events[0]["ts"]) if events else 0.0)
    started = time.monotonic()
    for batch in batches(events, speed):
        result = sink(batch)
        stats.events += len(batch)
        stats.batches += 1
        stats.dropped += int(result.get("dropped", 0))
        stats.wall_s = time.monotonic() - started
        if on_batch is not None:
            on_batch(stats)
        if limit_s is not None and stats.wall_s >= limit_s:
            break
    stats.wall_s = time.monotonic() - started
    return stats
