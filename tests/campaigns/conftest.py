"""Fixtures of the campaign tests: a built shop whose users have e-mail addresses and phones (encrypted),
a real SMTP server (aiosmtpd) and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from liveloop.core.config import Settings
from liveloop.core.crypto import Cipher, load_cipher
from liveloop.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parent.parent / "profiles"))
from profiles_shop import seed_built_shop

SECRET = "whsec-test-0123456789"


@dataclass
class Mailbox:
    """What the SMTP server received; ``refuse`` lists addresses answered 550, ``down`` refuses all (451)."""

    mails: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    down: bool = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.down:
            return "451 4.3.0 try again later"
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append(
            {
                "to": envelope.rcpt_tos,
                "subject": str(mail["Subject"]),
                "message_id": str(mail["Message-ID"]),
                "unsubscribe": str(mail["List-Unsubscribe"] or ""),
                "body": mail.get_body(("plain",)).get_content(),
            }
        )
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    box = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield box, f"smtp://127.0.0.1:{port}"
    finally:
        ctl.stop()


@dataclass
class Receiver:
    """A webhook receiver: keeps every request; ``fail_next`` answers that many with ``status``."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    status: int = 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        return [r["headers"]["idempotency-key"] for r in self.requests]


@pytest.fixture
def webhook() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with rec.lock:
                failing = rec.fail_next > 0
                if failing:
                    rec.fail_next -= 1
                else:
                    rec.requests.append(
                        {
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "json": json.loads(body),
                        }
                    )
            self.send_response(rec.status if failing else 200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec, f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    finally:
        httpd.shutdown()
        httpd.server_close()


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
