"""Online state: each user's recent feedback (bounded) and per-item click-through for Thompson sampling."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np

#: How much each feedback type says about interest (impressions alone are mild negatives).
FEEDBACK_WEIGHTS = {
    "impression": 0.0,
    "view": 1.0,
    "click": 1.0,
    "favorite": 2.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
}


@dataclass
class UserState:
    recent: deque[tuple[str, str, float]] = field(default_factory=lambda: deque(maxlen=50))  # item, type, ts
    impressions: dict[str, int] = field(default_factory=dict)
    purchased: dict[str, float] = field(default_factory=dict)  # item -> ts
    version: int = 0  # the global update counter at this user's last change (cache stamps)


class OnlineState:
    """Thread-safe, bounded: at most ``max_users`` users (least recently active evicted)."""

    def __init__(self, max_users: int = 100_000, max_items: int = 1_000_000):
        self.max_users = max_users
        self.max_items = max_items
        self._users: OrderedDict[str, UserState] = OrderedDict()
        self._shows: dict[str, int] = {}
        self._clicks: dict[str, int] = {}
        self._lock = threading.Lock()
        self.version = 0  # bumps on every update, for cache invalidation
        self._prior: tuple[tuple[float, float], np.ndarray, int] | None = None  # pre-drawn prior samples

    def learn_one(self, user_id: str, item_id: str, kind: str, ts: float | None = None) -> None:
        """Record one feedback event (River-style)."""
        ts = ts if ts is not None else time.time()
        with self._lock:
            state = self._active(user_id)
            if kind == "impression":
                state.impressions[item_id] = state.impressions.get(item_id, 0) + 1
                if len(state.impressions) > 500:
                    state.impressions.pop(next(iter(state.impressions)))
                if item_id in self._shows or len(self._shows) < self.max_items:
                    self._shows[item_id] = self._shows.get(item_id, 0) + 1
            else:
                state.recent.append((item_id, kind, ts))
                if kind == "click" and (item_id in self._clicks or len(self._clicks) < self.max_items):
                    self._clicks[item_id] = self._clicks.get(item_id, 0) + 1
                if kind == "purchase":
                    state.purchased[item_id] = ts
            self.version += 1
            state.version = self.version

    def _active(self, user_id: str) -> UserState:
        """The user's state, created if needed and marked most recently active (lock held)."""
        state = self._users.get(user_id)
        if state is None:
            state = self._users[user_id] = UserState()
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user_id)  # never absent in between: lock-free readers see it
        return state

    def user(self, user_id: str) -> UserState | None:
        return self._users.get(user_id)  # a dict read is atomic; updates happen under the lock

    def user_version(self, user_id: str) -> int:
        """0 for a user without online state, else the counter value at their last change."""
        state = self._users.get(user_id)
        return state.version if state is not None else 0

    def touch(self, user_ids: list[str]) -> None:
        """Mark users as changed (their model rows were refitted) so cached lists are rebuilt."""
        with self._lock:
            for user_id in user_ids:
                state = self._active(user_id)
                self.version += 1
                state.version = self.version

    def ctr_stats(self, items: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Clicks and impressions seen online for each item."""
        with self._lock:
            clicks = np.array([self._clicks.get(i, 0) for i in items], float)
            shows = np.array([self._shows.get(i, 0) for i in items], float)
        return clicks, shows

    def forget(self, user_id: str) -> None:
        """Erase a user's online state (erasure requests, opting out)."""
        with self._lock:
            self._users.pop(user_id, None)
            self.version += 1

    def thompson(
        self, items: list[str], rng: np.random.Generator, prior: tuple[float, float] = (1.0, 20.0)
    ) -> str:
        """Sample each item's CTR from Beta(clicks + a, shows - clicks + b); return the best draw.

        Items never shown online take their draws from a buffer of prior samples drawn in bulk (the
        same distribution, far fewer calls into the generator on the serving path).
        """
        a0, b0 = prior
        clicks, shows = self.ctr_stats(items)
        draws = self._prior_draws(prior, len(items), rng)
        seen = (shows > 0) | (clicks > 0)
        if seen.any():
            draws[seen] = rng.beta(clicks[seen] + a0, np.maximum(shows[seen] - clicks[seen], 0) + b0)
        return items[int(np.argmax(draws))]

    def _prior_draws(self, prior: tuple[float, float], n: int, rng: np.random.Generator) -> np.ndarray:
        with self._lock:
            buf = self._prior
            if buf is None or buf[0] != prior or buf[2] + n > len(buf[1]):
                buf = (prior, rng.beta(prior[0], prior[1], max(4096, n)), 0)
            self._prior = (prior, buf[1], buf[2] + n)
            return buf[1][buf[2] : buf[2] + n].copy()

    def __len__(self) -> int:
        return len(self._users)
