"""Send time and channel per user, learned from the message log, with Thompson sampling for the unknown.

The response rate of user ``u`` on channel ``c`` at local hour ``h`` is modelled in three shrunk layers:

1. the population rate ``P[c, h]`` (Beta posterior over every user's sends in that cell);
2. the user's multipliers ``phi[u, c]`` (channel) and ``psi[u, h]`` (hour), Gamma–Poisson posteriors of
   observed over expected responses (expected = sends × ``P``) with a prior of mean 1 worth
   ``prior_strength`` messages; the hour layer smooths counts over neighbouring hours with a Gaussian
   kernel (``hour_bandwidth``), because response to a message fades gradually away from a user's
   active hours — hourly resolution is kept while a user's few sends inform the hours around them;
3. the cell itself, a Beta posterior with prior mean ``P * phi * psi / theta`` (``theta`` the user's
   overall multiplier, so the user level is not counted twice) and strength ``prior_strength``.

Factoring channel and hour lets ten sends inform all 4 × 24 cells of a user instead of ten of them.
``choose`` takes each user's best allowed cell: posterior means with ``explore=False``, one Thompson
draw through all three layers otherwise. Every choice carries its source and an English reason.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from liveloop.campaigns.policies import Policy
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

HOURS = 24
_CHUNK = 20_000  # users scored at once: bounds memory at about CHUNK x channels x 24 x 8 bytes per array
_POP_STRENGTH = 2.0  # pseudo-messages behind each population cell's prior (the overall rate)

_HISTORY_SQL = """
WITH sent AS (
    SELECT message_id, user_id, channel, sent_at,
           (opened_at IS NOT NULL OR clicked_at IS NOT NULL) AS responded
    FROM messages WHERE sent_at IS NOT NULL
),
ev AS (
    SELECT user_id, channel, ts FROM events
    WHERE type IN ('message_open', 'message_click')
),
by_channel AS (  -- a response event belongs to the latest earlier send to that user on its channel
    SELECT e.ts, e.user_id, e.channel, s.message_id, s.sent_at
    FROM (SELECT * FROM ev WHERE channel IS NOT NULL) e
    ASOF LEFT JOIN sent s ON e.user_id = s.user_id AND e.channel = s.channel AND e.ts >= s.sent_at
),
by_user AS (  -- an event without a channel belongs to the latest earlier send to that user
    SELECT e.ts, e.user_id, s.channel, s.message_id, s.sent_at
    FROM (SELECT * FROM ev WHERE channel IS NULL) e
    ASOF LEFT JOIN sent s ON e.user_id = s.user_id AND e.ts >= s.sent_at
),
matched AS (
    SELECT * FROM by_channel UNION ALL SELECT * FROM by_user
),
within AS (
    SELECT *, message_id IS NOT NULL AND ts - sent_at <= INTERVAL (?) HOUR AS attributed FROM matched
)
SELECT s.user_id, s.channel, hour(timezone(?, s.sent_at)) AS local_hour,
       s.responded OR s.message_id IN (SELECT message_id FROM within WHERE attributed) AS responded
