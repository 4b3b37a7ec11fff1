"""Text every store accepts."""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with lone surrogates (what JSON ``"\\ud800"`` escapes decode to) replaced by U+FFFD:
    UTF-8 cannot encode them, so Arrow, DuckDB and every file would refuse the whole batch."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text
