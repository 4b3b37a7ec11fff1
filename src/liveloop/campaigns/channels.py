"""Channels behind one interface: e-mail over SMTP, signed webhooks (app push, SMS, WeChat template
messages, platform tools) and in-app / live-room preview messages kept for the app to fetch.

A channel is configured once (``channel_providers``; a webhook secret or SMTP password is stored only
encrypted). A sender takes a batch of :class:`Outgoing` messages and answers one :class:`Result` per
message: delivered, a temporary failure (retried with backoff) or a permanent one (a bounce or a
refusal), always with its reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from liveloop.core.crypto import Cipher
from liveloop.core.errors import ValidationFailed
from liveloop.core.types import Channel
from liveloop.warehouse import Warehouse

#: The provider kinds and the channels each may carry.
KINDS: dict[str, frozenset[str]] = {
    "smtp": frozenset({Channel.EMAIL.value}),
    "webhook": frozenset(
        {Channel.APP_PUSH.value, Channel.SMS.value, Channel.SOCIAL.value, Channel.WEBHOOK.value}
    ),
    "in_app": frozenset({Channel.IN_APP.value, Channel.LIVE.value}),
}
SENDABLE = frozenset().union(*KINDS.values())
#: What the channel needs of the user: an e-mail address, a phone number, or nothing (an app id).
ADDRESS = {Channel.EMAIL.value: "email", Channel.SMS.value: "phone"}
SIGNATURE_HEADER = "X-Liveloop-Signature"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Outgoing:
    """One message ready to go: rendered text, and the address where the channel needs one."""

    message_id: str
    campaign_id: str | None
    user_id: str
    channel: str
    subject: str | None
    body: str
    address: str | None = None
    unsubscribe_url: str | None = None
    #: Files sent with an e-mail: ``(filename, mime type, body)`` (reports to staff).
    attachments: tuple[tuple[str, str, bytes], ...] = ()


@dataclass(frozen=True)
class Result:
    """What happened to one message. ``permanent`` failures are not retried; ``bounced`` marks an
    address that does not exist (it is suppressed)."""

    ok: bool
    error: str | None = None
    permanent: bool = False
    bounced: bool = False


OK = Result(True)


class Sender(Protocol):
    def send(self, batch: Sequence[Outgoing]) -> list[Result]: ...


@dataclass(frozen=True)
class Provider:
    channel: str
    kind: str
    config: dict[str, Any]
    secret: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "kind": self.kind,
            "config": self.config,
            "secret": bool(self.secret),
        }


def _check_url(url: Any, field: str, schemes: tuple[str, ...]) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in schemes or not urlsplit(url).hostname:
        raise ValidationFailed(f"{field} must be a URL starting with {' or '.join(schemes)}://", field=field)
    return url


def check_provider(p: Provider) -> Provider:
    """The provider, validated: a kind that can carry the channel and the settings the kind needs."""
    if p.kind not in KINDS:
        raise ValidationFailed(f"unknown provider kind {p.kind!r}; one of {', '.join(KINDS)}", field="kind")
    if p.channel not in KINDS[p.kind]:
        raise ValidationFailed(
            f"a {p.kind} provider carries {', '.join(sorted(KINDS[p.kind]))}, not {p.channel!r}",
            field="channel",
        )
    if p.kind == "smtp":
        _check_url(p.config.get("url"), "url", ("smtp", "smtps"))
        sender = p.config.get("from")
        if not isinstance(sender, str) or "@" not in sender:
            raise ValidationFailed("an SMTP provider needs a from address", field="from")
    if p.kind == "webhook":
        _check_url(p.config.get("url"), "url", ("http", "https"))
        if not p.secret:
            raise ValidationFailed("a webhook provider needs a signing secret", field="secret")
    return p


def set_provider(wh: Warehouse, cipher: Cipher, p: Provider, *, actor: str | None = None) -> dict[str, Any]:
    """Configure (or replace) the provider of a channel; its secret is stored encrypted."""
    check_provider(p)
    secret = cipher.encrypt(p.secret, context=f"provider:{p.channel}") if p.secret else None
    with wh.transaction() as con:
        con.execute("DELETE FROM channel_providers WHERE channel = ?", [p.channel])
        con.execute(
            "INSERT INTO channel_providers (channel, kind, config, secret_enc, updated_by) VALUES "
            "(?, ?, ?, ?, ?)",
            [p.channel, p.kind, json.dumps(p.config), secret, actor],
        )
    return p.public()


def providers(wh: Warehouse, cipher: Cipher | None = None) -> dict[str, Provider]:
    """The configured providers by channel (secrets decrypted only with ``cipher``)."""
    out = {}
    for channel, kind, config, secret in wh.sql(
        "SELECT channel, kind, CAST(config AS VARCHAR), secret_enc FROM channel_providers"
    ):
        plain = (
            cipher.decrypt(secret, context=f"provider:{channel}") if cipher is not None and secret else None
        )
        out[channel] = Provider(channel, kind, json.loads(config), plain or (None if secret is None else "…"))
    return out


def remove_provider(wh: Warehouse, channel: str) -> bool:
    return bool(wh.sql("DELETE FROM channel_providers WHERE channel = ? RETURNING 1", [channel]))


# -- senders -------------------------------------------------------------------------------------------


class SmtpSender:
    """E-mail through one SMTP connection per batch (``smtp://host:port``; ``smtps://`` for TLS)."""

    def __init__(self, p: Provider):
        self.url = urlsplit(p.config["url"])
        self.sender = p.config["from"]
        self.name = p.config.get("from_name")
        self.user = p.config.get("username")
        self.password = p.secret
        self.timeout = float(p.config.get("timeout_s", TIMEOUT_S))

    def _connect(self) -> smtplib.SMTP:
        host, port = self.url.hostname or "", self.url.port
        if self.url.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=self.timeout)
        else:
            smtp = smtplib.SMTP(host, port or 25, timeout=self.timeout)
        if self.user and self.password:
            smtp.login(self.user, self.password)
        return smtp

    def _email(self, m: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr((self.name, self.sender)) if self.name else self.sender
        mail["To"] = m.address or ""
        mail["Subject"] = m.subject or ""
        mail["Message-ID"] = f"<{m.message_id}@liveloop>"
        if m.unsubscribe_url:
            mail["List-Unsubscribe"] = f"<{m.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(m.body)
        for name, mime, body in m.attachments:
            maintype, _, subtype = mime.partition("/")
            mail.add_attachment(body, maintype=maintype, subtype=subtype, filename=name)
        return mail

    def send(self, batch: Sequence[Outgoing]) -> list[Result]:
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return [Result(False, f"SMTP server unreachable: {_why(exc)}")] * len(batch)
        out: list[Result] = []
        try:
            for m in batch:
                try:
                    smtp.send_message(self._email(m))
                    out.append(OK)
                except smtplib.SMTPRecipientsRefused as exc:
                    code, text = next(iter(exc.recipients.values()))
                    out.append(
                        Result(False, f"recipient refused: {code} {_text(text)}", code >= 500, code >= 500)
                    )
                except smtplib.SMTPResponseException as exc:
                    out.append(
                        Result(
                            False, f"refused: {exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code >= 500
                        )
                    )
                except (OSError, smtplib.SMTPException) as exc:  # the connection broke: the rest wait a retry
                    out += [Result(False, f"SMTP connection lost: {_why(exc)}")] * (len(batch) - len(out))
                    return out
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return out


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]


