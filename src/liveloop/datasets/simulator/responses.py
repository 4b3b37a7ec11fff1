"""The simulated users answer the messages liveloop sent them, as the world's ground truth says.

Every message of a simulated user in ``messages`` — sent (the treated) or held out (the control) — is
answered once: the user buys within ``window_h`` hours of the send time with the Oracle's probability
``message_response(user, channel, local hour, treated=sent)``; a treated buyer also opens the message
first. Purchases are ``purchase`` events (amount: the world's median order), opens are ``message_open``
events and ``messages.opened_at``; all carry ``source = 'simulator-response'``. In-app and live-room
messages answer as app push does (the same in-app surface); users of other worlds are left alone.
Deterministic given ``seed`` (each message's draws come from a hash of its id), so answering twice
changes nothing: a message already answered with a purchase is skipped, and a silent one draws silence
again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from liveloop.core.config import get_settings
from liveloop.datasets.simulator.config import MESSAGE_CHANNELS
from liveloop.datasets.simulator.oracle import Oracle
from liveloop.warehouse import Warehouse

SOURCE = "simulator-response"
AS_CHANNEL = {"in_app": "app_push", "live": "app_push", "webhook": "app_push"}


def respond_to_messages(
    wh: Warehouse, oracle: Oracle | None = None, *, seed: int = 0, window_h: float = 48.0
) -> dict[str, Any]:
    """Answer every message not answered yet; returns how many were answered, opened and bought."""
    oracle = oracle or Oracle.for_warehouse(wh)
    zone = ZoneInfo(get_settings().timezone)
    rows = wh.sql(
        "SELECT message_id, user_id, channel, grp = 'treatment' AND sent_at IS NOT NULL, "
        "coalesce(sent_at, scheduled_at) FROM messages m WHERE (grp = 'holdout' OR sent_at IS NOT NULL) "
        "AND starts_with(user_id, ?) AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = "
        "'answer:' || m.message_id) ORDER BY message_id",
        [f"{oracle.prefix}u"],
    )
    if not rows:
        return {"answered": 0, "opened": 0, "bought": 0}
    ids = np.array([r[0] for r in rows], dtype=object)
    users = np.array([r[1] for r in rows], dtype=object)
    channels = np.array([AS_CHANNEL.get(r[2], r[2]) for r in rows], dtype=object)
    treated = np.array([bool(r[3]) for r in rows])
    at: list[datetime] = [r[4] for r in rows]
    hours = np.array([t.astimezone(zone).hour for t in at])
    p = np.zeros(len(rows))
    for channel in MESSAGE_CHANNELS:
        for hour in np.unique(hours):
            for flag in (True, False):
                pick = (channels == channel) & (hours == hour) & (treated == flag)
                if pick.any():
                    p[pick] = oracle.message_response(users[pick], channel, int(hour), treated=flag)
    draws = np.array([_uniforms(m, seed) for m in ids]).reshape(len(rows), 2)
    bought = draws[:, 0] < p
    delay_s = (0.05 + 0.95 * draws[:, 1]) * window_h * 3600
    median = wh.sql("SELECT median(amount) FROM orders")[0][0] or 99
    buy_ts = [at[i].timestamp() + delay_s[i] for i in np.flatnonzero(bought)]
    opened = bought & treated
    open_ts = [at[i].timestamp() + delay_s[i] / 2 for i in np.flatnonzero(opened)]
    ts_type = pa.timestamp("us", tz="UTC")
    events = pa.table(
        {
            "event_id": [f"answer:{m}" for m in ids[bought]] + [f"open:{m}" for m in ids[opened]],
            "ts": pa.array([int(t * 1e6) for t in buy_ts + open_ts], ts_type),
            "user_id": list(users[bought]) + list(users[opened]),
            "type": ["purchase"] * int(bought.sum()) + ["message_open"] * int(opened.sum()),
            "amount": pa.array(
                [float(median)] * int(bought.sum()) + [None] * int(opened.sum()), pa.float64()
            ),
            "source": [SOURCE] * int(bought.sum() + opened.sum()),
        }
    )
    done = pa.table(
        {
            "message_id": list(ids[opened]),
            "opened": pa.array([int(t * 1e6) for t in open_ts], ts_type),
        }
    )
    with wh.transaction() as con:
        wh.append("events", events, con=con)
        con.register("_opened", done)
        try:
            con.execute(
                "UPDATE messages m SET opened_at = o.opened FROM _opened o "
                "WHERE m.message_id = o.message_id AND m.opened_at IS NULL"
            )
        finally:
            con.unregister("_opened")
    return {
        "answered": len(rows),
        "opened": int(opened.sum()),
        "bought": int(bought.sum()),
        "true_rate_treated": float(p[treated].mean()) if treated.any() else None,
        "true_rate_control": float(p[~treated].mean()) if (~treated).any() else None,
    }


def _uniforms(message_id: str, seed: int) -> tuple[float, float]:
    digest = hashlib.blake2b(f"{seed}:{message_id}".encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8]) / 2**64, int.from_bytes(digest[8:]) / 2**64
