"""Fixtures of the campaign tests: a built shop whose users have e-mail addresses and phones (encrypted),
a real SMTP server (aiosmtpd) and a real webhook receiver on 127.0.0.1 (``liveloop.campaigns.sinks``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveloop.campaigns.sinks import LocalSmtp, LocalWebhook, Mailbox, Receiver
from liveloop.core.config import Settings
from liveloop.core.crypto import Cipher, load_cipher
from liveloop.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parent.parent / "profiles"))
from profiles_shop import seed_built_shop

SECRET = "whsec-test-0123456789"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    with LocalSmtp() as server:
        yield server.box, server.url


@pytest.fixture
def webhook() -> Iterator[tuple[Receiver, str]]:
    with LocalWebhook() as hook:
        yield hook.rec, hook.url


def add_contacts(wh: Warehouse, cipher: Cipher) -> None:
    """Every user gets an e-mail address and a phone number (encrypted, as ingest stores them)."""
    for (uid,) in wh.sql("SELECT user_id FROM users"):
        wh.sql(
            "UPDATE users SET email_enc = ?, phone_enc = ? WHERE user_id = ?",
            [
                cipher.encrypt(f"{uid}@example.com", context="users.email"),
                cipher.encrypt("13800138000", context="users.phone"),
                uid,
            ],
        )


@pytest.fixture
def cipher(settings: Settings) -> Cipher:
    return load_cipher(settings)


@pytest.fixture
def shop(wh: Warehouse, cipher: Cipher) -> Warehouse:
    seed_built_shop(wh)
    add_contacts(wh, cipher)
    return wh
