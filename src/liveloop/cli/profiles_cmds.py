"""``liveloop profiles build``, ``liveloop segments list|show``, ``liveloop users show|remove-tag``,
``liveloop evaluate profiling``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from liveloop.cli.common import EngineOpt, JsonOpt, console, emit, err_console, human, open_warehouse
from liveloop.cli.evaluate import evaluate_app
from liveloop.core.errors import ValidationFailed

profiles_app = typer.Typer(help="User profiles: features, tags, lifecycle, scores.", no_args_is_help=True)
segments_app = typer.Typer(help="K-means user segments with readable names.", no_args_is_help=True)
users_app = typer.Typer(help="Find users, and one user's profile (User 360).", no_args_is_help=True)


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
    rules: Path = typer.Option(
        None,
        help="Lifecycle rules file (.toml or .json; default: $LIVELOOP_LIFECYCLE_RULES, "
        "else LIVELOOP_HOME/lifecycle_rules.toml, else built-in).",
    ),
    high_value_model: str = typer.Option("auto", help="auto (higher held-out AUC of the two), rf or lgbm."),
    interest_model: str = typer.Option("lstm", help="Real-time interest model: lstm or attention."),
    memory_limit: str = typer.Option(
        "auto", help="DuckDB memory limit during the build, e.g. 4GB ('auto': min(3 GB, 40% of RAM))."
    ),
    engine: str = EngineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build every user's profile, the segments and the profile models (replaces the previous build)."""
    from liveloop.core.config import get_settings
    from liveloop.profiles import BuildOptions, build_profiles, load_rules

    lifecycle, source = load_rules(rules, get_settings().home)
    opts = BuildOptions(
        cutoff=_parse_cutoff(cutoff),
        window_days=window_days,
        k_max=k_max,
        rules=lifecycle,
        rules_source=source,
        high_value_model=high_value_model,
        interest_arch=interest_model,
        memory_limit=_memory_limit(memory_limit),
        engine=engine,
    )
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
        console.print(f"data window {r['data_window']}; lifecycle rules: {r['rules']}", markup=False)
        for name, line in _model_lines(r["models"]).items():
            console.print(f"  {name}: {line}", markup=False)
        for key, note in r["notes"].items():
            console.print(f"  {key}: {note}", markup=False)

    emit(result, as_json, render)


def _memory_limit(value: str) -> str | None:
    """``none`` leaves DuckDB's limit as is; anything else is checked by ``BuildOptions``."""
    return None if value == "none" else value


def _model_lines(models: dict[str, dict[str, Any]]) -> dict[str, str]:
    """One line per recorded model: what it reached on held-out data, beside its baseline."""
    out = {}
    for name, m in models.items():
        if name == "segments":
            out[name] = f"K = {m['k']} by silhouette ({m['silhouette'].get(m['k'], float('nan')):.3f})"
        elif name == "high_value":
            out[name] = m["reason"] + (
                f"; F1 {m['models'][m['chosen']]['f1']:.3f} vs RFM rule {m['baseline']['f1']:.3f}"
            )
        elif "accuracy" in m:
            b = m["baseline"]
            out[name] = (
                f"held-out accuracy {m['accuracy']:.1f}%, recall {m['recall']:.1f}% "
                f"vs {b['name']} {b['accuracy']:.1f}% / {b['recall']:.1f}%"
            )
        else:
            out[name] = ", ".join(f"{k} {v}" for k, v in m.items() if not isinstance(v, dict))
    return out


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
                "no prices" if stats.get("monetary_mean") is None else f"{stats['monetary_mean']:.2f}",
                ", ".join((stats.get("top_category_names_en") or stats.get("top_categories", []))[:3]),
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
            console.print(f"  {key.replace('_', ' ')}: {human(value)}", markup=False)
        console.print(f"  sample users: {', '.join(s['sample_users'])}", markup=False)

    emit(seg, as_json, render)


