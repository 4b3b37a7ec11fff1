"""Near-identical comments: a skeleton of each text and MinHash groups of skeletons (character bigrams).

Fake-engagement scripts post one template with small variations (an emoji, punctuation, a repeated
character, a changed digit). The skeleton removes what does not change the message (case, width,
punctuation, emoji, spaces, repeated characters and repeated short units: ``哈哈哈哈`` → ``哈``); MinHash
with banded locality-sensitive hashing then joins skeletons whose character-bigram Jaccard similarity is
at least ``threshold`` (each join verified exactly), so ``主播太美了已下单3件`` and ``主播太美了已下单两件``
fall in one group. Only distinct texts are processed, so the cost follows the vocabulary, not the volume.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable

import numpy as np

_RUNS = re.compile(r"(.{1,4}?)\1+")
_PRIME = (1 << 61) - 1
#: MinHash permutations, split into bands of rows: 16 bands of 2 rows find pairs from Jaccard ≈ 0.25 up.
N_PERM = 32
ROWS = 2


def skeleton(text: str) -> str:
    """The comparable core of a comment: NFKC, lower case, letters and digits only, repeats collapsed."""
    t = unicodedata.normalize("NFKC", text).lower()
    kept = "".join(ch for ch in t if ch.isalnum())
    if not kept:  # only punctuation or emoji ("？？？", "!!!"): its symbols are the message
        kept = "".join(ch for ch in t if not ch.isspace())
    return _RUNS.sub(r"\1", kept)


def shingles(skel: str) -> set[str]:
    """Character bigrams (the whole text when it has one character)."""
    if len(skel) < 2:
        return {skel}
    return {skel[i : i + 2] for i in range(len(skel) - 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _signatures(sets: list[set[str]], seed: int = 20240601) -> np.ndarray:
    """MinHash signatures (len(sets) × N_PERM) of universal hashes of each shingle's CRC-32."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, N_PERM, dtype=np.uint64)
    b = rng.integers(0, _PRIME, N_PERM, dtype=np.uint64)
    sig = np.empty((len(sets), N_PERM), dtype=np.uint64)
    chunk = 4096
    for lo in range(0, len(sets), chunk):
        part = sets[lo : lo + chunk]
        lengths = np.fromiter((len(s) for s in part), dtype=np.int64, count=len(part))
        hashes = np.fromiter(
            (zlib.crc32(x.encode()) for s in part for x in s), dtype=np.uint64, count=int(lengths.sum())
        )
        # (a * h + b) mod p in uint64 (wrapping) is a fine permutation proxy for 32-bit inputs
        mixed = (hashes[None, :] * a[:, None] + b[:, None]) % np.uint64(_PRIME)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        sig[lo : lo + len(part)] = np.minimum.reduceat(mixed, starts, axis=1).T
    return sig


class _Union:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        p = self.parent
        root = i
        while p[root] != root:
            root = p[root]
        while p[i] != root:
            p[i], i = root, p[i]
        return root

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def group_texts(texts: Iterable[str], threshold: float = 0.6) -> dict[str, int]:
    """``{text: group}``: texts whose skeletons are equal, or similar at ``threshold`` (bigram Jaccard,
    single linkage over verified LSH candidates), share a group number."""
    texts = sorted(set(texts))  # the grouping does not depend on the order the texts came in
    skels = [skeleton(t) for t in texts]
    distinct = list(dict.fromkeys(skels))
    index = {s: i for i, s in enumerate(distinct)}
    sets = [shingles(s) for s in distinct]
    uf = _Union(len(distinct))
    if len(distinct) > 1:
        sig = _signatures(sets)
        for band in range(N_PERM // ROWS):
            cols = sig[:, band * ROWS : (band + 1) * ROWS]
            keys = cols[:, 0] * np.uint64(1_000_003) ^ cols[:, 1]
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
            for bucket in np.split(order, cuts):
                if len(bucket) < 2:
                    continue
                first = int(bucket[0])
                for other in bucket[1:]:
                    j = int(other)
                    if uf.find(first) != uf.find(j) and jaccard(sets[first], sets[j]) >= threshold:
                        uf.union(first, j)
    return {t: int(uf.find(index[s])) for t, s in zip(texts, skels, strict=True)}
