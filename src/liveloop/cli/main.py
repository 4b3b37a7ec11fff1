"""The ``liveloop`` command: one Typer group per capability, failures as one clear line."""

from __future__ import annotations

import sys
from typing import Any

import typer
import typer.core

from liveloop.cli import bridge
from liveloop.core.config import get_settings
from liveloop.core.errors import LiveloopError, WarehouseInUse

app = typer.Typer(
    name="liveloop",
    help="liveloop: AI-driven personalised marketing for live-stream e-commerce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _hide_flag_types() -> None:
    """Typer ≥ 0.29 prints a Python type after every option in ``--help``; a flag takes no value, so
    ``--json <bool>`` reads as if it wanted one. Flags are shown bare (value options keep ``<str>``…)."""
    option = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if option is None or shown is None:
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return (
            None
            if getattr(self, "is_flag", False) and not getattr(self, "count", False)
            else shown(self, ctx)
        )

    option.display_type_rich = display_type_rich


_hide_flag_types()


def _register() -> None:
    """Attach each capability's commands. Each module exposes ``register(app)``."""
    from liveloop.cli import (
        bidding_cmds,
        budget_cmds,
        campaign_cmds,
        content_cmds,
        coupon_cmds,
        data_cmds,
        datasets_cmds,
        experiment_cmds,
        forecast_cmds,
        live_cmds,
        measure_cmds,
        offer_cmds,
        pricing_cmds,
        privacy_cmds,
        profiles_cmds,
        recommend_cmds,
        reports_cmds,
        risk_cmds,
        service_cmds,
        simulate_cmds,
    )

    for module in (
        data_cmds,
        datasets_cmds,
        simulate_cmds,
        service_cmds,
        profiles_cmds,
        privacy_cmds,
        recommend_cmds,
        live_cmds,
        campaign_cmds,
        coupon_cmds,
        content_cmds,
        measure_cmds,
        experiment_cmds,
        forecast_cmds,
        risk_cmds,
        pricing_cmds,
        offer_cmds,
        budget_cmds,
        bidding_cmds,
        reports_cmds,
    ):
        module.register(app)
    from liveloop.cli.evaluate import evaluate_app

    app.add_typer(evaluate_app, name="evaluate")


_register()


#: Ctrl-C: imports commit whole chunks (one transaction each), so what finished before stays.
INTERRUPTED = (
    "interrupted: work committed before Ctrl-C is kept (an import stops after the chunk in flight; "
    "a second Ctrl-C stops it at once, rolling that chunk back); re-run the same command to complete it"
)


def run(args: list[str]) -> int:
    """Run one command line; known failures become one line on stderr and a non-zero code."""
    try:
        code = app(args, prog_name="liveloop", standalone_mode=False)
    except WarehouseInUse as exc:
        return _forwarded(args, exc) if bridge.lent_warehouse() is None else _fail(exc)
    except LiveloopError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        typer.echo(INTERRUPTED, err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except Exception as exc:  # usage errors from Typer's bundled click, OS errors
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"error: {exc.format_message()}", err=True)
            return int(exc.exit_code)
        if isinstance(exc, OSError):
            where = getattr(exc, "filename", "") or ""
            typer.echo(f"error: {exc.strerror or exc}: {where}".rstrip(": "), err=True)
            return 1
        raise
    # without standalone mode Typer returns exit codes instead of exiting (Ctrl-C in a command: 130)
    if isinstance(code, int) and not isinstance(code, bool) and code:
        if code == 130:
            typer.echo(INTERRUPTED, err=True)
        return code
    return 0


def _fail(exc: LiveloopError) -> int:
    typer.echo(f"error: {exc.detail}", err=True)
    return 2 if exc.status in (400, 422) else 1


def _forwarded(args: list[str], exc: WarehouseInUse) -> int:
    """The warehouse is held by ``liveloop serve``: run the command there (see ``cli.bridge``)."""
    result = bridge.forward(get_settings(), typer.main.get_command(app), args)
    if result is None:
        return _fail(exc)
    sys.stdout.write(str(result.get("stdout", "")))
    sys.stderr.write(str(result.get("stderr", "")))
    return int(result.get("code", 1))


def main() -> None:
    """Entry point: ``liveloop`` with the process's arguments."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
