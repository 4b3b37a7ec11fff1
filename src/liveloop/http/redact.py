"""Secrets never reach the server's logs: API keys in query strings (``?api_key=``, as WebSocket clients
may send them) are masked in uvicorn's access and connection log lines."""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"(?i)\b((?:api_key|apikey|access_token|token)=)[^&\s\"']+")
#: The loggers uvicorn writes request lines to (HTTP access lines; WebSocket accept/close lines).
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with the value of every secret-bearing query parameter replaced by ``***``."""
    return _SECRET.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message and its string arguments (uvicorn passes the path as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction() -> None:
    """Add the filter to uvicorn's loggers once."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
