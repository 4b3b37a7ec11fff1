"""Offline scoring of a comments file (CSV, JSON lines or Parquet): sentiment, intent, aspects, mention."""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.ingest.readers import check_encoding, detect_encoding
from liveloop.live.mentions import MentionMatcher
from liveloop.live.training import load_model

CHUNK = 20_000
#: Columns taken as the comment text when ``--text-column`` is not given (the first present wins).
TEXT_COLUMNS = ("text", "comment", "content", "danmaku", "弹幕", "评论", "内容")


def read_table(path: Path, encoding: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """A CSV / JSON-lines / Parquet / plain-text file (one comment a line, column ``text``) as a
    DataFrame, and the text encoding it was read with.

    Text files are decoded as ``encoding`` or, without one, as detected the way ``liveloop import``
    detects it (GBK / GB18030 files are common); a byte that does not decode is an error naming the
    encoding to try, never mojibake. Unreadable input is a ValidationFailed.
    """
    if not path.is_file():
        raise ValidationFailed(f"no such file: {path}", field="file")
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            return pd.read_parquet(path), None
        except (ValueError, OSError) as exc:
            raise ValidationFailed(
                f"cannot read {path.name}: {str(exc).splitlines()[0]}", field="file"
            ) from None
    enc = check_encoding(encoding) if encoding else detect_encoding(path)
    try:
        if name.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
            return pd.read_json(path, lines=True, encoding=enc), enc
        if name.endswith(".txt"):
            lines = path.read_text(encoding=enc).splitlines()
            return pd.DataFrame({"text": [line for line in lines if line.strip()]}), enc
        return pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False), enc
    except UnicodeDecodeError as exc:
        other = "utf-8" if codecs.lookup(enc).name != "utf-8" else "gb18030"
        raise ValidationFailed(
            f"cannot read {path.name} as {enc}: byte {exc.start + 1} of a line does not decode; "
            f"pass --encoding (e.g. {other})",
            field="encoding",
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValidationFailed(f"cannot read {path.name}: {str(exc).splitlines()[0]}", field="file") from None


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
