"""What the HTTP faces (``liveloop.api``, ``liveloop.web``) share, below both of them: authentication and
roles (``auth``), problem+json errors (``errors``), the failed-login limiter (``ratelimit``), and the
security-header and request-body middleware (``headers``, ``limits``). The app that mounts both faces is
``liveloop.server``."""

from __future__ import annotations

import os

from fastapi import FastAPI

from liveloop.core.config import Settings
from liveloop.core.crypto import load_cipher
from liveloop.http.errors import install_error_handlers
from liveloop.http.ratelimit import FailureLimiter
from liveloop.http.shared import RedisFailureLimiter, connect
from liveloop.privacy.sessions import SessionSigner


def install_http(app: FastAPI, settings: Settings) -> None:
    """Give ``app`` what both faces rely on: settings, the PII cipher, the session signer, the failed-key
    limiter (``LIVELOOP_AUTH_MAX_FAILURES``; in Redis when ``LIVELOOP_REDIS_URL`` is set, then
    ``app.state.redis`` is its client) and the problem+json error handlers."""
    cipher = load_cipher(settings)
    app.state.settings = settings
    app.state.cipher = cipher
    app.state.session_signer = SessionSigner(cipher)
    max_failures = int(os.environ.get("LIVELOOP_AUTH_MAX_FAILURES", "10"))
    app.state.redis = connect(settings.redis_url) if settings.redis_url else None
    app.state.auth_limiter = (
        RedisFailureLimiter(app.state.redis, max_failures=max_failures)
        if app.state.redis is not None
        else FailureLimiter(max_failures=max_failures)
    )
    install_error_handlers(app)


__all__ = ["install_http"]
