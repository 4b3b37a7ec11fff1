"""``liveloop profiles build``, ``liveloop segments list|show``, ``liveloop users show|remove-tag``,
``liveloop evaluate profiling``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, err_console, open_warehouse
from liveloop.cli.evaluate import evaluate_app
from liveloop.core.errors import ValidationFailed

profiles_app = typer.Typer(help="User profiles: features, tags, lifecycle, scores.", no_args_is_help=True)
segments_app = typer.Typer(help="K-means user segments with readable names.", no_args_is_help=True)
users_app = typer.Typer(help="One user's profile (User 360).", no_args_is_help=True)


def _parse_cutoff(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"--cutoff must be an ISO date or time, got {value!r}", field="cutoff"
        ) from None


@profiles_app.command("build")
def build_cmd(
    cutoff: str = typer.Option(None, help="Use data strictly before this ISO time (default: all data)."),
    window_days: float = typer.Option(
        None, help="Only the last N days before the cutoff (default: all history)."
    ),
    k_max: int = typer.Option(8, min=3, max=20, help="Largest number of segments to try."),
    as_json: bool = JsonOpt,
) -> None:
    """Build every user's profile and the segments (replaces the previous build)."""
    from liveloop.profiles import BuildOptions, build_profiles

    opts = BuildOptions(cutoff=_parse_cutoff(cutoff), window_days=window_days, k_max=k_max)
    with open_warehouse() as wh:
        if as_json:
            result = build_profiles(wh, opts)
        else:
            with Progress(console=err_console, transient=True) as bar:
                task = bar.add_task("profiles", total=1.0)
                result = build_profiles(
                    wh, opts, progress=lambda stage, f: bar.update(task, completed=f, description=stage)
                )

    def render(r: dict[str, Any]) -> None:
        console.print(
            f"built {r['users']:,} profiles and {r['segments']} segments, version {r['model_version']}"
        )
        console.print(f"data window {r['data_window']}", markup=False)
        for key, note in r["notes"].items():
            console.print(f"  {key}: {note}", markup=False)

    emit(result, as_json, render)


@segments_app.command("list")
def segments_list(as_json: bool = JsonOpt) -> None:
    """Every segment with its size, value and description."""
    from liveloop.profiles import list_segments

    with open_warehouse(read_only=True) as wh:
        segments = list_segments(wh)

    def render(items: list[dict[str, Any]]) -> None:
        if not items:
            console.print("no segments: run `liveloop profiles build`")
            return
        table = Table("id", "name", "users", "avg spend", "top categories", "description")
        for s in items:
            stats = s["stats"] or {}
            table.add_row(
                s["segment_id"],
                f"{s['name_zh']} {s['name_en']}",
                f"{s['size']:,}",
                f"{stats.get('monetary_mean', 0):.2f}",
                ", ".join(stats.get("top_categories", [])[:3]),
                s["description"] or "",
            )
        console.print(table)

    emit(segments, as_json, render)


@segments_app.command("show")
def segments_show(
    segment_id: str = typer.Argument(..., help="Segment id, e.g. S1."), as_json: bool = JsonOpt
) -> None:
    """One segment: description, centroid, statistics and sample users."""
    from liveloop.profiles import get_segment

    with open_warehouse(read_only=True) as wh:
        seg = get_segment(wh, segment_id)

    def render(s: dict[str, Any]) -> None:
        console.print(f"[bold]{s['segment_id']} {s['name_zh']} {s['name_en']}[/bold] — {s['size']:,} users")
        console.print(f"{s['description_zh']}\n{s['description']}", markup=False)
        for key, value in (s["stats"] or {}).items():
            console.print(f"  {key}: {value}", markup=False)
        console.print(f"  sample users: {', '.join(s['sample_users'])}", markup=False)

    emit(seg, as_json, render)