@users_app.command("list")
def users_list(
    segment: str | None = typer.Option(None, "--segment", help="Segment id, e.g. S1."),
    lifecycle: str | None = typer.Option(None, "--lifecycle", help="new, active, loyal, at_risk …"),
    value_tier: str | None = typer.Option(None, "--value-tier", help="high, medium, low or none."),
    search: str | None = typer.Option(None, "--search", "-q", help="Part of a user id, or a phone number."),
    limit: int = typer.Option(20, "--limit", help="Users a page (at most 200)."),
    offset: int = typer.Option(0, "--offset", help="Skip this many (the page after: the next offset shown)."),
    as_json: bool = JsonOpt,
) -> None:
    """Find users: profiled users by segment, lifecycle stage, value tier, id or phone; biggest spenders
    first."""
    from liveloop.core.config import get_settings
    from liveloop.core.crypto import load_cipher
    from liveloop.profiles import UserQuery, list_users

    query = UserQuery(segment, lifecycle, value_tier, search, limit, offset)
    with open_warehouse(read_only=True) as wh:
        page = list_users(wh, query, cipher=load_cipher(get_settings(), create=False))

    def render(r: dict[str, Any]) -> None:
        table = Table()
        table.add_column("user", no_wrap=True)  # the one thing to copy: never cut
        for name in ("segment", "lifecycle", "value tier", "spend", "purchases", "top category"):
            table.add_column(name, justify="right" if name in ("spend", "purchases") else "left")
        for u in r["users"]:
            table.add_row(
                u["user_id"],
                f"{u['segment_id'] or '—'} {u['segment_zh'] or ''}",
                u["lifecycle_zh"] or u["lifecycle"] or "—",
                u["value_tier"] or "—",
                human(u["spend"]),
                human(u["purchases"]),
                u["top_category"] or "—",
            )
        console.print(table)
        shown = f"{r['offset'] + 1:,}–{r['offset'] + len(r['users']):,}" if r["users"] else "none"
        more = f"; next page: --offset {r['next_offset']}" if r["next_offset"] is not None else ""
        console.print(f"{shown} of {r['total']:,} users{more}", markup=False)
        if not r["profiled"]:
            console.print("no profiles yet: run `liveloop profiles build`", markup=False)

    emit(page, as_json, render)


@users_app.command("show")
def users_show(user_id: str = typer.Argument(..., help="User id."), as_json: bool = JsonOpt) -> None:
    """A user's profile: features, tags, lifecycle, segment, scores, next interest, each with a reason."""
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
        interest = p["interest"]
        cats = ", ".join(f"{c['category']} {c['probability']:.0%}" for c in interest["categories"])
        console.print(f"next interest: {cats or '-'} ({interest['explanation']})", markup=False)
        table = Table("feature / score", "value", "why")
        for row in p["features"] + p["scores"]:
            value = row["value"]
            table.add_row(
                row["name"], f"{value:.4g}" if isinstance(value, float) else str(value), row["explanation"]
            )
        console.print(table)

    emit(profile, as_json, render)


@users_app.command("similar")
def users_similar(
    user_id: str = typer.Argument(..., help="User id."),
    k: int = typer.Option(10, "-k", "--k", min=1, max=100, help="How many similar users."),
    as_json: bool = JsonOpt,
) -> None:
    """The users most similar to a user (implicit-ALS embeddings of product interactions)."""
    from liveloop.profiles import similar_users

    with open_warehouse(read_only=True) as wh:
        result = similar_users(wh, user_id, k)

    def render(r: dict[str, Any]) -> None:
        console.print(f"users similar to {r['user_id']}: {r['explanation']}", markup=False)
        table = Table("user", "similarity", "why")
        for item in r["items"]:
            table.add_row(item["user_id"], f"{item['similarity']:.3f}", item["explanation"])
        if r["items"]:
            console.print(table)

    emit(result, as_json, render)


@users_app.command("tags")
def users_tags(user_id: str = typer.Argument(..., help="User id."), as_json: bool = JsonOpt) -> None:
    """A user's interest tags and the ones they removed."""
    from liveloop.profiles import user_tags

    with open_warehouse(read_only=True) as wh:
        result = user_tags(wh, user_id)

    def render(r: dict[str, Any]) -> None:
        console.print("tags: " + (", ".join(t["tag"] for t in r["tags"]) or "-"), markup=False)
        removed = ", ".join(t["tag"] for t in r["removed_tags"])
        console.print(f"removed: {removed or '-'} ({r['explanation']})", markup=False)

    emit(result, as_json, render)


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

    emit(
        reports if len(reports) > 1 else reports[0],
        as_json,
        lambda r: render_table1(r if isinstance(r, list) else [r]),
    )


def render_table1(items: list[dict[str, Any]]) -> None:
    """Print Table-1 reports: each algorithm, the data it used, its figures, baseline and reference."""
    for rep in items:
        table = Table(
            "algorithm",
            "data used",
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
                r["data_used"],
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


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(profiles_app, name="profiles")
    app.add_typer(segments_app, name="segments")
    app.add_typer(users_app, name="users")
