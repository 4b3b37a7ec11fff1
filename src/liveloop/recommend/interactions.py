"""Interactions: user-item events with fixed index spaces, the input every retriever fits on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from liveloop.core.errors import InsufficientData

#: Implicit-feedback weight of each event type (impressions are exposure, not interest).
EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.0,
    "rate": 1.0,
    "favorite": 2.0,
    "like": 1.0,
    "comment": 1.0,
    "share": 2.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
}


@dataclass
class Interactions:
    """Events as parallel arrays over fixed user and item index spaces.

    Subsets (train/test) share the index spaces of their parent, so scores, masks and
    metrics line up without re-mapping. ``items_meta`` (optional) is aligned with ``items``.
    """

    users: np.ndarray  # index -> user id (str)
    items: np.ndarray  # index -> item id (str)
    user_idx: np.ndarray  # int32 per event
    item_idx: np.ndarray  # int32 per event
    ts: np.ndarray  # int64 unix seconds per event
    weight: np.ndarray  # float32 per event
    items_meta: pd.DataFrame | None = None
    kind: np.ndarray | None = None  # event type per event (optional)
    live: np.ndarray | None = None  # (n, 3) int64: item index, start, end (unix s) of each live-room sale
    _matrix: sp.csr_matrix | None = field(default=None, repr=False, compare=False)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        user: str = "user_id",
        item: str = "item_id",
        ts: str = "ts",
        weight: str | None = "weight",
        kind: str | None = None,
        items_meta: pd.DataFrame | None = None,
        all_items: Any = None,
    ) -> Interactions:
        """Build from a DataFrame; ``items_meta`` is indexed by item id; ``all_items`` widens the items."""
        if df.empty and all_items is None:
            raise InsufficientData("no interactions to learn from (no events with a user and a product)")
        users, uidx = np.unique(df[user].astype(str).to_numpy(), return_inverse=True)
        item_ids = df[item].astype(str).to_numpy()
        catalogue = np.unique(item_ids)
        if all_items is not None:
            catalogue = np.union1d(catalogue, np.asarray(list(all_items), dtype=str))
        if items_meta is not None:
            catalogue = np.union1d(catalogue, items_meta.index.astype(str).to_numpy())
        iidx = np.searchsorted(catalogue, item_ids)
        times = df[ts]
        if pd.api.types.is_datetime64_any_dtype(times.dtype):
            tsec = (
                pd.to_datetime(times, utc=True).dt.tz_convert(None).astype("datetime64[s]").astype("int64")
            ).to_numpy()
        else:
            tsec = times.to_numpy().astype(np.int64)
        w = df[weight].to_numpy(np.float32) if weight else np.ones(len(df), np.float32)
        meta = None
        if items_meta is not None:
            meta = items_meta.copy()
            meta.index = meta.index.astype(str)
            meta = meta.reindex(catalogue)
        order = np.lexsort((np.arange(len(df)), tsec))  # stable by time
        return cls(
            users=users.astype(object),
            items=catalogue.astype(object),
            user_idx=uidx.astype(np.int32)[order],
            item_idx=iidx.astype(np.int32)[order],
            ts=tsec[order],
            weight=w[order],
            items_meta=meta,
            kind=df[kind].astype(str).to_numpy()[order] if kind else None,
        )

    def subset(self, mask: np.ndarray) -> Interactions:
        """The events where ``mask`` is true, over the same index spaces."""
        return replace(
            self,
            user_idx=self.user_idx[mask],
            item_idx=self.item_idx[mask],
            ts=self.ts[mask],
            weight=self.weight[mask],
            kind=None if self.kind is None else self.kind[mask],
            _matrix=None,
        )

    # -- views -------------------------------------------------------------------------------
    def live_share(self, start: float, end: float) -> np.ndarray:
        """Per item: the share of [start, end) during which it was on sale in a live room (0 without
        rooms; overlapping rooms count once at most)."""
        out = np.zeros(self.n_items, np.float32)
        if self.live is None or not len(self.live) or end <= start:
            return out
        item, lo, hi = self.live[:, 0], self.live[:, 1], self.live[:, 2]
        overlap = np.clip(np.minimum(hi, end) - np.maximum(lo, start), 0, None) / (end - start)
        np.add.at(out, item, overlap.astype(np.float32))
        return np.minimum(out, 1.0)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return len(self.user_idx)

    @property
    def matrix(self) -> sp.csr_matrix:
        """Users x items, summed weights (CSR, float32)."""
        if self._matrix is None:
            m = sp.csr_matrix(
                (self.weight, (self.user_idx, self.item_idx)),
                shape=(self.n_users, self.n_items),
                dtype=np.float32,
            )
            m.sum_duplicates()
            self._matrix = m
        return self._matrix

    def binary(self) -> sp.csr_matrix:
        m = self.matrix.copy()
        m.data[:] = 1.0
        return m

    def item_counts(self) -> np.ndarray:
        """Number of distinct users per item."""
        return np.asarray((self.matrix > 0).sum(axis=0)).ravel()

    def sequences(self, max_len: int = 50) -> list[np.ndarray]:
        """Each user's item indices in time order (last ``max_len``)."""
        order = np.lexsort((self.ts, self.user_idx))
        u, i = self.user_idx[order], self.item_idx[order]
        bounds = np.searchsorted(u, np.arange(self.n_users + 1))
        return [i[bounds[k] : bounds[k + 1]][-max_len:] for k in range(self.n_users)]

    def user_index(self) -> dict[str, int]:
        return {str(u): k for k, u in enumerate(self.users)}

    def item_index(self) -> dict[str, int]:
        return {str(i): k for k, i in enumerate(self.items)}

    @property
    def window(self) -> str:
        if len(self.ts) == 0:
            return ""
        lo, hi = pd.to_datetime([self.ts.min(), self.ts.max()], unit="s", utc=True)
        return f"{lo.isoformat()}/{hi.isoformat()}"