@users_app.command("show")
def users_show(user_id: str = typer.Argument(..., help="User id."), as_json: bool = JsonOpt) -> None:
    """A user's profile: features, tags, lifecycle, segment and scores, each with its reason."""
    from liveloop.profiles import user_profile

    with open_warehouse(read_only=True) as wh:
        profile = user_profile(wh, user_id)

    def render(p: dict[str, Any]) -> None:
        console.print(
            f"user {p['user_id']}  (data {p['data_window']}, version {p['model_version']})",
            markup=False,
        )
        seg = p["segment"]
        console.print(
            f"segment: {seg['segment_id']} {seg['name_zh']} {seg['name_en']}" if seg else "segment: -"
        )
        console.print(
            f"lifecycle: {p['lifecycle']['name_zh']} {p['lifecycle']['name_en']}; "
            f"value tier: {p['value_tier']['value']}"
        )
        console.print("tags: " + (", ".join(t["tag"] for t in p["tags"]) or "-"), markup=False)
        table = Table("feature / score", "value", "why")
        for row in p["features"] + p["scores"]:
            value = row["value"]
            table.add_row(
                row["name"], f"{value:.4g}" if isinstance(value, float) else str(value), row["explanation"]
            )
        console.print(table)

    emit(profile, as_json, render)


@users_app.command("remove-tag")
def users_remove_tag(
    user_id: str = typer.Argument(..., help="User id."),
    tag: str = typer.Argument(..., help="Tag to remove, e.g. category:beauty."),
    as_json: bool = JsonOpt,
) -> None:
    """Remove an interest tag for a user; kept as an override that every later build and model respects."""
    from liveloop.profiles import remove_tag

    with open_warehouse() as wh:
        result = remove_tag(wh, user_id, tag, actor="cli")
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"removed {r['removed']}; tags now: {', '.join(r['tags']) or '-'}", markup=False
        ),
    )


@evaluate_app.command("profiling")
def evaluate_profiling_cmd(
    dataset: str = typer.Option(
        None,
        help="One data set (default: taobao_userbehavior_head, online_retail_sample40k, cdnow, simulator).",
    ),
    seed: int = typer.Option(0, help="Random seed."),
    as_json: bool = JsonOpt,
) -> None:
    """Table 1: each profiling model on a time-based held-out split, beside a baseline and the reference."""
    from liveloop.profiles.evaluation import EVAL_DATASETS, evaluate_profiling

    names = [dataset] if dataset else list(EVAL_DATASETS)
    reports = [
        evaluate_profiling(
            name, seed=seed, progress=None if as_json else lambda m: err_console.print(f"· {m}")
        )
        for name in names
    ]

    def render(items: list[dict[str, Any]]) -> None:
        for rep in items:
            table = Table(
                "algorithm",
                "acc %",
                "recall %",
                "F1",
                "AUC",
                "baseline (acc / recall / F1)",
                "reference (acc / recall / F1)",
                "scenario",
                title=f"{rep['dataset']}{' (synthetic)' if rep['synthetic'] else ''}",
            )
            for r in rep["rows"]:
                b, ref = r["baseline"], r["reference"]
                table.add_row(
                    r["algorithm"],
                    f"{r['accuracy']:.1f}",
                    f"{r['recall']:.1f}",
                    f"{r['f1']:.3f}",
                    "-" if r["auc"] is None else f"{r['auc']:.3f}",
                    f"{b['name']}: {b['accuracy']:.1f} / {b['recall']:.1f} / {b['f1']:.3f}",
                    "-" if not ref else f"{ref['accuracy']} / {ref['recall']} / {ref['f1']}",
                    r["scenario"],
                )
            console.print(table)
            for name, why in rep["skipped"].items():
                console.print(f"  skipped {name}: {why}", markup=False)
            if "bgnbd_reference" in rep:
                ref = rep["bgnbd_reference"]
                console.print(
                    f"  BG/NBD on the CDNOW summary: fitted {ref['fitted']} vs published {ref['published']}",
                    markup=False,
                )

    emit(
        reports if len(reports) > 1 else reports[0],
        as_json,
        lambda r: render(r if isinstance(r, list) else [r]),
    )


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(profiles_app, name="profiles")
    app.add_typer(segments_app, name="segments")
    app.add_typer(users_app, name="users")
