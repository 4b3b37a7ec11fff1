"""``liveloop serve``, ``liveloop keys …`` and ``liveloop demo``: the service face and its keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse
from liveloop.core.config import get_settings
from liveloop.core.errors import ValidationFailed

#: The app ``serve`` runs, named by import string: the CLI imports neither the API nor the dashboard.
APP_FACTORY = "liveloop.server:serving_app"

keys_app = typer.Typer(
    help="API keys and roles (admin, analyst, marketer, host, ingest).", no_args_is_help=True
)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8765, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1,
        min=1,
        help="Worker processes: only 1 (the DuckDB warehouse admits one process; see docs/api.md).",
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate (chain): serve HTTPS."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
) -> None:
    """Run the API and dashboard on uvicorn; other `liveloop` commands then run through it."""
    if (tls_cert is None) != (tls_key is None):
        raise ValidationFailed(
            "--tls-cert and --tls-key go together", field="tls_key" if tls_cert else "tls_cert"
        )
    for name, path in (("tls_cert", tls_cert), ("tls_key", tls_key)):
        if path is not None and not path.is_file():
            raise ValidationFailed(f"--{name.replace('_', '-')} {path} is not a file", field=name)
    if workers != 1:
        raise ValidationFailed(
            "--workers must be 1: the DuckDB warehouse file admits one process, so a second worker could "
            "not open it; one worker serves concurrent requests (event batches are group-committed) — "
            "for more, send more concurrent batches, or run one server per warehouse (docs/api.md)",
            field="workers",
        )
    run_server(
        host=host, port=port, log_level=log_level, tls=(tls_cert, tls_key) if tls_cert and tls_key else None
    )


def run_server(
    *,
    host: str,
    port: int,
    log_level: str = "info",
    home: Path | None = None,
    tls: tuple[Path, Path] | None = None,
) -> None:
    """Serve ``APP_FACTORY`` until interrupted, in one process (the warehouse has one writer). The app
    reads its settings from the environment; ``home`` overrides LIVELOOP_HOME; ``tls`` (certificate, key)
    serves HTTPS (and the CLI's bridge trusts that certificate)."""
    import uvicorn

    from liveloop.cli.bridge import SERVE_CERT_ENV, SERVE_URL_ENV
    from liveloop.http.protocol import BoundedHeadersProtocol
    from liveloop.http.shared import connect
    from liveloop.warehouse import Warehouse

    if home is not None:
        os.environ["LIVELOOP_HOME"] = str(home)
    settings = get_settings()
    Warehouse.open(settings).close()  # held by another process: one line here, not a failed start-up
    if settings.redis_url:  # unreachable: one line here too
        connect(settings.redis_url).close()
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    scheme = "https" if tls else "http"
    os.environ[SERVE_URL_ENV] = f"{scheme}://{'[' + local + ']' if ':' in local else local}:{port}"
    if tls:
        os.environ[SERVE_CERT_ENV] = str(tls[0].resolve())
        _check_tls(*tls)
    trusted = os.environ.get("LIVELOOP_TRUSTED_PROXIES", "").strip()  # "": no proxy's header is believed
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        workers=1,
        timeout_keep_alive=20,
        limit_concurrency=2048,
        backlog=2048,
        server_header=False,
        http=BoundedHeadersProtocol,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )


