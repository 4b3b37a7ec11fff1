"""A page's table as a download: CSV (UTF-8 with a byte-order mark, so Excel reads Chinese) or Excel."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from fastapi.responses import Response

from liveloop.core.errors import ValidationFailed

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula is written as text (a leading ')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, datetime | date):  # ISO text: Excel has no time zones
        return value.isoformat()
    if isinstance(value, list | tuple):
        return " → ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def table_response(rows: Sequence[dict[str, Any]], name: str, fmt: str) -> Response:
    """``rows`` (same keys each) as ``<name>.csv`` or ``<name>.xlsx``."""
    if fmt not in FORMATS:
        raise ValidationFailed("export is csv or xlsx", field="export")
    columns = list(rows[0]) if rows else []
    rows = [{k: _cell(v) for k, v in r.items()} for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        body = ("\ufeff" + out.getvalue()).encode()
    else:
        import pandas as pd

        buffer = io.BytesIO()
        pd.DataFrame(rows, columns=columns).to_excel(buffer, index=False, sheet_name=name[:31])
        body = buffer.getvalue()
    return Response(
        body, media_type=FORMATS[fmt], headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )
