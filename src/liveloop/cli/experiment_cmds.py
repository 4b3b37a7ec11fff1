"""``liveloop experiments …``: create, list, show, assign, results, stop, a layer's holdout, power before
launch. Each command parses, calls one function of ``liveloop.experiments`` or
``liveloop.analytics.experiments`` and prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, open_warehouse
from liveloop.core.errors import ValidationFailed

experiments_app = typer.Typer(
    help="A/B experiments: create, assign, results (intervals, SRM, guardrails), stop, power.",
    no_args_is_help=True,
)
ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2%}"


def _render_experiment(e: dict[str, Any]) -> None:
    arms = ", ".join(f"{a['name']} {a['weight']:g}%" for a in e["arms"])
    console.print(
        f"{e['experiment_id']} {e['name']!r} ({e['status']}; target {e['target']}, layer {e['layer']} "
        f"{e['traffic']:g}%): {arms}; metrics {', '.join(e['metrics'])}"
        + (f"; guardrails {', '.join(e['guardrails'])}" if e["guardrails"] else ""),
        markup=False,
    )
    for arm, why in e["stopped_arms"].items():
        console.print(f"  arm {arm} stopped: {why}", markup=False)


def _render_results(r: dict[str, Any]) -> None:
    e = r["experiment"]
    kind = "sequential (always valid)" if e["sequential"] else "fixed horizon"
    users = ", ".join(f"{a} {n}" for a, n in r["users"].items())
    console.print(f"{e['experiment_id']} {e['name']!r}: users {users}; 95% intervals, {kind}", markup=False)
    for w in r["warnings"]:
        console.print(f"WARNING: {w}", markup=False)
    for title, rows in (("metric", r["metrics"]), ("guardrail", r["guardrails"])):
        if not rows:
            continue
        table = Table(title, "arm", "value", "vs control", "95% interval", "p", "")
        for row in rows:
            control = row["arms"][0]
            table.add_row(row["metric"], control["arm"], f"{control['adjusted']:.4g}", "", "", "", "")
            for arm, eff in zip(row["arms"][1:], row["effects"], strict=True):
                lo, hi = eff["ci95_relative"] or (None, None)
                p = eff.get("p_adjusted", eff["p_value"])
                flag = "significant" if eff.get("significant") else "HARM" if eff.get("harm") else ""
                table.add_row(
                    "", arm["arm"], f"{arm['adjusted']:.4g}", _pct(eff["relative"]),
                    f"[{_pct(lo)}, {_pct(hi)}]", f"{p:.3g}" if p is not None else "—", flag,
                )  # fmt: skip
        console.print(table)
    if r.get("table2"):
        _render_table2(r["table2"])


def _render_table2(t: dict[str, Any]) -> None:
    table = Table(
        "arm", "users", "exposure", "CTR", "CVR", "GMV/user", "ROI", "ROI vs control [95%]", title="Table 2"
    )
    for row in t["rows"]:
        v = (row.get("vs_control") or {}).get("roi")
        lo, hi = (v["ci95_relative"] or (None, None)) if v else (None, None)
        vs = (
            "control"
            if v is None
            else f"{_pct(v['relative'])} [{_pct(lo)}, {_pct(hi)}] p {v['p_adjusted']:.2g}"
        )
        table.add_row(
            row["arm"], str(row["users"]), str(row["exposure"]), _num(row["ctr"]), _num(row["cvr"]),
            _num(row["gmv_per_user"]), _num(row["roi"]), vs,
        )  # fmt: skip
    console.print(table)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


@experiments_app.command("create")
def experiments_create(
    name: str | None = typer.Argument(None, help="The experiment's name (or give --file)."),
    arm: list[str] | None = typer.Option(
        None, "--arm", help="An arm, NAME or NAME=WEIGHT; the first is control."
    ),
    metric: list[str] | None = typer.Option(None, "--metric", help="A KPI key (gmv, view_to_buy…); repeat."),
    guardrail: list[str] | None = typer.Option(None, "--guardrail", help="A KPI that must not get worse."),
    target: str = typer.Option(
        "custom", "--target", help="recommend, campaign, coupon, live_ordering, custom."
    ),
    layer: str = typer.Option("default", "--layer", help="Experiments of one layer never share a user."),
    traffic: float = typer.Option(100.0, "--traffic", help="Percent of the layer's users."),
    fixed: bool = typer.Option(False, "--fixed-horizon", help="Fixed-horizon intervals (no peeking)."),
    pre_days: int = typer.Option(14, "--pre-days", help="CUPED's pre-period in days (0: off)."),
    file: Path | None = typer.Option(None, "--file", help="A JSON definition (as POST /v1/experiments)."),
    as_json: bool = JsonOpt,
) -> None:
    """Create and start an experiment."""
    from liveloop.analytics import experiments as service

    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValidationFailed(f"cannot read {file}: {e}", field="file") from None
    else:
        arms: list[Any] = []
        for a in arm or []:
            n, _, w = a.partition("=")
            try:
                arms.append({"name": n, "weight": float(w)} if w else n)
            except ValueError:
                raise ValidationFailed(f"arm {a!r}: the weight after = is a number", field="arm") from None
        data = {
            "name": name, "arms": arms, "target": target, "layer": layer, "traffic": traffic,
            "metrics": metric or ["gmv"], "guardrails": guardrail or [], "sequential": not fixed,
            "pre_days": pre_days,
        }  # fmt: skip
    with open_warehouse() as wh:
        emit(service.create(wh, data, actor=ACTOR).to_dict(), as_json, _render_experiment)


@experiments_app.command("list")
def experiments_list(
    status: str | None = typer.Option(None, "--status", help="running or stopped."), as_json: bool = JsonOpt
) -> None:
    """Experiments, newest first."""
    from liveloop.experiments import store

    with open_warehouse(read_only=True) as wh:
        found = [e.to_dict() for e in store.list_all(wh, status)]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "name", "status", "target", "layer", "arms", title=f"{len(rows)} experiments")
        for e in rows:
            table.add_row(
                e["experiment_id"], e["name"], e["status"], e["target"], e["layer"],
                ", ".join(a["name"] for a in e["arms"]),
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


@experiments_app.command("show")
def experiments_show(experiment_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """One experiment's definition."""
    from liveloop.experiments import store

    with open_warehouse(read_only=True) as wh:
        emit(store.get(wh, experiment_id).to_dict(), as_json, _render_experiment)