def _check_tls(cert: Path, key: Path) -> None:
    """A certificate and key that do not load are one clear line, not a failed start-up."""
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise ValidationFailed(
            f"cannot use --tls-cert {cert} with --tls-key {key}: {exc}", field="tls_cert"
        ) from None


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., help="admin, analyst, marketer, host or ingest."),
    name: str = typer.Option(..., help="Who or what the key is for."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a key; it is printed once and stored only as an argon2id hash."""
    from liveloop.privacy.keys import create_key

    with open_warehouse() as wh:
        created = create_key(wh, role, name)
    result = {"key_id": created.key_id, "name": created.name, "role": created.role.value, "key": created.key}
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"created key [bold]{r['key_id']}[/] ({r['role']}, {r['name']}). "
            "Store it now; it is not shown again:\n"
            f"{r['key']}",
            highlight=False,
            soft_wrap=True,
        ),
    )


@keys_app.command("list")
def keys_list(as_json: bool = JsonOpt) -> None:
    """List keys (ids, names, roles, dates; never secrets)."""
    from liveloop.privacy.keys import list_keys

    with open_warehouse() as wh:
        rows = list_keys(wh)

    def render(items: list[dict[str, object]]) -> None:
        table = Table("key_id", "name", "role", "created", "last used", "revoked")
        for r in items:
            table.add_row(
                *(
                    str(r[c] or "")
                    for c in ("key_id", "name", "role", "created_at", "last_used_at", "revoked_at")
                )
            )
        console.print(table)

    emit(rows, as_json, render)


@keys_app.command("rotate-secret")
def keys_rotate_secret(as_json: bool = JsonOpt) -> None:
    """Re-encrypt every PII value under a new key (resumable: run it again after an interruption); with
    `liveloop serve` running, the server does it while it serves."""
    from liveloop.privacy.rotation import rotate_secret

    settings = get_settings()
    with open_warehouse() as wh:
        result = rotate_secret(wh, settings, actor="cli")
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"re-encrypted {r['users']:,} users and {r['quarantine']:,} quarantined rows in "
            f"{r['batches']} batches{' (resumed)' if r['resumed'] else ''}; the previous key is kept at "
            f"{r['previous_key']} for older backups: delete it once they have expired",
            markup=False,
        ),
    )


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (the part after ll_)."), as_json: bool = JsonOpt
) -> None:
    """Revoke a key at once."""
    from liveloop.privacy.keys import revoke_key

    with open_warehouse() as wh:
        result = revoke_key(wh, key_id)
    emit(result, as_json, lambda r: console.print(f"revoked {r['key_id']}"))


def demo(
    serve_after: bool = typer.Option(
        False, "--serve", help="Serve the dashboard on the demo world afterwards."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the simulated world (same seed, same world)."),
    scale: str = typer.Option(
        "small", "--scale", help="Simulator preset: small (the demo) builds in about a minute."
    ),
    home: Path = typer.Option(
        None, "--home", help="Demo LIVELOOP_HOME (default: $LIVELOOP_HOME or ./liveloop-data)."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to serve on (with --serve)."),
    port: int = typer.Option(8765, min=1, max=65535, help="Port to serve on (with --serve)."),
    as_json: bool = JsonOpt,
) -> None:
    """Build the demo world (simulated, never real data), create an admin key, and optionally serve it."""
    from dataclasses import replace

    from liveloop.demo import run_demo

    settings = get_settings()
    if home is not None:
        settings = replace(settings, home=home)

    def show(name: str, summary: dict[str, Any]) -> None:
        if not as_json:
            console.print(
                f"[green]✓[/] {name}: " + ", ".join(f"{k}={v}" for k, v in summary.items()), highlight=False
            )

    status = console.status("", spinner="dots")

    def start(name: str, what: str) -> None:
        if not as_json:
            status.update(f"{name}: {what}")
            status.start()

    def done(name: str, summary: dict[str, Any]) -> None:
        status.stop()
        show(name, summary)

    try:
        ctx = run_demo(settings, seed=seed, scale=scale, on_step=done, on_start=start)
    finally:
        status.stop()
    url = f"http://{host}:{port}/"
    replayed = (ctx.summary.get("live") or {}).get("session_id")
    result = {
        "home": str(settings.home),
        "summary": ctx.summary,
        "admin_key": ctx.admin_key,
        "url": url if serve_after else None,
        "live_monitor": f"{url}live?session={replayed}" if serve_after and replayed else None,
    }
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"demo world ready in {r['home']} (simulated data)\nadmin key (shown once): {r['admin_key']}"
            + (f"\nthe replayed live session: {r['live_monitor']}" if r["live_monitor"] else ""),
            highlight=False,
            soft_wrap=True,
        ),
    )
    if serve_after:
        console.print(
            f"serving the dashboard at [bold]{url}[/] — log in with the admin key above; Ctrl+C stops",
            highlight=False,
        )
        run_server(host=host, port=port, home=settings.home)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("serve")(serve)
    app.command("demo")(demo)
    app.add_typer(keys_app, name="keys")
