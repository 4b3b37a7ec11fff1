"""AES-GCM encryption of PII columns and keyed blind indexes for lookups without plaintext."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import weakref
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from liveloop.core.config import Settings
from liveloop.core.errors import LiveloopError

_NONCE = 12
_VERSION = b"\x01"


class Cipher:
    """Encrypts PII values; each ciphertext is ``version || nonce || AES-GCM(ct+tag)``.

    A key ring: the first key encrypts and makes blind indexes and signatures; every key decrypts and
    verifies, newest first. During a key rotation the ring is [new, current]; after it, [current,
    previous] while ``secret.key.previous`` is kept (backups taken before still need it). The ring is
    changed in place (:meth:`use`), so every holder of the object follows a rotation."""

    def __init__(self, key: bytes, *older: bytes, live: int = 1):
        self._ring: tuple[tuple[bytes, AESGCM, bytes], ...] = ()
        self._live = 1
        self.use(key, *older, live=live)

    def use(self, key: bytes, *older: bytes, live: int = 1) -> None:
        """Replace the ring (atomically: readers see the old ring or the new one). The first ``live``
        keys (the current one, and the current one beside the new during a rotation) verify
        signatures; older keys only open what they sealed (a leaked old key signs nothing)."""
        for k in (key, *older):
            if len(k) != 32:
                raise LiveloopError("the secret key must be 32 bytes (base64 of 32 random bytes)")
        ring = tuple(
            (k, AESGCM(k), hashlib.sha256(b"liveloop-blind-index" + k).digest())
            for k in dict.fromkeys((key, *older))
        )
        self._ring, self._live = ring, max(1, min(live, len(ring)))

    @property
    def keys(self) -> tuple[bytes, ...]:
        return tuple(k for k, _, _ in self._ring)

    def signing_indexes(self, label: str) -> list[str]:
        """``label``'s blind index under each key that verifies signatures, the signing key's first."""
        return self.blind_indexes(label)[: self._live]

    def encrypt(self, value: str | None, *, context: str = "") -> bytes | None:
        if value is None:
            return None
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._ring[0][1].encrypt(nonce, value.encode(), context.encode())

    def decrypt(self, blob: bytes | None, *, context: str = "") -> str | None:
        """The plaintext, under whichever key of the ring sealed it (``InvalidTag`` if none did)."""
        if blob is None:
            return None
        data = bytes(blob)
        if data[:1] != _VERSION:
            raise LiveloopError("unknown ciphertext version")
        nonce, ct = data[1 : 1 + _NONCE], data[1 + _NONCE :]
        ring = self._ring
        for _, aead, _ in ring[:-1]:
            try:
                return aead.decrypt(nonce, ct, context.encode()).decode()
            except InvalidTag:
                continue
        return ring[-1][1].decrypt(nonce, ct, context.encode()).decode()

    def sealed_by_first(self, blob: bytes | None, *, context: str = "") -> bool:
        """Whether ``blob`` is sealed by the ring's first key (a rotation passes such values over)."""
        if blob is None:
            return True
        data = bytes(blob)
        try:
            self._ring[0][1].decrypt(data[1 : 1 + _NONCE], data[1 + _NONCE :], context.encode())
        except InvalidTag:
            return False
        return True

    def blind_index(self, value: str | None) -> str | None:
        """A keyed hash of a normalised value, for exact lookup (e.g. by phone) without plaintext."""
        return self.blind_indexes(value)[0] if value is not None else None

    def blind_indexes(self, value: str) -> list[str]:
        """The value's blind index under every key of the ring, the first key's first: a lookup matches
        any of them (during a rotation a row may still carry the current key's)."""
        norm = value.strip().lower().replace(" ", "")
        return [hmac.new(ik, norm.encode(), hashlib.sha256).hexdigest()[:32] for _, _, ik in self._ring]


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


def create_key_file(path: Path, key: str | None = None) -> bool:
    """Create a key file readable only by its owner (0600) from its first byte, on disk before this
    returns (data sealed with it may be committed right after). Returns False if one already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write((key or generate_key()).strip() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)
    sync_folder(path.parent)
    return True


def sync_folder(folder: Path) -> None:
    """Make a folder's entries (files created, renamed) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: One ring per key file in this process, shared by every holder (the server, its ingest, a command it
#: runs), so a rotation changes the keys for all of them; kept while someone holds it.
_RINGS: weakref.WeakValueDictionary[Path, Cipher] = weakref.WeakValueDictionary()
#: Held while the key files are read into a ring and while a rotation changes them: a reader never
#: applies a view of the files older than the rotation's (which would drop the new key from the ring).
KEY_FILES_LOCK = threading.RLock()


def key_files(settings: Settings) -> tuple[Path, Path, Path]:
    """The key files under the home: the next key (during a rotation), the current, the previous."""
    path = settings.key_path
    return path.with_name(f"{path.name}.next"), path, path.with_name(f"{path.name}.previous")


def load_cipher(settings: Settings, *, create: bool = True) -> Cipher:
    """The cipher from LIVELOOP_SECRET_KEY, else the key ring of the key files under LIVELOOP_HOME (the
    current key created if asked): the same object for the same files, brought up to date."""
    if settings.secret_key:
        return Cipher(_decode_key(settings.secret_key))
    upcoming, path, previous = key_files(settings)
    with KEY_FILES_LOCK:
        if not path.exists():
            if not create:
                raise LiveloopError(f"no secret key: set LIVELOOP_SECRET_KEY or run `liveloop init` ({path})")
            create_key_file(path)
        keys = [_decode_key(p.read_text()) for p in (upcoming, path, previous) if p.exists()]
        live = 2 if upcoming.exists() else 1  # during a rotation the current key still verifies
        ring = _RINGS.get(path.resolve())
        if ring is None:
            ring = Cipher(*keys, live=live)
            _RINGS[path.resolve()] = ring
        elif ring.keys != tuple(dict.fromkeys(keys)) or ring._live != live:
            ring.use(*keys, live=live)
        return ring


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
