"""API keys: argon2id-hashed at rest, shown once, verified with one lookup and a bounded cache.

A key reads ``ll_<key_id>.<secret>``: the public ``key_id`` finds the row, the secret is checked
against its argon2id hash. Verifying argon2 costs tens of milliseconds on purpose, so a verified
key is remembered (by a SHA-256 of the full key, never the key itself) in a small LRU cache that
``revoke_key`` invalidates and that forgets entries after a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from liveloop.core.clock import utcnow
from liveloop.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from liveloop.core.types import Role
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse

KEY_PREFIX = "ll_"
_KEY_RE = re.compile(r"^ll_([0-9a-f]{12})\.([A-Za-z0-9_-]{20,100})$")
_NAME_RE = re.compile(r"^[\w .:@/-]{1,80}$")
_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: Role


@dataclass(frozen=True)
class CreatedKey:
    key_id: str
    name: str
    role: Role
    key: str  # the plaintext, returned once and never stored


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(f"unknown role {role!r}; choose one of {allowed}", field="role") from None


def create_key(wh: Warehouse, role: str | Role, name: str, *, actor: str = "cli") -> CreatedKey:
    """Create a key for ``role``; the plaintext is in the result and nowhere else. Audited (``actor``)."""
    the_role = parse_role(str(role))
    if not _NAME_RE.match(name or ""):
        raise ValidationFailed("name must be 1-80 letters, digits, spaces or . : @ / - _", field="name")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"
    digest = _HASHER.hash(key)
    with wh.transaction() as con:
        con.execute(
            "INSERT INTO api_keys (key_id, name, role, hash) VALUES (?, ?, ?, ?)",
            [key_id, name, the_role.value, digest],
        )
        audit.record(wh, AuditEntry(actor, "keys.create", key_id, the_role.value, f"key for {name}"), con=con)
    return CreatedKey(key_id, name, the_role, key)


def list_keys(wh: Warehouse) -> list[dict[str, Any]]:
    """Every key's metadata (never a hash or a secret), newest first."""
    rows = wh.sql(
        "SELECT key_id, name, role, created_at, revoked_at, last_used_at FROM api_keys "
        "ORDER BY created_at DESC, key_id"
    )
    cols = ("key_id", "name", "role", "created_at", "revoked_at", "last_used_at")
    return [dict(zip(cols, row, strict=True)) for row in rows]


def revoke_key(wh: Warehouse, key_id: str, *, actor: str = "cli") -> dict[str, Any]:
    """Revoke a key at once (also in this process's cache). Revoking twice is a conflict. Audited."""
    row = wh.sql("SELECT revoked_at FROM api_keys WHERE key_id = ?", [key_id])
    if not row:
        raise NotFound(f"no API key {key_id!r}", field="key_id")
    if row[0][0] is not None:
        raise Conflict(f"API key {key_id!r} was already revoked at {row[0][0].isoformat()}", field="key_id")
    now = utcnow()
    with wh.transaction() as con:
        con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [now, key_id])
        audit.record(wh, AuditEntry(actor, "keys.revoke", key_id, "revoked", None), con=con)
    verifier_for(wh).invalidate(key_id)
    return {"key_id": key_id, "revoked_at": now}


class KeyVerifier:
    """Checks presented keys against the warehouse, remembering recent successes (bounded, expiring)."""

    def __init__(self, *, max_entries: int = 4096, ttl_s: float = 300.0):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._cache: OrderedDict[str, tuple[bytes, Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, key: str) -> Principal | None:
        """The principal of a recently verified ``key`` without touching argon2 or the warehouse."""
        match = _KEY_RE.match(key.strip())
        if not match:
            return None
        digest = hashlib.sha256(key.strip().encode()).digest()
        with self._lock:
            hit = self._cache.get(match.group(1))
            if hit is not None and hit[2] > time.monotonic() and hmac.compare_digest(hit[0], digest):
                self._cache.move_to_end(match.group(1))
                return hit[1]
        return None

    def verify(self, wh: Warehouse, key: str) -> Principal:
        """The principal for ``key``, or Unauthorized (the reason never says which part was wrong)."""
        hit = self.cached(key)
        if hit is not None:
            return hit
        match = _KEY_RE.match(key.strip())
        if not match:
            raise Unauthorized("malformed API key: expected ll_<key id>.<secret>")
        key_id = match.group(1)
        principal = self._verify_slow(wh, key_id, key.strip())
        digest = hashlib.sha256(key.strip().encode()).digest()
        with self._lock:
            self._cache[key_id] = (digest, principal, time.monotonic() + self.ttl_s)
            self._cache.move_to_end(key_id)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return principal

    def active(self, wh: Warehouse, key_id: str) -> Principal | None:
        """The principal of a key that exists and is not revoked (used for session cookies)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
            if hit is not None and hit[2] > now:
                return hit[1]
        rows = wh.sql("SELECT name, role FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", [key_id])
        return Principal(key_id, rows[0][0], Role(rows[0][1])) if rows else None

    @staticmethod
    def _verify_slow(wh: Warehouse, key_id: str, key: str) -> Principal:
        rows = wh.sql("SELECT name, role, hash, revoked_at FROM api_keys WHERE key_id = ?", [key_id])
        if not rows:
            raise Unauthorized("invalid API key")
        name, role, hashed, revoked_at = rows[0]
        try:
            _HASHER.verify(hashed, key)
        except (VerificationError, InvalidHashError):
            raise Unauthorized("invalid API key") from None
        if revoked_at is not None:
            raise Unauthorized("this API key has been revoked")
        wh.sql("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", [utcnow(), key_id])
        return Principal(key_id, name, Role(role))

    def invalidate(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)

    def __len__(self) -> int:
        return len(self._cache)


_VERIFIERS: weakref.WeakKeyDictionary[Warehouse, KeyVerifier] = weakref.WeakKeyDictionary()
_VERIFIERS_LOCK = threading.Lock()


def verifier_for(wh: Warehouse) -> KeyVerifier:
    """The one verifier (and cache) per open warehouse, so a revoke empties the cache the API uses."""
    with _VERIFIERS_LOCK:
        verifier = _VERIFIERS.get(wh)
        if verifier is None:
            verifier = _VERIFIERS[wh] = KeyVerifier()
        return verifier
