"""``liveloop content …``: tonight's live script, copy per channel, selling points and the compliance
check. Each command parses, calls one function of ``liveloop.content`` and prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse
from liveloop.core.errors import ValidationFailed

content_app = typer.Typer(
    help="Content studio: live scripts, copy per channel, selling points, the compliance check.",
    no_args_is_help=True,
)

MAX_CHECK_BYTES = 5_000_000


def register(app: typer.Typer) -> None:
    app.add_typer(content_app, name="content")


def _lang(lang: str) -> str:
    if lang not in ("zh", "en"):
        raise ValidationFailed(f"unknown language {lang!r}; use zh or en", field="lang")
    return lang


@content_app.command("script")
def content_script(
    session_id: str = typer.Argument(..., help="The live session's id."),
    lang: str = typer.Option("zh", "--lang", help="zh or en (the JSON holds both)."),
    as_json: bool = JsonOpt,
) -> None:
    """Tonight's script: product order with reasons, points per product, FAQ, lottery and coupon plan."""
    from liveloop.content.scripts import render, session_script

    _lang(lang)
    with open_warehouse(read_only=True) as wh:
        script = session_script(wh, session_id)
    emit(script, as_json, lambda s: console.print(render(s, lang), markup=False, soft_wrap=True))


def _render_copy(r: dict[str, Any]) -> None:
    console.print(f"{r['product_id']} · {r['channel']} (≤ {r['limit']} characters)", markup=False)
    for i, v in enumerate(r["variants"], start=1):
        mark = "" if v["verdict"] == "pass" else f"  [{v['verdict']}: review before sending]"
        console.print(f"{i}. {v['text']}  ({v['length']}, {v['source']}){mark}", markup=False, soft_wrap=True)
        if "body" in v:
            console.print("   " + v["body"].replace("\n", "\n   "), markup=False, soft_wrap=True)
    for rej in r["rejected"]:
        console.print(f"left out: {rej['text']} — {rej['reason']}", markup=False, soft_wrap=True)
    for note in [*r["notes"], r["language_model"]]:
        console.print(f"note: {note['en']}", markup=False, soft_wrap=True)


@content_app.command("copy")
def content_copy(
    product_id: str = typer.Argument(..., help="The product's id."),
    channel: str = typer.Option(..., "--channel", help="title, push, sms, email, social or preview."),
    persona: str | None = typer.Option(
        None, "--persona", help="Audience persona (price_sensitive, premium…)."
    ),
    lang: str = typer.Option("zh", "--lang", help="zh or en."),
    variants: int = typer.Option(3, "--variants", help="How many variants (1–5)."),
    signature: str | None = typer.Option(None, "--signature", help="SMS signature (default: the brand)."),
    as_json: bool = JsonOpt,
) -> None:
    """Copy variants for a product on one channel, each checked by the compliance gate."""
    from liveloop.content.copywriting import product_copy

    with open_warehouse(read_only=True) as wh:
        result = product_copy(
            wh, product_id, channel, persona=persona, lang=lang, variants=variants, signature=signature
        )
    emit(result, as_json, _render_copy)


def _render_points(r: dict[str, Any]) -> None:
    for key, title in (("selling_points", "selling points"), ("pain_points", "pain points")):
        console.print(f"{title}:", markup=False)
        for p in r[key]:
            quotes = " / ".join(f"「{q}」" for q in p["quotes"])
            console.print(
                f"  {p['aspect']} ({p['label_en']}): {p['count']} ({p['share']:.0%}) {quotes}",
                markup=False,
                soft_wrap=True,
            )
    console.print(
        "from: " + "; ".join(r["sources"]) if r["sources"] else "no reviews or comments", markup=False
    )


@content_app.command("points")
def content_points(
    product_id: str = typer.Argument(..., help="The product's id."),
    as_json: bool = JsonOpt,
) -> None:
    """What customers praise and complain about: from the product's comments and its category's reviews."""
    from liveloop.content import default_checker
    from liveloop.content.facts import one_product
    from liveloop.content.selling import product_points

    with open_warehouse(read_only=True) as wh:
        facts = one_product(wh, product_id)
        result = product_points(wh, {product_id: facts}, default_checker())[product_id]
    emit(result, as_json, _render_points)


def _read_lines(file: str) -> list[str]:
    if file == "-":
        raw = getattr(sys.stdin, "buffer", None)  # bytes, decoded strictly: a POSIX locale would
        if raw is None:  # turn GBK into surrogates that then pass the gate as mojibake
            text = sys.stdin.read(MAX_CHECK_BYTES + 1)
        else:
            data = raw.read(MAX_CHECK_BYTES + 1)
            if len(data) > MAX_CHECK_BYTES:
                raise ValidationFailed(f"input larger than {MAX_CHECK_BYTES:,} bytes", field="file")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationFailed(f"stdin: not UTF-8 text ({exc.reason})", field="file") from exc
    else:
        path = Path(file)
        if not path.is_file():
            raise ValidationFailed(f"{file}: no such file", field="file")
        if path.stat().st_size > MAX_CHECK_BYTES:
            raise ValidationFailed(f"{file}: larger than {MAX_CHECK_BYTES:,} bytes", field="file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"{file}: not UTF-8 text ({exc.reason})", field="file") from exc
    if len(text) > MAX_CHECK_BYTES:
        raise ValidationFailed(f"input larger than {MAX_CHECK_BYTES:,} bytes", field="file")
    return [line.strip() for line in text.splitlines() if line.strip()]


@content_app.command("check")
def content_check(
    file: str = typer.Argument(..., help="A UTF-8 text file, one piece of copy per line ('-': stdin)."),
    product_id: str | None = typer.Option(
        None, "--product", help="Settle price, stock and claims against this product's facts."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Check copy against the compliance gate; exits 1 when any line must not be published."""
    from liveloop.content.compliance import check_lines

    lines = _read_lines(file)
    if product_id:
        with open_warehouse(read_only=True) as wh:
            report = check_lines(lines, wh=wh, product_id=product_id)
    else:
        report = check_lines(lines)

    def render(r: dict[str, Any]) -> None:
        for item in r["lines"]:
            console.print(f"{item['verdict'].upper():5} {item['text']}", markup=False, soft_wrap=True)
            for f in item["findings"]:
                console.print(
                    f"      {f['rule']} 「{f['term']}」 at {f['span'][0]}: {f['message']} "
                    f"→ {f['suggestion']}",
                    markup=False,
                    soft_wrap=True,
                )
        console.print(f"{r['pass']} pass, {r['flag']} flag, {r['block']} block", markup=False)

    emit(report, as_json, render)
    if report["block"]:
        raise typer.Exit(1)