FROM sent s
UNION ALL
SELECT user_id, channel, hour(timezone(?, ts)), TRUE
FROM within WHERE NOT attributed AND channel IS NOT NULL
"""


def history_from_warehouse(wh: Warehouse, *, tz: str, attribution_hours: int = 72) -> pd.DataFrame:
    """The message log as rows ``(user_id, channel, local_hour, responded)``, one per send.

    A send counts as a response when its ``opened_at`` or ``clicked_at`` is set, or when a
    ``message_open``/``message_click`` event follows it (same user, same channel when the event names
    one) within ``attribution_hours``. An open/click event with no logged send before it (history
    imported as events only) adds a responded row at the event's hour. ``local_hour`` is in ``tz``.
    """
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"unknown time zone {tz!r}", field="tz") from exc
    if attribution_hours < 0:
        raise ValidationFailed("attribution_hours must be 0 or more", field="attribution_hours")
    table = wh.arrow(_HISTORY_SQL, [int(attribution_hours), tz, tz])
    out = table.to_pandas()
    out["user_id"] = out["user_id"].astype(str)
    out["channel"] = out["channel"].astype(str)
    out["local_hour"] = out["local_hour"].astype(np.int64)
    out["responded"] = out["responded"].fillna(False).astype(bool)
    return out.reset_index(drop=True)


def _check_hours(hours: Iterable[int], field: str = "hours") -> np.ndarray:
    try:
        arr = np.unique(np.asarray(list(hours), dtype=np.int64))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("hours must be integers 0-23", field=field) from exc
    if arr.size == 0:
        raise ValidationFailed("at least one hour must be allowed", field=field)
    if arr.min() < 0 or arr.max() >= HOURS:
        raise ValidationFailed("hours must lie in 0-23", field=field)
    return arr


def _kernel(bandwidth: float) -> np.ndarray:
    """Circular (24, 24) smoothing matrix over hours with peak weight 1 (identity at bandwidth 0)."""
    d = np.abs(np.arange(HOURS)[:, None] - np.arange(HOURS)[None, :])
    d = np.minimum(d, HOURS - d)
    if bandwidth <= 0:
        return np.eye(HOURS)
    k = np.exp(-(d**2) / (2 * bandwidth**2))
    k[d > 3 * bandwidth] = 0.0
    return np.asarray(k)


class SendTimeModel:
    """Per-user best (channel, local hour) to send a message, learned online from responses.

    ``hours`` are the hours ``choose`` may pick by default (a quiet-hours policy is the caller's: pass
    e.g. ``range(9, 22)``); the model learns from sends at any hour. Users with fewer than
    ``min_history`` sends are "bandit" (explore) or "population" (exploit) choices. ``prior_strength``
    is the pseudo-messages at the population rate behind each user-level estimate. Thompson draws come
    from the posterior sharpened ``sharpen``-fold (same mean, variance / ``sharpen``): plain draws
    (``sharpen=1``) over 4 x 24 arms per user explore too much; docs/benchmarks/sendtime.md measures both.
    """

    def __init__(
        self,
        channels: Sequence[str],
        hours: Iterable[int] = range(HOURS),
        prior_strength: float = 20.0,
        seed: int = 0,
        *,
        hour_bandwidth: float = 1.0,
        min_history: int = 10,
        sharpen: float = 16.0,
    ):
        if isinstance(channels, str) or len(channels) == 0:
            raise ValidationFailed("channels must be a non-empty list of channel names", field="channels")
        if len(set(channels)) != len(channels) or not all(isinstance(c, str) and c for c in channels):
            raise ValidationFailed("channels must be distinct non-empty names", field="channels")
        if not prior_strength > 0:
            raise ValidationFailed("prior_strength must be positive", field="prior_strength")
        if hour_bandwidth < 0:
            raise ValidationFailed("hour_bandwidth must be 0 or more", field="hour_bandwidth")
        if not sharpen >= 1:
            raise ValidationFailed("sharpen must be 1 or more", field="sharpen")
        if min_history < 0:
            raise ValidationFailed("min_history must be 0 or more", field="min_history")
        self.channels: tuple[str, ...] = tuple(channels)
        self.hours: tuple[int, ...] = tuple(int(h) for h in _check_hours(hours))
        self.prior_strength = float(prior_strength)
        self.hour_bandwidth = float(hour_bandwidth)
        self.min_history = int(min_history)
        self.sharpen = float(sharpen)
        self.seed = int(seed)
        self._kern = _kernel(self.hour_bandwidth)
        self._reset()

    # -- state --------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._users = pd.Index([], dtype=object)
        width = len(self.channels) * HOURS
        self._keys: np.ndarray = np.empty(0, np.int64)  # sorted: user * width + channel * 24 + hour
        self._n: np.ndarray = np.empty(0, np.float64)  # sends per key
        self._k: np.ndarray = np.empty(0, np.float64)  # responses per key
        self._pop_n: np.ndarray = np.zeros(width)
        self._pop_k: np.ndarray = np.zeros(width)

    @property
    def n_users(self) -> int:
        """Users with at least one send seen."""
        return len(self._users)

    def _user_codes(self, user_ids: np.ndarray, *, add: bool) -> np.ndarray:
        codes = self._users.get_indexer(user_ids) if len(self._users) else np.full(len(user_ids), -1)
        if add and (codes < 0).any():
            new = pd.unique(user_ids[codes < 0])
            self._users = self._users.append(pd.Index(new, dtype=object))
            codes = self._users.get_indexer(user_ids)
        return np.asarray(codes, dtype=np.int64)

    # -- learning -----------------------------------------------------------------------------
    def fit(self, history: pd.DataFrame) -> SendTimeModel:
        """Forget everything, then learn from ``history`` (rows as from ``history_from_warehouse``)."""
        self._reset()
        self.update(history)
        return self

    def update(self, rows: pd.DataFrame) -> SendTimeModel:
        """Learn from sends ``(user_id, channel, local_hour | hour, responded)``; vectorised."""
        if not isinstance(rows, pd.DataFrame):
            raise ValidationFailed("rows must be a DataFrame", field="rows")
        hour_col = "local_hour" if "local_hour" in rows.columns else "hour"
        missing = {"user_id", "channel", hour_col, "responded"} - set(rows.columns)
        if missing:
            raise ValidationFailed(f"rows lack column(s) {', '.join(sorted(missing))}", field="rows")
        if rows.empty:
            return self
        chan = pd.Index(self.channels).get_indexer(rows["channel"].astype(str))
        if (chan < 0).any():
            bad = sorted(set(rows["channel"].astype(str)[chan < 0]))[:3]
            raise ValidationFailed(
                f"unknown channel(s) {', '.join(bad)}: one of {', '.join(self.channels)}", field="channel"
            )
        hour = pd.to_numeric(rows[hour_col], errors="coerce").to_numpy(dtype=np.float64)
        if not np.all((hour >= 0) & (hour < HOURS) & (hour == np.floor(hour))):
            raise ValidationFailed(f"{hour_col} must be whole hours 0-23", field=hour_col)
        hit = rows["responded"].fillna(False).to_numpy(dtype=bool).astype(np.float64)
        users = self._user_codes(rows["user_id"].astype(str).to_numpy(dtype=object), add=True)
        cell = chan.astype(np.int64) * HOURS + hour.astype(np.int64)
        width = len(self.channels) * HOURS
        self._pop_n += np.bincount(cell, minlength=width)
        self._pop_k += np.bincount(cell, weights=hit, minlength=width)
        keys = np.concatenate([self._keys, users * width + cell])
        n = np.concatenate([self._n, np.ones(len(cell))])
        k = np.concatenate([self._k, hit])
        self._keys, inverse = np.unique(keys, return_inverse=True)
        self._n = np.bincount(inverse, weights=n, minlength=len(self._keys))
        self._k = np.bincount(inverse, weights=k, minlength=len(self._keys))
        return self

    def learn_one(self, user_id: str, channel: str, hour: int, responded: bool) -> SendTimeModel:
        """River-style single update."""
        frame = pd.DataFrame(
            {"user_id": [user_id], "channel": [channel], "hour": [hour], "responded": [responded]}
        )
        return self.update(frame)

    # -- posterior ----------------------------------------------------------------------------
    def _counts(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense (B, C, 24) send and response counts for user codes (-1: no history)."""
        width = len(self.channels) * HOURS
        n = np.zeros((len(codes), width))
        k = np.zeros((len(codes), width))
        known = codes >= 0
        if known.any() and len(self._keys):
            lo = np.searchsorted(self._keys, codes[known] * width, side="left")
            hi = np.searchsorted(self._keys, (codes[known] + 1) * width, side="left")
            cnt = hi - lo
            rows = np.repeat(np.flatnonzero(known), cnt)
            idx = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
            cols = self._keys[idx] % width
            n[rows, cols] = self._n[idx]
            k[rows, cols] = self._k[idx]
        shape = (len(codes), len(self.channels), HOURS)
        return n.reshape(shape), k.reshape(shape)

    def _population(self) -> tuple[np.ndarray, np.ndarray]:
        """Beta parameters (C, 24) of the population rate per cell, shrunk to the overall rate."""
        rate = self.overall_rate()
        a = _POP_STRENGTH * rate + self._pop_k
        b = _POP_STRENGTH * (1 - rate) + self._pop_n - self._pop_k
        shape = (len(self.channels), HOURS)
        return a.reshape(shape), b.reshape(shape)

    def overall_rate(self) -> float:
        """Response rate over every send seen (1/2 before any)."""
        return float((self._pop_k.sum() + 1.0) / (self._pop_n.sum() + 2.0))

    def _score(
        self,
        n: np.ndarray,
        k: np.ndarray,
        pop_a: np.ndarray,
        pop_b: np.ndarray,
        explore: bool,
        cols: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, C, len(cols)) scores (a draw or the mean) and posterior-mean rates at the hours ``cols``."""
        rng = self._rng
        p_mean = pop_a / (pop_a + pop_b)
        m = self.prior_strength * self.overall_rate()  # prior pseudo-responses of each multiplier
        expected = n * p_mean
        theta = (m + k.sum((1, 2))) / (m + expected.sum((1, 2)))
        ch_a, ch_b = m + k.sum(2), m + expected.sum(2)
        kern = self._kern[:, cols]  # only the hours that may be chosen are scored (and drawn)
        hr_a, hr_b = m + k.sum(1) @ kern, m + expected.sum(1) @ kern
        s = self.prior_strength
        n, k, pop_a, pop_b = n[:, :, cols], k[:, :, cols], pop_a[:, cols], pop_b[:, cols]

        def cell(p: np.ndarray, phi: np.ndarray, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mu = np.clip(p * phi[:, :, None] * psi[:, None, :] / theta[:, None, None], 1e-6, 1 - 1e-6)
            return s * mu + k, s * (1 - mu) + n - k

        a, b = cell(p_mean[None, :, cols], ch_a / ch_b, hr_a / hr_b)
        mean = a / (a + b)
        if not explore:
            return mean, mean
        t = self.sharpen
        p = rng.beta(np.broadcast_to(pop_a, n.shape) * t, np.broadcast_to(pop_b, n.shape) * t)
        a, b = cell(p, rng.gamma(ch_a * t) / (ch_b * t), rng.gamma(hr_a * t) / (hr_b * t))
        return rng.beta(a * t, b * t), mean

    # -- choosing -----------------------------------------------------------------------------
    def _allowed(
        self, ids: np.ndarray, allowed_channels: Mapping[str, Sequence[str]] | Sequence[str]
    ) -> np.ndarray:
        """(B, C) mask of the channels each user may receive."""
        index = pd.Index(self.channels)

        def mask_of(chans: Sequence[str] | str, who: str) -> np.ndarray:
            listed = [chans] if isinstance(chans, str) else list(chans)
            if not listed:
                raise ValidationFailed(f"no channel allowed{who}", field="allowed_channels")
            pos = index.get_indexer(listed)
            if (pos < 0).any():
                bad = [c for c, p in zip(listed, pos, strict=True) if p < 0]
                raise ValidationFailed(
                    f"unknown channel(s) {', '.join(map(str, bad))}{who}: one of {', '.join(self.channels)}",
                    field="allowed_channels",
                )
            row = np.zeros(len(self.channels), bool)
            row[pos] = True
            return row

        if not isinstance(allowed_channels, Mapping):
            return np.broadcast_to(mask_of(allowed_channels, ""), (len(ids), len(self.channels)))
        combos: dict[tuple[str, ...], int] = {}
        try:  # one pass over the users; each distinct channel set is checked once
            code = np.fromiter(
                (combos.setdefault(tuple(allowed_channels[u]), len(combos)) for u in ids), np.int64, len(ids)
            )
        except KeyError as exc:
            raise ValidationFailed(
                f"no allowed channels given for user {exc.args[0]!r}", field="allowed_channels"
            ) from exc
        masks = (
            np.stack([mask_of(c, f" for some users ({', '.join(c) or 'empty list'})") for c in combos])
            if combos
            else np.zeros((0, len(self.channels)), bool)
        )
        return masks[code] if len(ids) else np.zeros((0, len(self.channels)), bool)

    def choose(
        self,
        user_ids: Sequence[str] | np.ndarray | pd.Series,
        allowed_channels: Mapping[str, Sequence[str]] | Sequence[str],
        *,
        explore: bool = True,
        hours: Iterable[int] | None = None,
    ) -> pd.DataFrame:
        """Each user's (channel, local hour): columns user_id, channel, hour, source, reason, expected_rate.

        ``allowed_channels`` is one list for everyone or a mapping user -> list (e.g. from consent);
        ``hours`` narrows the hours for this call (default: the model's ``hours``). ``expected_rate`` is
        the posterior-mean response probability of the chosen cell.
        """
        ids = np.asarray(pd.Series(user_ids, dtype=object).astype(str), dtype=object)
        allowed = self._allowed(ids, allowed_channels)
        cols = _check_hours(self.hours if hours is None else hours)
        codes = self._user_codes(ids, add=False)
        pop_a, pop_b = self._population()
        chan = np.empty(len(ids), np.int64)
        hour = np.empty(len(ids), np.int64)
        rate = np.empty(len(ids))
        sent = np.empty(len(ids))
        stats = np.empty((len(ids), 4))  # responses/sends on the chosen channel, then in the hour window
        for lo in range(0, len(ids), _CHUNK):
            sl = slice(lo, lo + _CHUNK)
            n, k = self._counts(codes[sl])
            score, mean = self._score(n, k, pop_a, pop_b, explore, cols)
            best = np.where(allowed[sl][:, :, None], score, -np.inf).reshape(len(n), -1).argmax(1)
            c, j = np.divmod(best, len(cols))
            h = cols[j]
            r = np.arange(len(n))
            chan[sl], hour[sl], rate[sl] = c, h, mean.reshape(len(n), -1)[r, best]
            sent[sl] = n.sum((1, 2))
            window = (h[:, None] + np.arange(-1, 2)[None, :]) % HOURS
            by_hour_n, by_hour_k = n.sum(1), k.sum(1)
            stats[sl] = np.column_stack(
                [
                    k.sum(2)[r, c],
                    n.sum(2)[r, c],
                    by_hour_k[r[:, None], window].sum(1),
                    by_hour_n[r[:, None], window].sum(1),
                ]
            )
        pop_rate = (pop_a / (pop_a + pop_b))[chan, hour]
        has_history = sent >= max(self.min_history, 1)
        source = np.where(has_history, "history", "bandit" if explore else "population")
        names = np.asarray(self.channels, dtype=object)[chan]
        return pd.DataFrame(
            {
                "user_id": ids,
                "channel": names,
                "hour": hour,
                "source": source,
                "reason": _reasons(names, hour, sent, stats, pop_rate, has_history, explore),
                "expected_rate": rate,
            }
        )

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model (counts, settings, random state) to one ``.npz`` file."""
        meta = {
            "channels": list(self.channels),
            "hours": list(self.hours),
            "prior_strength": self.prior_strength,
            "hour_bandwidth": self.hour_bandwidth,
            "min_history": self.min_history,
            "sharpen": self.sharpen,
            "seed": self.seed,
            "rng": self._rng.bit_generator.state,
        }
        path = Path(path)
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            meta=np.array(json.dumps(meta)),
            users=np.asarray(self._users, dtype=str),
            keys=self._keys,
            n=self._n,
            k=self._k,
            pop_n=self._pop_n,
            pop_k=self._pop_k,
        )
        path.write_bytes(buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> SendTimeModel:
        """A model written by ``save``."""
        with np.load(Path(path), allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["meta"]))
            model = cls(
                meta["channels"],
                meta["hours"],
                meta["prior_strength"],
                meta["seed"],
                hour_bandwidth=meta["hour_bandwidth"],
                min_history=meta["min_history"],
                sharpen=meta["sharpen"],
            )
            model._users = pd.Index(data["users"].astype(object), dtype=object)
            model._keys, model._n, model._k = data["keys"], data["n"], data["k"]
            model._pop_n, model._pop_k = data["pop_n"], data["pop_k"]
        model._rng.bit_generator.state = meta["rng"]
        return model


