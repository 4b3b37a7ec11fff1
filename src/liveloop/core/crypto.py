"""AES-GCM encryption of PII columns and keyed blind indexes for lookups without plaintext."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from liveloop.core.config import Settings
from liveloop.core.errors import LiveloopError

_NONCE = 12
_VERSION = b"\x01"


class Cipher:
    """Encrypts PII values; each ciphertext is ``version || nonce || AES-GCM(ct+tag)``."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise LiveloopError("the secret key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self._index_key = hashlib.sha256(b"liveloop-blind-index" + key).digest()

    def encrypt(self, value: str | None, *, context: str = "") -> bytes | None:
        if value is None:
            return None
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode(), context.encode())

    def decrypt(self, blob: bytes | None, *, context: str = "") -> str | None:
        if blob is None:
            return None
        data = bytes(blob)
        if data[:1] != _VERSION:
            raise LiveloopError("unknown ciphertext version")
        nonce, ct = data[1 : 1 + _NONCE], data[1 + _NONCE :]
        return self._aead.decrypt(nonce, ct, context.encode()).decode()

    def blind_index(self, value: str | None) -> str | None:
        """A keyed hash of a normalised value, for exact lookup (e.g. by phone) without plaintext."""
        if value is None:
            return None
        norm = value.strip().lower().replace(" ", "")
        return hmac.new(self._index_key, norm.encode(), hashlib.sha256).hexdigest()[:32]


_PHONE = re.compile(r"^\+?[\d\s-]{7,20}$")


def phone_forms(text: str) -> list[str]:
    """The ways a phone number a search spells may have been stored: as typed, digits only, and without
    or with China's +86 (none when the text is not a phone number). Look each up by ``blind_index``."""
    if not _PHONE.match(text):
        return []
    digits = re.sub(r"\D", "", text)
    local = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    return list(dict.fromkeys([text, digits, local, f"+86{local}", f"86{local}"]))


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise LiveloopError("LIVELOOP_SECRET_KEY is not valid base64") from exc
    if len(key) != 32:
        raise LiveloopError(f"the secret key must decode to 32 bytes, got {len(key)}")
    return key


def cipher_of(text: str) -> Cipher:
    """The cipher of a base64 key (as kept in a key file or LIVELOOP_SECRET_KEY)."""
    return Cipher(_decode_key(text))


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def create_key_file(path: Path) -> bool:
    """Create a key file readable only by its owner (0600). Returns False if one already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(generate_key() + "\n")
    os.chmod(path, 0o600)
    return True


def load_cipher(settings: Settings, *, create: bool = True) -> Cipher:
    """The cipher from LIVELOOP_SECRET_KEY, else the key file under LIVELOOP_HOME (created if asked)."""
    if settings.secret_key:
        return Cipher(_decode_key(settings.secret_key))
    path = settings.key_path
    if not path.exists():
        if not create:
            raise LiveloopError(f"no secret key: set LIVELOOP_SECRET_KEY or run `liveloop init` ({path})")
        create_key_file(path)
    return Cipher(_decode_key(path.read_text()))


#: How a quarantined raw row of a PII table is stored: encrypted whole, base64, after this prefix.
RAW_PREFIX = "enc:"


def protect_raw(raw: str | None, cipher: Cipher) -> str | None:
    """A quarantined raw row of a PII table, encrypted whole (it may hold a phone or e-mail)."""
    if raw is None:
        return None
    blob = cipher.encrypt(raw, context="quarantine.raw")
    return RAW_PREFIX + base64.b64encode(blob or b"").decode()


def reveal_raw(raw: str | None, cipher: Cipher) -> str | None:
    if raw is None or not raw.startswith(RAW_PREFIX):
        return raw
    return cipher.decrypt(base64.b64decode(raw[len(RAW_PREFIX) :]), context="quarantine.raw")
