"""Real-time interest: next-category prediction from recent events (LSTM or self-attention, PyTorch).

``InterestModel`` is trained on event sequences before a cutoff; ``InterestState`` keeps one user's
recurrent state and updates it per event in constant time (no re-reading of history).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from liveloop.core.errors import InsufficientData
from liveloop.profiles.metrics import next_category_metrics

PAD, OOV = 0, 1


@contextmanager
def _one_thread() -> Iterator[None]:
    """Train on one intra-op thread: small models gain nothing from more, and busy-waiting threads
    slow everything else on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Copy(nn.Module):
    """Adds a learned, position-dependent boost to the logits of categories seen in the context."""

    def __init__(self, length: int):
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(0.0, 2.0, length))  # prior: recent categories recur

    def forward(self, logits: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        w = self.weight[-seq.shape[1] :].expand(seq.shape[0], -1) * (seq != PAD)
        return logits.scatter_add(1, seq, w)


class _LSTMNet(nn.Module):
    def __init__(self, vocab: int, dim: int, hidden: int, length: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=PAD)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        self.copy = _Copy(length)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(seq))
        return self.copy(self.out(h[:, -1]), seq)


class _AttentionNet(nn.Module):
    """One causal self-attention block (SASRec-style) over the last ``length`` events."""

    def __init__(self, vocab: int, dim: int, length: int, heads: int = 2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=PAD)
        self.pos = nn.Embedding(length, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.1, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.out = nn.Linear(dim, vocab)
        self.copy = _Copy(length)
        self.length = length

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        n = seq.shape[1]
        x = self.emb(seq) + self.pos(torch.arange(n))
        mask = nn.Transformer.generate_square_subsequent_mask(n)
        h = self.enc(x, mask=mask, is_causal=True)
        return self.copy(self.out(h[:, -1]), seq)


def sequences(events: pd.DataFrame) -> dict[str, list[str]]:
    """Category sequence per user from events (user_id, ts, category[, ref]), in time order."""
    keys = ["user_id", "ts", "ref"] if "ref" in events.columns else ["user_id", "ts"]
    ev = events.dropna(subset=["category"]).sort_values(keys, kind="stable")
    users = ev["user_id"].astype(str).to_numpy()
    cats = ev["category"].astype(str).to_numpy()
    cuts = np.flatnonzero(users[1:] != users[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(users)]
    return {str(users[a]): cats[a:b].tolist() for a, b in zip(starts, ends, strict=True) if b > a}


def holdout_cases(
    events: pd.DataFrame, split: pd.Timestamp, *, length: int = 20, max_test: int = 5000, seed: int = 0
) -> tuple[dict[str, list[str]], list[list[str]], list[str]]:
    """Sequences before ``split`` (to train on) and the held-out cases: every later event's category with
    the ``length`` categories before it as context (a seeded sample of at most ``max_test``)."""
    ts = pd.to_datetime(events["ts"], utc=True)
    seqs = sequences(events)
    train = sequences(events[ts < split])
    users = list(seqs)
    first = np.array([max(len(train.get(u, [])), 1) for u in users], dtype=np.int64)
    n = np.maximum(np.array([len(seqs[u]) for u in users], dtype=np.int64) - first, 0)
    total = int(n.sum())
    picked = np.arange(total)
    if total > max_test:
        picked = np.sort(np.random.default_rng(seed).choice(total, max_test, replace=False))
    ends = np.cumsum(n)
    which = np.searchsorted(ends, picked, side="right")
    contexts, truth = [], []
    for w, j in zip(which, picked - (ends - n)[which], strict=True):  # at most max_test cases
        cats, i = seqs[users[w]], int(first[w] + j)
        contexts.append(cats[max(0, i - length) : i])
        truth.append(cats[i])
    return train, contexts, truth


def recency_baseline(contexts: list[list[str]], truth: list[str]) -> dict[str, Any]:
    """The baseline beside every interest model: repeat the last category (top-1), the last 5 distinct."""
    last = [c[-1] for c in contexts]
    recent5 = [list(dict.fromkeys(reversed(c)))[:5] for c in contexts]
    return next_category_metrics(truth, last, recent5)


@dataclass
class InterestModel:
    """Next-category classifier over the last ``length`` events. ``arch``: 'lstm' or 'attention'."""

    arch: str = "lstm"
    length: int = 20
    vocab_size: int = 300
    dim: int = 32
    hidden: int = 48
    epochs: int = 2
    batch_size: int = 256
    max_windows: int = 8000
    lr: float = 3e-3
    seed: int = 0
    vocab_: dict[str, int] = field(default_factory=dict)
    net_: nn.Module | None = None

    def _encode(self, cats: list[str]) -> list[int]:
        return [self.vocab_.get(c, OOV) for c in cats]

    def _windows(self, seqs: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(context, next) training pairs: a seeded sample of at most ``max_windows`` transitions, each
        context the ``length`` tokens before it (left-padded), gathered with NumPy."""
        encoded = [np.asarray(self._encode(c), dtype=np.int64) for c in seqs.values() if len(c) > 1]
        if not encoded:
            return np.zeros((0, self.length), dtype=np.int64), np.zeros(0, dtype=np.int64)
        flat = np.concatenate(encoded)
        lengths = np.array([len(e) for e in encoded])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        per_seq = lengths - 1  # transitions per sequence
        total = int(per_seq.sum())
        picked = np.arange(total)
        if total > self.max_windows:  # bounded training cost
            picked = np.sort(np.random.default_rng(self.seed).choice(total, self.max_windows, replace=False))
        seq = np.searchsorted(np.cumsum(per_seq), picked, side="right")
        pos = starts[seq] + 1 + picked - (np.cumsum(per_seq) - per_seq)[seq]  # index of the target token
        idx = pos[:, None] + np.arange(-self.length, 0)[None, :]
        x = np.where(idx >= starts[seq][:, None], flat[np.maximum(idx, 0)], PAD)
        return x.astype(np.int64), flat[pos]

    def _build(self) -> nn.Module:
        vocab = len(self.vocab_) + 2
        if self.arch == "lstm":
            return _LSTMNet(vocab, self.dim, self.hidden, self.length)
        if self.arch == "attention":
            return _AttentionNet(vocab, self.dim, self.length)
        raise ValueError(f"unknown architecture {self.arch!r} (lstm or attention)")

    def fit(self, seqs: dict[str, list[str]]) -> InterestModel:
        counts = pd.Series([c for s in seqs.values() for c in s]).value_counts()
        if len(counts) < 2:
            raise InsufficientData("the interest model needs events in at least two categories")
        self.vocab_ = {str(c): i + 2 for i, c in enumerate(counts.index[: self.vocab_size])}
        x, y = self._windows(seqs)
        if len(y) < 10:
            raise InsufficientData(
                f"the interest model needs more event sequences (got {len(y)} transitions)"
            )
        with _one_thread():
            self.net_ = self._train(x, y)
        self.__dict__.pop("_numpy", None)
        return self

    def _train(self, x: np.ndarray, y: np.ndarray) -> nn.Module:
        torch.manual_seed(self.seed)
        net = self._build()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        loss_fn = nn.CrossEntropyLoss()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        gen = torch.Generator().manual_seed(self.seed)
        net.train()
        for _ in range(self.epochs):
            for idx in torch.randperm(len(yt), generator=gen).split(self.batch_size):
                opt.zero_grad()
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        net.eval()
        return net

    @property
    def categories(self) -> list[str]:
        return sorted(self.vocab_, key=self.vocab_.__getitem__)

    def scores(self, contexts: list[list[str]]) -> np.ndarray:
        """Logits over the vocabulary (columns: PAD, OOV, then ``categories``) for each context."""
        if self.net_ is None:
            raise InsufficientData("the interest model is not fitted")
        rows = []
        for cats in contexts:
            ids = self._encode(cats[-self.length :])
            rows.append([PAD] * (self.length - len(ids)) + ids)
        with torch.no_grad():
            logits = self.net_(torch.tensor(rows, dtype=torch.int64).reshape(-1, self.length)).numpy()
        logits[:, [PAD, OOV]] = -np.inf
        return logits

    def evaluate(self, contexts: list[list[str]], truth: list[str]) -> dict[str, Any]:
        """Top-1 accuracy, hit@5 and macro F1 on held-out (context, next category) cases."""
        if not truth:
            raise InsufficientData("no held-out events with a history to evaluate the interest model on")
        order = np.argsort(-self.scores(contexts), axis=1)[:, :5]
        cats = ["", "", *self.categories]
        top5 = [[cats[j] for j in row] for row in order]
        return next_category_metrics(truth, [t[0] for t in top5], top5)

    def predict_top(
        self, history: list[str], k: int = 5, exclude: set[str] | frozenset[str] = frozenset()
    ) -> list[tuple[str, float]]:
        """Top-k next categories with probabilities; categories in ``exclude`` (removed tags) never appear."""
        if not history:
            raise InsufficientData("no recent events to predict interest from")
        return _top(self.scores([history])[0], self.categories, k, exclude)

    def state(
        self, history: list[str] | None = None, exclude: set[str] | frozenset[str] = frozenset()
    ) -> InterestState:
        """A per-user incremental state seeded with ``history``."""
        st = InterestState(self, set(exclude))
        for cat in history or []:
            st.update(cat)
        return st

    def numpy_lstm(self) -> _NumpyLSTM | None:
        """The LSTM's weights in NumPy (cached), or None for the attention variant."""
        if not isinstance(self.net_, _LSTMNet):
            return None
        cached = self.__dict__.get("_numpy")
        if cached is None:
            cached = self.__dict__["_numpy"] = _NumpyLSTM(self.net_)
        return cached

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        torch.save(
            {
                "config": {k: v for k, v in self.__dict__.items() if k not in ("net_", "_numpy")},
                "state": self.net_.state_dict() if self.net_ else None,
            },
            buf,
        )
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> InterestModel:
        blob = torch.load(io.BytesIO(Path(path).read_bytes()), weights_only=False)
        model = cls(**blob["config"])
        if blob["state"] is not None:
            model.net_ = model._build()
            model.net_.load_state_dict(blob["state"])
            model.net_.eval()
        return model


def _top(
    logits: np.ndarray, cats: list[str], k: int, exclude: set[str] | frozenset[str]
) -> list[tuple[str, float]]:
    probs = np.exp(logits - logits.max())
    probs = probs / probs.sum()
    order = np.argsort(-probs)
    out: list[tuple[str, float]] = []
    for i in order:
        if i < 2:
            continue
        cat = cats[i - 2]
        if cat in exclude:
            continue
        out.append((cat, float(probs[i])))
        if len(out) == k:
            break
    return out


class _NumpyLSTM:
    """The trained LSTM's weights as NumPy arrays: one event is a few small mat-vecs (microseconds)."""

    def __init__(self, net: _LSTMNet):
        sd = {k: v.detach().numpy().astype(np.float64) for k, v in net.state_dict().items()}
        self.emb = sd["emb.weight"]
        self.w_ih, self.w_hh = sd["rnn.weight_ih_l0"], sd["rnn.weight_hh_l0"]
        self.bias = sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"]
        self.w_out, self.b_out = sd["out.weight"], sd["out.bias"]
        self.copy = sd["copy.weight"]
        self.hidden = self.w_hh.shape[1]
        self._initial: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def initial(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """The state after ``length`` padding steps: what the trained windows start from (cached)."""
        if length not in self._initial:
            h, c = np.zeros(self.hidden), np.zeros(self.hidden)
            for _ in range(length):
                h, c = self.step(PAD, h, c)
            self._initial[length] = (h, c)
        return self._initial[length]

    def step(self, token: int, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gates = self.w_ih @ self.emb[token] + self.w_hh @ h + self.bias
        i, f, g, o = np.split(gates, 4)  # PyTorch's gate order
        sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(g)
        return sig(o) * np.tanh(c), c

    def logits(self, h: np.ndarray, recent: list[int]) -> np.ndarray:
        out = self.w_out @ h + self.b_out
        for weight, token in zip(self.copy[-len(recent) :], recent, strict=True) if recent else ():
            if token != PAD:
                out[token] += weight
        return out


class InterestState:
    """One user's interest, updated per event in O(1): the LSTM carries (h, c) in NumPy; the attention
    variant keeps a ring buffer of the last ``length`` events and re-scores it when asked."""

    def __init__(self, model: InterestModel, exclude: set[str]):
        self.model = model
        self.exclude = exclude
        self._recent: deque[int] = deque(maxlen=model.length)
        net = model.net_
        if net is None:
            raise InsufficientData("the interest model is not fitted")
        self._lstm = model.numpy_lstm()
        start = self._lstm.initial(model.length) if self._lstm else (np.zeros(0), np.zeros(0))
        self._h: np.ndarray = start[0]
        self._c: np.ndarray = start[1]
        self.events_seen = 0

    def update(self, category: str) -> None:
        """Advance the state by one event of ``category`` (a category removed by the user is skipped)."""
        if str(category) in self.exclude:
            return
        token = self.model.vocab_.get(str(category), OOV)
        self.events_seen += 1
        self._recent.append(token)
        if self._lstm is not None:
            self._h, self._c = self._lstm.step(token, self._h, self._c)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        if not self._recent:
            raise InsufficientData("no events yet for this user")
        if self._lstm is None:
            cats = self.model.categories
            names = [cats[t - 2] if t >= 2 else "" for t in self._recent]
            return _top(self.model.scores([names])[0], cats, k, self.exclude)
        logits = self._lstm.logits(self._h, list(self._recent))
        logits[[PAD, OOV]] = -np.inf
        return _top(logits, self.model.categories, k, self.exclude)