@experiments_app.command("assign")
def experiments_assign(
    experiment_id: str = typer.Argument(...), user_id: str = typer.Argument(...), as_json: bool = JsonOpt
) -> None:
    """A user's arm (logs the first exposure)."""
    from liveloop.experiments import store

    with open_warehouse() as wh:
        found = store.assign(wh, experiment_id, user_id)

    def render(r: dict[str, Any]) -> None:
        where = r["arm"] or f"not in the experiment ({r['reason']})"
        console.print(f"{r['user_id']}: {where}; serve {json.dumps(r['config'])}", markup=False)

    emit(found, as_json, render)


@experiments_app.command("results")
def experiments_results(experiment_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Every metric against control (intervals, p-values corrected), the SRM check, the guardrails."""
    from liveloop.analytics import experiments as service

    with open_warehouse() as wh:
        emit(service.results(wh, experiment_id, actor=ACTOR), as_json, _render_results)


@experiments_app.command("stop")
def experiments_stop(experiment_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Stop assigning users (the exposures stay for the results)."""
    from liveloop.experiments import store

    with open_warehouse() as wh:
        emit(store.stop(wh, experiment_id, actor=ACTOR).to_dict(), as_json, _render_experiment)


@experiments_app.command("layer")
def experiments_layer(
    layer: str = typer.Argument(..., help="A layer name."),
    holdout: float = typer.Option(
        ..., "--holdout", help="Percent of its users kept out of every experiment."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Set a layer's holdout (only while none of its experiments runs)."""
    from liveloop.experiments import store

    with open_warehouse() as wh:
        found = store.set_holdout(wh, layer, holdout, actor=ACTOR)
    emit(
        found,
        as_json,
        lambda r: console.print(f"layer {r['layer']}: holdout {r['holdout']:g}%", markup=False),
    )


@experiments_app.command("power")
def experiments_power(
    metric: str = typer.Argument(..., help="A KPI key, e.g. gmv."),
    users_per_day: float = typer.Option(..., "--users-per-day", help="Users entering the experiment a day."),
    days: int = typer.Option(14, "--days", help="Planned duration."),
    arms: int = typer.Option(2, "--arms", help="Number of arms."),
    effect: float | None = typer.Option(None, "--effect", help="A relative effect to size for (0.05 = 5%)."),
    fixed: bool = typer.Option(False, "--fixed-horizon", help="Size a fixed-horizon test instead."),
    as_json: bool = JsonOpt,
) -> None:
    """Minimum detectable effect before launch (baseline: the last 28 days of the warehouse)."""
    from liveloop.analytics import experiments as service

    with open_warehouse(read_only=True) as wh:
        found = service.power(
            wh, metric, users_per_day=users_per_day, days=days, arms=arms, effect=effect, sequential=not fixed
        )

    def render(r: dict[str, Any]) -> None:
        mde = "—" if r["mde_relative"] is None else f"{r['mde_relative']:.1%}"
        console.print(
            f"{r['metric']}: {r['users_per_arm']:,} users per arm over {r['days']} days detect a relative "
            f"effect of {mde} (power {r['power']:.0%}, alpha {r['alpha']}, "
            f"{'sequential' if r['sequential'] else 'fixed horizon'})",
            markup=False,
        )
        if r.get("users_per_arm_needed"):
            console.print(
                f"a {r['effect']:.1%} effect needs {r['users_per_arm_needed']:,} users per arm "
                f"(about {r['days_needed']} days)",
                markup=False,
            )

    emit(found, as_json, render)