def signature(secret: str, ts: str, body: bytes) -> str:
    """The webhook signature: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: float = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` (for receivers)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    ts = parts.get("t", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header)


class WebhookSender:
    """A signed JSON POST per message, ``Idempotency-Key`` = the message id (a retry is safe to repeat)."""

    def __init__(self, p: Provider, client: httpx.Client | None = None, workers: int = 8):
        self.url = p.config["url"]
        self.secret = p.secret or ""
        self.client = client or httpx.Client(timeout=float(p.config.get("timeout_s", TIMEOUT_S)))
        self.workers = workers

    def _one(self, m: Outgoing) -> Result:
        body = json.dumps(
            {
                "message_id": m.message_id,
                "campaign_id": m.campaign_id,
                "user_id": m.user_id,
                "channel": m.channel,
                "to": m.address,
                "subject": m.subject,
                "body": m.body,
                "unsubscribe_url": m.unsubscribe_url,
            },
            ensure_ascii=False,
        ).encode()
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": m.message_id,
            SIGNATURE_HEADER: signature(self.secret, ts, body),
        }
        try:
            r = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Result(False, f"webhook unreachable: {_why(exc)}")
        if r.is_success:
            return OK
        permanent = 400 <= r.status_code < 500 and r.status_code not in (408, 409, 425, 429)
        return Result(False, f"webhook answered {r.status_code}: {r.text[:200]}", permanent)

    def send(self, batch: Sequence[Outgoing]) -> list[Result]:
        if len(batch) <= 1:
            return [self._one(m) for m in batch]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(self._one, batch))


class InAppSender:
    """In-app and live-room preview messages: kept in ``messages`` for the app to fetch (its inbox)."""

    def send(self, batch: Sequence[Outgoing]) -> list[Result]:
        return [OK] * len(batch)


def sender_for(p: Provider) -> Sender:
    if p.kind == "smtp":
        return SmtpSender(p)
    if p.kind == "webhook":
        return WebhookSender(p)
    return InAppSender()
