"""A small file read whole as a table — CSV, JSON lines, Parquet or plain text — with the text encoding
detected the way ``liveloop import`` detects it. For inputs that are not imported row by row: comments
to score, an ad platform's daily spend report."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd

from liveloop.core.errors import ValidationFailed
from liveloop.ingest.readers import check_encoding, detect_encoding


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
