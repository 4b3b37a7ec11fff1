"""Sequential next-item models in PyTorch: SASRec (self-attention) and GRU4Rec (recurrent), small for CPU."""

from __future__ import annotations

import io
from typing import Any, Self

import numpy as np
import torch
from torch import nn

from liveloop.core.errors import InsufficientData
from liveloop.recommend.base import Retriever
from liveloop.recommend.interactions import Interactions


class _SASRecNet(nn.Module):
    def __init__(self, n_items: int, dim: int, max_len: int, layers: int, heads: int, dropout: float):
        super().__init__()
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        n = seq.shape[1]
        x = self.items(seq) * self.items.embedding_dim**0.5 + self.pos(torch.arange(n, device=seq.device))
        x = self.drop(x) * (seq > 0).unsqueeze(-1)  # padding (left) contributes nothing
        causal = torch.triu(torch.ones(n, n, dtype=torch.bool, device=seq.device), 1)
        return self.norm(self.encoder(x, mask=causal))


class _GRU4RecNet(nn.Module):
    def __init__(self, n_items: int, dim: int, max_len: int, layers: int, heads: int, dropout: float):
        super().__init__()
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.gru = nn.GRU(dim, dim, num_layers=layers, batch_first=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(self.drop(self.items(seq)))
        return h


class _Sequential(Retriever):
    """Trains next-item prediction with a sampled softmax; scores all items from the last hidden state."""

    net_class: type[nn.Module]
    net_: Any

    def __init__(
        self,
        dim: int = 64,
        max_len: int = 50,
        layers: int = 1,
        heads: int = 2,
        dropout: float = 0.2,
        epochs: int = 20,
        batch_size: int = 128,
        lr: float = 2e-3,
        negatives: int = 256,
        seed: int = 0,
    ):
        self.dim = dim
        self.max_len = max_len
        self.layers = layers
        self.heads = heads
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.negatives = negatives
        self.seed = seed

    def _pad(self, seqs: list[np.ndarray], length: int) -> np.ndarray:
        out = np.zeros((len(seqs), length), np.int64)
        for r, s in enumerate(seqs):
            s = s[-length:] + 1
            if len(s):
                out[r, -len(s) :] = s
        return out

    def fit(self, data: Interactions) -> Self:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_items_ = data.n_items
        self.histories_ = data.sequences(self.max_len)
        train = [s for s in self.histories_ if len(s) >= 2]
        if not train:
            raise InsufficientData("sequential models need users with at least two interactions")
        padded = torch.from_numpy(self._pad(train, self.max_len + 1))
        self.net_ = self.net_class(
            data.n_items, self.dim, self.max_len, self.layers, self.heads, self.dropout
        )
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        self.net_.train()
        for _ in range(self.epochs):
            for start in range(0, len(padded), self.batch_size):
                batch = padded[
                    torch.from_numpy(rng.permutation(len(padded))[start : start + self.batch_size])
                ]
                inp, tgt = batch[:, :-1], batch[:, 1:]
                h = self.net_(inp)[tgt > 0]  # (positions, dim)
                pos = tgt[tgt > 0]
                neg = torch.from_numpy(rng.integers(1, data.n_items + 1, self.negatives))
                cand = torch.cat([pos.unique(), neg]).unique()
                logits = h @ self.net_.items(cand).T
                labels = torch.searchsorted(cand, pos)
                loss = nn.functional.cross_entropy(logits, labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net_.eval()
        return self

    @torch.no_grad()
    def _score_padded(self, padded: np.ndarray) -> np.ndarray:
        seq = torch.from_numpy(padded)
        h = self.net_(seq)[:, -1]
        scores = (h @ self.net_.items.weight[1:].T).numpy().astype(np.float32)
        scores[padded[:, -1] == 0] = 0.0  # no history: no opinion
        return scores

    def score(self, users: np.ndarray) -> np.ndarray:
        return self._score_padded(self._pad([self.histories_[u] for u in users], self.max_len))

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return self._score_padded(self._pad([np.asarray(items, np.int64)], self.max_len))[0]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        if "net_" in state:
            buf = io.BytesIO()
            torch.save(state.pop("net_").state_dict(), buf)
            state["_net_state"] = buf.getvalue()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        blob = state.pop("_net_state", None)
        vars(self).update(state)
        if blob is not None:
            self.net_ = self.net_class(
                self.n_items_, self.dim, self.max_len, self.layers, self.heads, self.dropout
            )
            self.net_.load_state_dict(torch.load(io.BytesIO(blob), weights_only=True))
            self.net_.eval()


class SASRec(_Sequential):
    """Self-attentive sequential recommendation (Kang & McAuley 2018)."""

    name = "sasrec"
    net_class = _SASRecNet


class GRU4Rec(_Sequential):
    """Session-based recommendation with recurrent networks (Hidasi et al. 2016)."""

    name = "gru4rec"
    net_class = _GRU4RecNet
