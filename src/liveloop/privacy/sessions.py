"""Dashboard sessions: an HMAC-signed cookie naming the API key used at login, plus CSRF tokens.

The cookie holds ``key_id``, expiry and a random nonce — never the key. It is checked on every
request and the key must still be active, so revoking a key ends its sessions too. The signing key
is derived from the project's secret key (the one that encrypts PII), so no extra secret is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from liveloop.core.crypto import Cipher

SESSION_TTL_S = 12 * 3600
_LABEL = "liveloop-dashboard-session-signing-key-v1"
#: Ended sessions remembered until they would have expired anyway (bounded: the oldest go first).
MAX_ENDED = 100_000


@dataclass(frozen=True)
class Session:
    key_id: str
    nonce: str
    expires: int


class SessionSigner:
    """Signs and checks session cookies and derives per-session CSRF tokens."""

    def __init__(self, cipher: Cipher):
        self._cipher = cipher  # its key ring: the current key signs; during a rotation the key before it
        # still verifies (no one is logged out mid-rotation), after it only the new key does
        self._ended: OrderedDict[str, int] = OrderedDict()  # nonce → expiry of sessions logged out
        self._lock = threading.Lock()

    def issue(self, key_id: str, ttl_s: int = SESSION_TTL_S) -> str:
        payload = {"k": key_id, "n": secrets.token_urlsafe(12), "e": int(time.time()) + ttl_s}
        raw = (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        )
        return f"{raw}.{self._sign(raw)}"

    def read(self, token: str | None) -> Session | None:
        """The session in a cookie value, or None when absent, forged, malformed or expired."""
        if not token or token.count(".") != 1 or len(token) > 512:
            return None
        raw, sig = token.split(".")
        if not self._verified(sig, raw):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            session = Session(str(payload["k"]), str(payload["n"]), int(payload["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= time.time():
            return None
        with self._lock:
            return None if session.nonce in self._ended else session

    def end(self, session: Session) -> None:
        """Log the session out here (its cookie stops working even if a copy of it is replayed)."""
        now = int(time.time())
        with self._lock:
            self._ended[session.nonce] = session.expires
            while self._ended and (len(self._ended) > MAX_ENDED or next(iter(self._ended.values())) <= now):
                self._ended.popitem(last=False)

    def csrf_token(self, session: Session) -> str:
        """The CSRF token for forms in this session (bound to its nonce)."""
        return self._sign(f"csrf:{session.key_id}:{session.nonce}")

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and self._verified(str(token), f"csrf:{session.key_id}:{session.nonce}")

    def login_token(self) -> str:
        """A signed random token for the login form (double-submitted: cookie and hidden field)."""
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._sign('login:' + nonce)}"

    def check_login_token(self, cookie: str | None, form: str | None) -> bool:
        if not cookie or not form or not hmac.compare_digest(cookie, form) or cookie.count(".") != 1:
            return False
        nonce, sig = cookie.split(".")
        return self._verified(sig, "login:" + nonce)

    def _keys(self) -> list[bytes]:
        # Keyed hashes of a fixed label: signing keys bound to the secret keys, never the keys themselves.
        return [hashlib.sha256(i.encode()).digest() for i in self._cipher.signing_indexes(_LABEL)]

    def _sign(self, text: str, key: bytes | None = None) -> str:
        return hmac.new(key or self._keys()[0], text.encode(), hashlib.sha256).hexdigest()[:43]

    def _verified(self, sig: str, text: str) -> bool:
        return any(hmac.compare_digest(sig, self._sign(text, key)) for key in self._keys())
