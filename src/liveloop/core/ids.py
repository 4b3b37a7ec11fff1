"""Identifiers: random ids for new objects, stable ids derived from natural keys."""

from __future__ import annotations

import hashlib
import re
import secrets

#: Allowed id shape: letters, digits and ``_ - . : @``, 1 to 128 characters.
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)


def new_id(prefix: str) -> str:
    """A random, URL-safe id such as ``ord_3f9a…``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic id from a natural key, so re-imports de-duplicate."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f"{prefix}_{digest}"


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))
