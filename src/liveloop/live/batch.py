"""Offline scoring of a comments file (CSV, JSON lines or Parquet): sentiment, intent, aspects, mention."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.ingest.tables import read_table
from liveloop.live.mentions import MentionMatcher
from liveloop.live.training import load_model

CHUNK = 20_000
#: Columns taken as the comment text when ``--text-column`` is not given (the first present wins).
TEXT_COLUMNS = ("text", "comment", "content", "danmaku", "弹幕", "评论", "内容")


def text_column_of(df: pd.DataFrame, text_column: str | None, name: str) -> str:
    """The column holding the comments: the one asked for, else the only column, else a usual name."""
    columns = [str(c) for c in df.columns]
    if text_column is None:
        if len(columns) == 1:
            return columns[0]
        text_column = next((c for c in TEXT_COLUMNS if c in columns), None)
        if text_column is None:
            raise ValidationFailed(
                f"which column of {name} holds the comments? pass --text-column "
                f"(columns: {', '.join(columns[:20])})",
                field="text_column",
            )
    if text_column not in columns:
        raise ValidationFailed(
            f"column {text_column!r} not in {name} (columns: {', '.join(columns[:20])})",
            field="text_column",
        )
    return text_column


def score_file(
    path: Path,
    text_column: str | None,
    out: Path | None = None,
    *,
    lineup: list[dict[str, Any]] | None = None,
    settings: Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
    encoding: str | None = None,
    kind: str = "live",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score every row's ``text_column`` (None: see :func:`text_column_of`; ``kind``: live comments, or
    reviews for sentiment by the review polarity head); write ``out`` atomically (whole file or nothing)
    when given."""
    df, used = read_table(path, encoding)
    text_column = text_column_of(df, text_column, path.name)
    model = load_model(settings)
    matcher = MentionMatcher.from_lineup(lineup) if lineup else None
    texts = df[text_column].tolist()
    parts = []
    for start in range(0, len(texts), CHUNK):
        parts.append(model.analyze(texts[start : start + CHUNK], matcher, kind=kind).frame())
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
        "encoding": used,
        "kind": kind,
        "sentiment": scored["sentiment"].value_counts().to_dict() if len(scored) else {},
        "intent": scored["intent"].value_counts().to_dict() if len(scored) else {},
    }
    return scored, summary
