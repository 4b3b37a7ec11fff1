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

    def learn_one(self, user_id: str, item_id: str, kind: str, ts: float | None = None) -> None:
        """Record one feedback event (River-style)."""
        ts = ts if ts is not None else time.time()
        with self._lock:
            state = self._users.pop(user_id, None) or UserState()
            self._users[user_id] = state
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
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

    def user(self, user_id: str) -> UserState | None:
        with self._lock:
            return self._users.get(user_id)

    def forget(self, user_id: str) -> None:
        """Erase a user's online state (erasure requests, opting out)."""
        with self._lock:
            self._users.pop(user_id, None)
            self.version += 1

    def thompson(
        self, items: list[str], rng: np.random.Generator, prior: tuple[float, float] = (1.0, 20.0)
    ) -> str:
        """Sample each item's CTR from Beta(clicks + a, shows - clicks + b); return the best draw."""
        a0, b0 = prior
        with self._lock:
            clicks = np.array([self._clicks.get(i, 0) for i in items], float)
            shows = np.array([self._shows.get(i, 0) for i in items], float)
        draws = rng.beta(clicks + a0, np.maximum(shows - clicks, 0) + b0)
        return items[int(np.argmax(draws))]

    def __len__(self) -> int:
        return len(self._users)
