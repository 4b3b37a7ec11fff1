"""The CLI while ``liveloop serve`` runs: commands are forwarded to the server, which owns the warehouse.

DuckDB admits one writing process, so a second ``liveloop`` process cannot open the warehouse while
the server holds it. ``serve`` writes a handle (its local URL and a random token) to
``LIVELOOP_HOME/serve.json`` with 0600 permissions once the warehouse is open, and removes it on
shutdown. A command that finds the warehouse in use sends its arguments, with path arguments made
absolute, to ``POST /v1/cli`` with that token; the server runs the same command on its open warehouse
and returns what it printed and its exit code. Only a caller that can read the handle file (the
same OS user) and connects from the loopback interface is served.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from liveloop.core.config import Settings
from liveloop.warehouse import Warehouse

HANDLE_FILE = "serve.json"
#: The URL `liveloop serve` listens on, handed to the app it starts (``liveloop.server.serving_app``).
SERVE_URL_ENV = "LIVELOOP_SERVE_URL"
#: The certificate a server on TLS serves, which the bridge's client trusts for the loopback call.
SERVE_CERT_ENV = "LIVELOOP_SERVE_CERT"
TOKEN_HEADER = "x-liveloop-cli-token"
PATH = "/v1/cli"
#: Commands that never run inside the server (they would start another server, replace its world or
#: swap the warehouse file under it).
NOT_FORWARDED = frozenset({"serve", "demo", "restore"})


def not_forwarded(args: list[str]) -> bool:
    """Commands that must not run inside a server: they start one or replace its world."""
    return bool(args) and (args[0] in NOT_FORWARDED or " ".join(args[:2]) in NOT_FORWARDED)


_lent: ContextVar[Warehouse | None] = ContextVar("liveloop_cli_lent_warehouse", default=None)


class _Lent:
    """The server's warehouse lent to one command: ``with``/``close()`` leave it open."""

    def __init__(self, wh: Warehouse):
        self._wh = wh

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)

    def __enter__(self) -> Warehouse:
        return self._wh

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


@contextlib.contextmanager
def lend(wh: Warehouse) -> Iterator[None]:
    """Commands run in this context use ``wh`` (the server's) instead of opening the file."""
    token = _lent.set(wh)
    try:
        yield
    finally:
        _lent.reset(token)


def lent_warehouse() -> Warehouse | None:
    """The server's warehouse when this command runs inside ``liveloop serve``, else None."""
    wh = _lent.get()
    return _Lent(wh) if wh is not None else None  # type: ignore[return-value]


def handle_path(settings: Settings) -> Path:
    return settings.home / HANDLE_FILE


# -- the client side ------------------------------------------------------------------------------
def _path_values(command: Any, args: list[str]) -> tuple[set[Path], list[str]]:
    """The paths these arguments give to the (Typer) command they name, as its parser reads them, and
    the names of the (sub)commands on the way (``users export``: a name, never a path)."""
    ctx = command.make_context("liveloop", list(args), resilient_parsing=True)
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    chain: list[str] = []
    while hasattr(command, "get_command") and rest:
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            break
        chain.append(rest[0])
        command, ctx = sub, sub.make_context(rest[0], rest[1:], parent=ctx, resilient_parsing=True)
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    found: set[Path] = set()
    for value in ctx.params.values():
        values = value if isinstance(value, list | tuple) else [value]
        found.update(v for v in values if isinstance(v, Path))
    return found, chain


def absolute_paths(command: Any, args: list[str], cwd: Path) -> list[str]:
    """The arguments with each path argument made absolute (the server runs elsewhere)."""
    try:
        paths, chain = _path_values(command, args)
    except Exception:  # an unparsable command line: the server reports it as it would here
        return list(args)
    out = []
    for arg in args:
        if chain and arg == chain[0]:  # a command's name (`users export --to export/`): kept as it is
            chain.pop(0)
            out.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if not arg.startswith("-") and Path(arg) in paths and not Path(arg).is_absolute():
            arg = str(cwd / arg)
        elif eq and name.startswith("--") and Path(value) in paths and not Path(value).is_absolute():
            arg = f"{name}={cwd / value}"
        out.append(arg)
    return out


def forward(settings: Settings, command: Any, args: list[str]) -> dict[str, Any] | None:
    """Run the command in the server named by the handle; None when there is no live server."""
    if not_forwarded(args):
        return None
    try:
        handle = json.loads(handle_path(settings).read_text())
        url, token, cert = str(handle["url"]), str(handle["token"]), handle.get("cert")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    columns = shutil.get_terminal_size().columns
    body = json.dumps({"args": absolute_paths(command, args, Path.cwd()), "columns": columns}).encode()
    request = urllib.request.Request(
        url.rstrip("/") + PATH,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", TOKEN_HEADER: token},
    )
    try:
        handlers: list[Any] = [urllib.request.ProxyHandler({})]  # loopback: no proxy
        if cert:  # the server's own certificate, pinned (it need not name 127.0.0.1)
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        with opener.open(request) as response:
            result: dict[str, Any] = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError):
        return None
    return result
