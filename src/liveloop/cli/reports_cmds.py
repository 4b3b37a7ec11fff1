"""``liveloop reports …``: the post-live report of a session, weekly and monthly marketing reports (HTML and
PDF, both languages), the archive, and schedules that e-mail them through the campaign e-mail channel."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop.analytics.reports import archive, render, schedules
from liveloop.cli.common import JsonOpt, cipher, console, emit, human, open_warehouse
from liveloop.core.config import get_settings
from liveloop.core.errors import ValidationFailed

reports_app = typer.Typer(
    help="Post-live, weekly and monthly reports: write, list, download, schedule.", no_args_is_help=True
)
schedule_app = typer.Typer(help="Reports e-mailed on a schedule.", no_args_is_help=True)
reports_app.add_typer(schedule_app, name="schedule")
ACTOR = "cli"
PdfOpt = typer.Option(False, "--pdf", help="Print the PDF too (both languages; needs Chromium).")
OutOpt = typer.Option(None, "--out", help="Also write the files (HTML, and PDF with --pdf) into this folder.")
LangOpt = typer.Option("both", "--lang", help="zh, en or both: the files written with --out.")


def register(app: typer.Typer) -> None:
    app.add_typer(reports_app, name="reports")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("start must be a date, e.g. 2026-11-30", field="start") from None


def _langs(lang: str) -> tuple[str, ...]:
    if lang == "both":
        return render.LANGS
    if lang not in render.LANGS:
        raise ValidationFailed("lang must be zh, en or both", field="lang")
    return (lang,)


def _write(report: dict[str, Any], out: Path | None, langs: tuple[str, ...]) -> dict[str, Any]:
    """The stored report, and its files written into ``out`` (when given)."""
    if out is None:
        return report
    settings = get_settings()
    out.mkdir(parents=True, exist_ok=True)
    files = []
    with open_warehouse() as wh:
        for lang in langs:
            for fmt in ("html", *(["pdf"] if lang in report["pdf"] else [])):
                path = out / archive.filename(report, fmt, lang)
                body = archive.file_of(
                    wh, report["report_id"], fmt, lang, tz=settings.timezone, symbol=settings.currency_symbol
                )
                path.write_bytes(body)
                files.append(str(path))
    return report | {"files": files}


def _generate(kind: str, session_id: str | None, start: str | None, pdf: bool, out: Path | None,
              lang: str, as_json: bool) -> None:  # fmt: skip
    settings = get_settings()
    langs = _langs(lang)
    with open_warehouse() as wh:
        report = archive.generate(
            wh, kind, session_id=session_id, start=_day(start), pdf=pdf, actor=ACTOR, tz=settings.timezone,
            symbol=settings.currency_symbol,
        )  # fmt: skip
    emit(_write(report, out, langs), as_json)


@reports_app.command("post-live")
def post_live(
    session_id: str = typer.Argument(..., help="The live session."),
    pdf: bool = PdfOpt,
    out: Path | None = OutOpt,
    lang: str = LangOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write the post-live report (直播复盘) of a session: KPIs against target and the host's last sessions,
    minute by minute, products, questions, complaints, the advisor's alerts."""
    _generate("post_live", session_id, None, pdf, out, lang, as_json)


