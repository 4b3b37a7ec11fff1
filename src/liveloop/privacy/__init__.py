"""Privacy by construction: PII encryption, consent, erasure, audit, access control."""

from liveloop.privacy.crypto import Cipher, create_key_file, load_cipher

__all__ = ["Cipher", "create_key_file", "load_cipher"]