def _reasons(
    names: np.ndarray,
    hour: np.ndarray,
    sent: np.ndarray,
    stats: np.ndarray,
    pop_rate: np.ndarray,
    has_history: np.ndarray,
    explore: bool,
) -> np.ndarray:
    """One English sentence per choice, built column-wise."""

    def num(x: np.ndarray) -> pd.Series:
        return pd.Series(np.rint(x).astype(np.int64)).astype(str)

    def clock(h: np.ndarray) -> pd.Series:
        return pd.Series(h % HOURS).map("{:02d}:00".format)

    names_s = pd.Series(names, dtype=object).astype(str)
    pct = pd.Series(pop_rate * 100).map("{:.1f}%".format)
    at = names_s + " at " + clock(hour)
    history = (
        "responded to "
        + num(stats[:, 0])
        + " of "
        + num(stats[:, 1])
        + " "
        + names_s
        + " messages and "
        + num(stats[:, 2])
        + " of "
        + num(stats[:, 3])
        + " messages sent "
        + clock(hour - 1)
        + "–"
        + clock(hour + 2)
        + " ("
        + num(sent)
        + " in all)"
    )
    few = (num(sent) + " messages in history, too few to judge").where(sent > 0, "no message history")
    if explore:
        other = few + ": trying " + at + " (Thompson sampling; all users respond there " + pct + ")"
    else:
        other = few + ": " + at + ", where all users respond " + pct
    return history.where(has_history, other).to_numpy(dtype=object)


def preferences(wh: Warehouse, audience: Any, channels: list[str], policy: Policy) -> pd.DataFrame:
    """Each audience user's best (channel, local hour) outside quiet hours, learned from the message log
    (Thompson sampling for users with little history): what a campaign with ``send_time="learned"``
    uses. Columns ``user_id, channel, hour, reason``."""
    from liveloop.core.config import get_settings

    history = history_from_warehouse(wh, tz=get_settings().timezone)
    history = history[history["channel"].isin(channels)]
    hours = [h for h in range(24) if not policy.is_quiet(h)]
    model = SendTimeModel(channels, hours=hours or range(24), seed=0).fit(history)
    users = [r[0] for r in wh.sql(f"SELECT DISTINCT user_id FROM ({audience.query})", audience.params)]
    if not users:
        return pd.DataFrame({"user_id": [], "channel": [], "hour": [], "reason": []})
    return model.choose(users, channels)[["user_id", "channel", "hour", "reason"]]
