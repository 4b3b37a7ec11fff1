"""Offline scoring of a comments file (CSV, JSON lines or Parquet): sentiment, intent, aspects, mention."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.live.mentions import MentionMatcher
from liveloop.live.training import load_model

CHUNK = 20_000


def read_table(path: Path) -> pd.DataFrame:
    """A CSV / JSON-lines / Parquet file as a DataFrame; unreadable input is a ValidationFailed."""
    if not path.is_file():
        raise ValidationFailed(f"no such file: {path}", field="file")
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
            return pd.read_json(path, lines=True)
        return pd.read_csv(path, encoding_errors="replace", dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValidationFailed(f"cannot read {path.name}: {str(exc).splitlines()[0]}", field="file") from None


def score_file(
    path: Path,
    text_column: str,
    out: Path | None = None,
    *,
    lineup: list[dict[str, Any]] | None = None,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score every row's ``text_column``; write ``out`` atomically (whole file or nothing) when given."""
    df = read_table(path)
    if text_column not in df.columns:
        raise ValidationFailed(
            f"column {text_column!r} not in {path.name} (columns: {', '.join(map(str, df.columns[:20]))})",
            field="text_column",
        )
    model = load_model(settings)
    matcher = MentionMatcher.from_lineup(lineup) if lineup else None
    texts = df[text_column].tolist()
    parts = []
    for start in range(0, len(texts), CHUNK):
        parts.append(model.analyze(texts[start : start + CHUNK], matcher).frame())
        if progress:
            progress(min(start + CHUNK, len(texts)), len(texts))
    scored = (
        pd.concat([df.reset_index(drop=True), pd.concat(parts, ignore_index=True)], axis=1) if parts else df
    )
    if out is not None:
        tmp = out.with_name(f".{out.name}.tmp")
        if out.name.lower().endswith(".parquet"):
            scored.to_parquet(tmp, index=False)
        else:
            scored.to_csv(tmp, index=False)
        os.replace(tmp, out)
    summary = {
        "rows": len(scored),
        "out": str(out) if out else None,
        "sentiment": scored["sentiment"].value_counts().to_dict() if len(scored) else {},
        "intent": scored["intent"].value_counts().to_dict() if len(scored) else {},
    }
    return scored, summary
