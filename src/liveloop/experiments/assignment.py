"""Deterministic, sticky assignment by hashed user id.

A layer's users fall into :data:`BUCKETS` buckets by a hash of (layer, user): its holdout takes the first
buckets, and each experiment of the layer a contiguous range of the rest, so experiments of one layer
never share a user (mutual exclusion) while experiments of different layers are independent. Inside an
experiment a second hash, salted per experiment, picks the arm by the arms' weights. The same inputs give
the same arm on every machine and call; nothing is stored to keep it sticky.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BUCKETS = 10_000
_SCALE = float(2**64)


def unit_hash(*parts: str) -> float:
    """A uniform number in [0, 1) from the parts (BLAKE2b, 8 bytes)."""
    digest = hashlib.blake2b(":".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def bucket(layer: str, layer_salt: str, user_id: str) -> int:
    """The user's bucket of a layer, 0 ≤ bucket < :data:`BUCKETS`."""
    return int(unit_hash("layer", layer, layer_salt, user_id) * BUCKETS)


def pick_arm(salt: str, user_id: str, cumulative: Sequence[float]) -> int:
    """Index of the arm whose share of [0, 1) holds the user's hash (``cumulative`` ends at 1)."""
    u = unit_hash("arm", salt, user_id)
    return int(np.searchsorted(np.asarray(cumulative), u, side="right"))


@dataclass(frozen=True)
class Placement:
    """Where a user landed: in ``arm`` of the experiment, or outside it and why."""

    arm: str | None
    reason: str  # "assigned" | "holdout" | "not_in_traffic" | "stopped_arm"
    served_arm: str | None = None  # the arm whose configuration to serve (control for a stopped arm)


def cumulative(weights: Sequence[float]) -> list[float]:
    """Cumulative shares of the weights, the last exactly 1."""
    total = float(sum(weights))
    out, acc = [], 0.0
    for w in weights:
        acc += float(w) / total
        out.append(acc)
    out[-1] = 1.0
    return out


def place(
    user_id: str,
    *,
    layer: str,
    layer_salt: str,
    holdout_buckets: int,
    bucket_range: tuple[int, int],
    salt: str,
    arms: Sequence[str],
    weights: Sequence[float],
    stopped: Sequence[str] = (),
) -> Placement:
    """The user's placement in one experiment (see the module docstring)."""
    b = bucket(layer, layer_salt, user_id)
    if b < holdout_buckets:
        return Placement(None, "holdout")
    lo, hi = bucket_range
    if not lo <= b < hi:
        return Placement(None, "not_in_traffic")
    arm = arms[pick_arm(salt, user_id, cumulative(weights))]
    if arm in stopped:
        return Placement(arm, "stopped_arm", served_arm=arms[0])
    return Placement(arm, "assigned", served_arm=arm)


def free_range(taken: Sequence[tuple[int, int]], start: int, size: int) -> tuple[int, int] | None:
    """The first gap of ``size`` buckets in [start, BUCKETS) outside the ``taken`` ranges, or None."""
    pos = start
    for lo, hi in sorted(taken):
        if lo - pos >= size:
            return pos, pos + size
        pos = max(pos, hi)
    return (pos, pos + size) if BUCKETS - pos >= size else None
