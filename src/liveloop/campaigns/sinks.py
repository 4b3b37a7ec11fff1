"""Local receivers for delivery: a real SMTP server (aiosmtpd) and a webhook receiver on 127.0.0.1.

The demo delivers to them, the tests and benchmarks check what arrived. The webhook receiver verifies
each signature and counts distinct idempotency keys (what a receiver that honours them would show).
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from liveloop.campaigns.channels import SIGNATURE_HEADER, verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received; ``refuse`` lists addresses answered 550, ``down`` refuses all (451)."""

    mails: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    down: bool = False
    keep: bool = True  # False: count only (benchmarks)
    count: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.down:
            return "451 4.3.0 try again later"
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        if self.keep:
            mail = message_from_bytes(envelope.content, policy=email_policy.default)
            body = mail.get_body(("plain",))
            self.mails.append(
                {
                    "to": list(envelope.rcpt_tos),
                    "subject": str(mail["Subject"]),
                    "message_id": str(mail["Message-ID"]),
                    "unsubscribe": str(mail["List-Unsubscribe"] or ""),
                    "body": body.get_content() if body is not None else "",
                    "attachments": [
                        {"filename": a.get_filename(), "type": a.get_content_type(), "body": a.get_content()}
                        for a in mail.iter_attachments()
                    ],
                }
            )
        return "250 Message accepted"


class LocalSmtp:
    """``with LocalSmtp() as smtp:`` — ``smtp.url`` (smtp://127.0.0.1:PORT) and ``smtp.box``."""

    def __init__(self, box: Mailbox | None = None):
        self.box = box or Mailbox()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._ctl = Controller(self.box, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> LocalSmtp:
        self._ctl.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctl.stop()


@dataclass
class Receiver:
    """Requests a webhook receiver got; ``fail_next`` answers that many with ``status``."""

    secret: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    status: int = 503
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        return [r["headers"]["idempotency-key"] for r in self.requests]


class LocalWebhook:
    """``with LocalWebhook(secret) as hook:`` — ``hook.url`` and ``hook.rec``."""

    def __init__(self, secret: str | None = None):
        self.rec = Receiver(secret)
        rec = self.rec

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                signed = headers.get(SIGNATURE_HEADER.lower(), "")
                with rec.lock:
                    failing = rec.fail_next > 0
                    if failing:
                        rec.fail_next -= 1
                    elif rec.secret and not verify(rec.secret, signed, body):
                        rec.bad_signatures += 1
                        failing = True
                    else:
                        rec.requests.append({"headers": headers, "body": body, "json": json.loads(body)})
                self.send_response(rec.status if failing else 200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"

    def __enter__(self) -> LocalWebhook:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