@reports_app.command("weekly")
def weekly(
    start: str | None = typer.Option(
        None, "--start", help="The week's Monday (default: the last full week)."
    ),
    pdf: bool = PdfOpt,
    out: Path | None = OutOpt,
    lang: str = LangOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write the weekly marketing report: KPIs against last week and target, funnel, channels, hosts."""
    _generate("weekly", None, start, pdf, out, lang, as_json)


@reports_app.command("monthly")
def monthly(
    start: str | None = typer.Option(
        None, "--start", help="The month's first day (default: the last full month)."
    ),
    pdf: bool = PdfOpt,
    out: Path | None = OutOpt,
    lang: str = LangOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write the monthly marketing report."""
    _generate("monthly", None, start, pdf, out, lang, as_json)


def _render_list(r: dict[str, Any]) -> None:
    table = Table(title=f"Reports ({r['total']})")
    for col in ("report", "kind", "subject", "created", "PDF"):
        table.add_column(col)
    for item in r["items"]:
        table.add_row(
            item["report_id"], item["kind"], item["title"] or item["subject"], human(item["created_at"]),
            ", ".join(item["pdf"]) or "—",
        )  # fmt: skip
    console.print(table)


@reports_app.command("list")
def list_cmd(
    kind: str | None = typer.Option(None, "--kind", help="post_live, weekly or monthly."),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOpt,
) -> None:
    """The report archive, newest first."""
    with open_warehouse(read_only=True) as wh:
        emit(archive.list_reports(wh, kind=kind, limit=limit), as_json, _render_list)


@reports_app.command("download")
def download(
    report_id: str = typer.Argument(...),
    fmt: str = typer.Option("pdf", "--format", help="html or pdf."),
    lang: str = typer.Option("zh", "--lang", help="zh or en."),
    out: Path | None = typer.Option(None, "--out", help="File or folder (default: the current folder)."),
) -> None:
    """Write one report to a file."""
    settings = get_settings()
    with open_warehouse() as wh:
        entry = archive.entry(wh, report_id)
        body = archive.file_of(
            wh, report_id, fmt, lang, tz=settings.timezone, symbol=settings.currency_symbol
        )
    target = out or Path.cwd()
    path = target / archive.filename(entry, fmt, lang) if target.is_dir() else target
    path.write_bytes(body)
    console.print(f"wrote {path} ({len(body):,} bytes)", markup=False)


@schedule_app.command("add")
def schedule_add(
    kind: str = typer.Argument(..., help="post_live, weekly or monthly."),
    to: list[str] = typer.Option(..., "--to", help="A recipient's e-mail address (repeatable)."),
    every: str | None = typer.Option(
        None, "--every", help="30s, 10m, 6h, 7d … (default: weekly Mondays 09:00, monthly the 1st)."
    ),
    lang: str = typer.Option("zh", "--lang", help="zh or en."),
    as_json: bool = JsonOpt,
) -> None:
    """E-mail a report on a schedule through the campaign e-mail channel (its SMTP provider)."""
    settings = get_settings()
    with open_warehouse() as wh:
        found = schedules.add(
            wh, cipher(), kind, to, lang=lang, every=every, actor=ACTOR, tz=settings.timezone
        )
    emit(found, as_json)


@schedule_app.command("list")
def schedule_list(as_json: bool = JsonOpt) -> None:
    """The schedules (recipients masked)."""
    with open_warehouse(read_only=True) as wh:
        found = schedules.public(wh, cipher())

    def show(rows: list[dict[str, Any]]) -> None:
        table = Table(title="Report schedules")
        for col in ("schedule", "kind", "every", "to", "next run", "last"):
            table.add_column(col)
        for s in rows:
            table.add_row(
                s["schedule_id"], s["kind"], f"{s['every_s']} s" if s["every_s"] else "—",
                ", ".join(s["recipients"]), human(s["next_run_at"]), s["last_status"] or "—",
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, show)


@schedule_app.command("remove")
def schedule_remove(schedule_id: str = typer.Argument(...)) -> None:
    """Stop a schedule."""
    with open_warehouse() as wh:
        if not schedules.remove(wh, schedule_id):
            raise ValidationFailed(f"no report schedule {schedule_id!r}", field="schedule_id")
    console.print(f"removed {schedule_id}", markup=False)


@reports_app.command("run")
def run_due(as_json: bool = JsonOpt) -> None:
    """Run what is due now (the service does this every 30 s): post-live reports of ended sessions, and the
    schedules due, e-mailed."""
    settings = get_settings()
    with open_warehouse() as wh:
        from liveloop.campaigns.report_mail import reports_pass  # lazy: campaigns loads the models

        done = reports_pass(wh, cipher(), tz=settings.timezone, symbol=settings.currency_symbol)
    emit(done, as_json)
