"""``liveloop offers …``: coupon offer policies that learn, one published offer per lifecycle stage and
round — create, list, show, run the next round (the campaigns issue it), compare policies in the simulated
world, value segment-rule policies on a randomised coupon test. Each command parses, calls one function
and prints."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, human, open_warehouse

offers_app = typer.Typer(
    help="Coupon offers that learn: one published offer per lifecycle stage and round, under a budget.",
    no_args_is_help=True,
)
ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(offers_app, name="offers")


def _render_round(r: dict[str, Any]) -> None:
    if r["round"] is None:
        console.print(f"{r['policy_id']}: no round yet (run `liveloop offers next-round`)", markup=False)
        return
    console.print(f"{r['policy_id']} round {r['round']}: {r['starts_at']} → {r['ends_at']}", markup=False)
    issued = {i["segment"]: i for i in r.get("issued", [])}
    for o in r["offers"]:
        extra = ""
        if o["segment"] in issued:
            i = issued[o["segment"]]
            refused = ", ".join(f"{n} {why}" for why, n in i["refused"].items())
            extra = f"; issued {i['issued']:,}" + (f" (refused: {refused})" if refused else "")
        console.print(f"  {o['segment']}: {o['offer']} to {o['members']:,} members{extra}", markup=False)


def _render_policy(p: dict[str, Any]) -> None:
    console.print(
        f"{p['policy_id']} {p['name']!r} ({p['objective']}, {p['status']}): rounds {p['rounds_measured']} of "
        f"{p['rounds']} measured, coupon spend {human(p['spent'])} of budget {human(p['budget'])}",
        markup=False,
    )
    table = Table("segment", "offer", "rounds", "value/exposure", "spend/exposure", "best")
    for seg in p["learnt"]:
        for o in seg["offers"]:
            table.add_row(
                seg["segment"], o["offer"], str(o["rounds"]), human(o["value_per_exposure"]),
                human(o["spend_per_exposure"]), "✔" if o["offer"] == seg["best"] else "",
            )  # fmt: skip
    console.print(table)
    _render_round(p["current"])


@offers_app.command("create")
def offers_create(
    name: str = typer.Argument(..., help="The policy's name."),
    coupon: list[str] = typer.Option(
        ..., "--coupon", help="A repeatable coupon on the menu (repeat the flag)."
    ),
    segment: list[str] | None = typer.Option(None, "--segment", help="A lifecycle stage (default: all)."),
    budget: float | None = typer.Option(None, "--budget", help="The most coupon discount over all rounds."),
    rounds: int = typer.Option(30, "--rounds", help="How many rounds the policy runs."),
    round_days: int = typer.Option(1, "--round-days", help="Days per round."),
    objective: str = typer.Option("profit", "--objective", help="profit (after coupons and costs) or gmv."),
    max_loss: float | None = typer.Option(
        None,
        "--max-loss",
        help="Fall at most this share behind no coupon while learning (profit: 0.01; 1: off).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """A policy choosing, for each lifecycle stage and round, one of the coupons or none."""
    from liveloop.pricing.offer_policies import create_policy

    with open_warehouse() as wh:
        found = create_policy(
            wh, name, coupon, segments=segment, budget=budget, rounds=rounds, round_days=round_days,
            objective=objective, max_loss=max_loss, actor=ACTOR,
        )  # fmt: skip
    emit(found, as_json, _render_policy)


@offers_app.command("list")
def offers_list(as_json: bool = JsonOpt) -> None:
    """Every offer policy with its current round."""
    from liveloop.pricing.offer_policies import list_policies

    with open_warehouse(read_only=True) as wh:
        found = list_policies(wh)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("policy", "name", "objective", "rounds", "spent", "budget", "now")
        for p in rows:
            now = ", ".join(f"{o['segment']}: {o['offer']}" for o in p["current"]["offers"]) or "—"
            table.add_row(
                p["policy_id"], p["name"], p["objective"], f"{p['rounds_measured']}/{p['rounds']}",
                human(p["spent"]), human(p["budget"]), now,
            )  # fmt: skip
        console.print(table)

    emit(found, as_json, render)


@offers_app.command("show")
def offers_show(policy_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """A policy: what each offer earned per exposure in each stage so far, and the current round."""
    from liveloop.pricing.offer_policies import get_policy

    with open_warehouse(read_only=True) as wh:
        found = get_policy(wh, policy_id)
    emit(found, as_json, _render_policy)


@offers_app.command("next-round")
def offers_next_round(policy_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Measure the rounds that ended, choose the next offers and issue each stage's coupon to its members."""
    from liveloop.campaigns.offer_rounds import issue_round

    with open_warehouse() as wh:
        found = issue_round(wh, policy_id, actor=ACTOR)
    emit(found, as_json, _render_round)


@offers_app.command("simulate")
def offers_simulate(
    rounds: int = typer.Option(60, "--rounds", help="Days the policies run."),
    budget_share: float = typer.Option(
        0.5, "--budget-share", help="Budget as a share of the Oracle's spend."
    ),
    objective: str = typer.Option("profit", "--objective", help="profit or gmv."),
    seed: int = typer.Option(0, "--seed", help="Seed of the rounds' draws and of the bandit."),
    max_loss: float | None = typer.Option(None, "--max-loss", help="The bandit's guard (see offers create)."),
    as_json: bool = JsonOpt,
) -> None:
    """The bandit beside the Oracle, the best single offer and no coupon, in the simulated world."""
    from liveloop.pricing.offer_simulation import compare_offer_policies

    with open_warehouse(read_only=True) as wh:
        found = compare_offer_policies(
            wh, rounds=rounds, budget_share=budget_share, objective=objective, seed=seed, max_loss=max_loss
        )

    def render(r: dict[str, Any]) -> None:
        table = Table(
            "policy", r["objective"], "coupon spend", "share of Oracle", title=f"{r['rounds']} rounds"
        )
        for name, p in r["policies"].items():
            table.add_row(
                name, f"{p['value']:,.2f}", f"{p['spend']:,.2f}", f"{r['share_of_oracle'][name]:.2%}"
            )
        console.print(table)
        console.print(f"budget {human(r['budget'])}; bandit's regret {r['regret']:,.2f}", markup=False)
        for seg in r["segments"]:
            console.print(
                f"  {seg}: Oracle {r['oracle_offers'][seg]}; bandit ends on {r['bandit_offers'][seg]}",
                markup=False,
            )

    emit(found, as_json, render)


@offers_app.command("evaluate")
def offers_evaluate(
    outcome: str = typer.Option("revenue_after", "--outcome", help="revenue_after or trans_after."),
    seed: int = typer.Option(0, "--seed", help="Seed of the halves and the bootstrap."),
    as_json: bool = JsonOpt,
) -> None:
    """Segment-rule coupon policies valued on the Artea randomised coupon test (held-out halves)."""
    from liveloop.pricing.offer_value import artea_policy_value

    found = artea_policy_value(outcome=outcome, seed=seed)

    def render(r: dict[str, Any]) -> None:
        table = Table(
            "policy", "value (IPW)", "95% CI", "coupon share", title=f"{r['dataset']}: {r['outcome']}"
        )
        for name, v in r["baselines"].items():
            table.add_row(name, f"{v:.4f}", "", "")
        for p in r["policies"]:
            lo, hi = p["ci95"]
            table.add_row(
                "by " + " × ".join(p["rules"]),
                f"{p['value_ipw']:.4f}",
                f"{lo:.4f}–{hi:.4f}",
                f"{p['coupon_share']:.0%}",
            )
        console.print(table)
        console.print(r["caveat"], markup=False)

    emit(found, as_json, render)
