"""The server side of ``cli.bridge``: ``POST /v1/cli`` runs a forwarded command on the open warehouse."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from liveloop.cli.bridge import PATH, SERVE_CERT_ENV, TOKEN_HEADER, handle_path, lend, not_forwarded
from liveloop.cli.common import console, err_console
from liveloop.core.config import Settings
from liveloop.http.errors import http_problem, problem_response
from liveloop.warehouse import Warehouse

_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_run_lock = threading.Lock()  # stdout/stderr are process-wide: one forwarded command at a time


def write_handle(settings: Settings, url: str) -> str:
    """Write ``serve.json`` (0600) with the URL and a fresh token; returns the token."""
    token = secrets.token_urlsafe(32)
    path = handle_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(
            {"url": url, "token": token, "pid": os.getpid(), "cert": os.environ.get(SERVE_CERT_ENV)}, fh
        )
    os.replace(tmp, path)
    return token


def remove_handle(settings: Settings, token: str) -> None:
    """Remove the handle if it is still ours (a later server may have replaced it)."""
    path = handle_path(settings)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text())["token"] == token:
            path.unlink()


def execute(
    args: list[str], wh: Warehouse, run: Callable[[list[str]], int], columns: int = 80
) -> dict[str, Any]:
    """Run one command on the server's warehouse, capturing what it prints (tables ``columns`` wide)."""
    if not_forwarded(args):  # they would start another server or replace its world
        return {
            "stdout": "",
            "stderr": f"error: `liveloop {args[0]}` cannot run inside the server\n",
            "code": 1,
        }
    out, err = io.StringIO(), io.StringIO()
    with _run_lock, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), lend(wh):
        widths = [(c, c.width) for c in (console, err_console)]
        for c, _ in widths:
            c.width = columns
        try:
            code = run(args)
        finally:
            for c, width in widths:
                c.width = width
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "code": code}


def mount(app: Any, settings: Settings, url: str, run: Callable[[list[str]], int]) -> None:
    """Add ``POST /v1/cli`` to the app and write/remove the handle with the app's lifespan."""
    state: dict[str, str] = {}

    async def cli(request: Request) -> JSONResponse:
        given = request.headers.get(TOKEN_HEADER, "")
        client = request.client.host if request.client else ""
        if client not in _LOOPBACK or not state or not secrets.compare_digest(given, state["token"]):
            return problem_response(403, http_problem(403, "a local CLI token is required", PATH))
        body = await request.json()
        args = body.get("args") if isinstance(body, dict) else None
        columns = body.get("columns", 80) if isinstance(body, dict) else 80
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return problem_response(
                400, http_problem(400, "args must be a list of strings", PATH, field="args")
            )
        if not isinstance(columns, int) or not 20 <= columns <= 1000:
            columns = 80
        result = await run_in_threadpool(execute, args, request.app.state.warehouse, run, columns)
        return JSONResponse(result)

    app.add_api_route(PATH, cli, methods=["POST"], include_in_schema=False)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as value:  # the warehouse is open from here on
            state["token"] = write_handle(settings, url)
            try:
                yield value
            finally:
                remove_handle(settings, state.pop("token"))

    app.router.lifespan_context = lifespan
