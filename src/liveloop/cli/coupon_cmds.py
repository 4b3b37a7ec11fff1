"""``liveloop coupons …``: coupons and member privileges under published rules — create, show the rules,
issue, claim, redeem, report. Each command parses, calls one function of ``liveloop.campaigns.coupons``
and prints."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, human, open_warehouse
from liveloop.core.errors import ValidationFailed

coupons_app = typer.Typer(
    help="Coupons and member privileges (published rules): create, issue, claim, redeem, report.",
    no_args_is_help=True,
)

ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(coupons_app, name="coupons")


def _render_coupon(c: dict[str, Any]) -> None:
    console.print(
        f"{c['coupon_id']} {c['name']!r} ({c['kind']}, {c['status']}); eligibility: {c['rule']}",
        markup=False,
    )
    console.print(c["rules"]["zh"]["text"], markup=False, soft_wrap=True)
    console.print(c["rules"]["en"]["text"], markup=False, soft_wrap=True)


def _render_issue(r: dict[str, Any]) -> None:
    console.print(f"{r['coupon_id']}: issued {r['issued']} (source {r['source']})", markup=False)
    for reason, n in r["refused_by_reason"].items():
        console.print(f"  refused {n}: {reason}", markup=False)


def _render_outcome(r: dict[str, Any]) -> None:
    console.print(r["message"]["en"], markup=False, soft_wrap=True)
    console.print(r["message"]["zh"], markup=False, soft_wrap=True)


def _render_report(r: dict[str, Any]) -> None:
    c = r["coupon"]
    rate = "—" if r["redemption_rate"] is None else f"{r['redemption_rate']:.1%}"
    console.print(
        f"{c['coupon_id']} {c['name']!r}: issued {r['issued']}, redeemed {r['redeemed']} ({rate}), "
        f"outstanding {r['outstanding']}, expired unused {r['expired_unused']}",
        markup=False,
    )
    console.print(
        f"discount spent ¥{r['discount_spent']}, committed ¥{r['committed']} of budget "
        f"{human(r['budget'])} (left {human(r['budget_left'])})",
        markup=False,
    )
    for reason, n in r["refused"].items():
        console.print(f"  grant refused {n}: {reason}", markup=False)
    for reason, n in r["redeem_refused"].items():
        console.print(f"  redemption refused {n}: {reason}", markup=False)


@coupons_app.command("create")
def coupons_create(
    name: str = typer.Argument(..., help="The coupon's name (shown to users)."),
    amount: str | None = typer.Option(None, "--amount", help="A fixed amount off (CNY), e.g. 20."),
    percent_off: str | None = typer.Option(None, "--percent-off", help="A percentage off (0–100), e.g. 15."),
    max_discount: str | None = typer.Option(None, "--max-discount", help="The most a percentage takes off."),
    min_spend: str | None = typer.Option(None, "--min-spend", help="The order amount it needs (满…可用)."),
    starts: str | None = typer.Option(None, "--starts", help="From (ISO time; no offset: the local zone)."),
    ends: str | None = typer.Option(None, "--ends", help="Until (ISO time; no offset: the local zone)."),
    valid_days: int | None = typer.Option(None, "--valid-days", help="Valid this many days after issue."),
    budget: str | None = typer.Option(None, "--budget", help="The most discount money in all (CNY)."),
    max_grants: int | None = typer.Option(None, "--max-grants", help="How many may be given out in all."),
    rule: str | None = typer.Option(None, "--rule", help="Eligibility rule, e.g. 'frequency >= 2'."),
    segment: str | None = typer.Option(None, "--segment", help="Eligible segment (id or name)."),
    lifecycle: str | None = typer.Option(None, "--lifecycle", help="Eligible lifecycle stage (loyal…)."),
    kind: str = typer.Option("coupon", "--kind", help="coupon, or privilege (a membership benefit)."),
    perk: list[str] | None = typer.Option(None, "--perk", help="A privilege's perk (priority_purchase…)."),
    repeatable: bool = typer.Option(
        False, "--repeatable", help="May be held again once used or expired (for offer rounds)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Create a coupon or privilege; eligibility may not use age, occupation, spending or price inputs."""
    from liveloop.campaigns import coupons

    spec = coupons.CouponSpec.from_dict(
        {
            "name": name,
            "amount": amount,
            "percent_off": percent_off,
            "max_discount": max_discount,
            "min_spend": min_spend,
            "starts_at": starts,
            "ends_at": ends,
            "valid_days": valid_days,
            "budget": budget,
            "max_grants": max_grants,
            "eligibility": {"rule": rule, "segment": segment, "lifecycle": lifecycle},
            "kind": kind,
            "perks": perk or [],
            "repeatable": repeatable,
        }
    )
    with open_warehouse() as wh:
        emit(coupons.create(wh, spec, actor=ACTOR), as_json, _render_coupon)


@coupons_app.command("list")
def coupons_list(
    kind: str | None = typer.Option(None, "--kind", help="coupon or privilege."),
    status: str | None = typer.Option(None, "--status", help="active or paused."),
    as_json: bool = JsonOpt,
) -> None:
    """Coupons and privileges, newest first."""
    from liveloop.campaigns import coupons

    with open_warehouse(read_only=True) as wh:
        found = coupons.list_coupons(wh, kind=kind, status=status)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "name", "kind", "status", "value", "eligibility", title=f"{len(rows)} coupons")
        for c in rows:
            table.add_row(
                c["coupon_id"], c["name"], c["kind"], c["status"], c["rules"]["en"]["value"], c["rule"]
            )
        console.print(table)

    emit(found, as_json, render)


@coupons_app.command("show")
def coupons_show(coupon_id: str = typer.Argument(..., help="A coupon id."), as_json: bool = JsonOpt) -> None:
    """A coupon with its published rules (zh and en) and its report."""
    from liveloop.campaigns import coupons

    with open_warehouse(read_only=True) as wh:
        found = coupons.get(wh, coupon_id) | {"report": coupons.report(wh, coupon_id)}

    def render(c: dict[str, Any]) -> None:
        _render_coupon(c)
        _render_report(c["report"])

    emit(found, as_json, render)


@coupons_app.command("issue")
def coupons_issue(
    coupon_id: str = typer.Argument(..., help="A coupon id."),
    audience: str | None = typer.Option(None, "--audience", help="Issue to this audience's users."),
    user: list[str] | None = typer.Option(None, "--user", help="Issue to this user (repeatable)."),
    as_json: bool = JsonOpt,
) -> None:
    """Give the coupon to users; each not given it is refused with the true reason."""
    from liveloop.campaigns import audiences, coupons

    if (audience is None) == (not user):
        raise ValidationFailed("give --audience or --user", field="audience")
    with open_warehouse() as wh:
        users = audiences.user_ids(wh, audience) if audience else list(user or [])
        source = f"audience:{audience}" if audience else "manual"
        emit(coupons.issue(wh, coupon_id, users, source=source, actor=ACTOR), as_json, _render_issue)


@coupons_app.command("claim")
def coupons_claim(
    coupon_id: str = typer.Argument(..., help="A coupon id."),
    user_id: str = typer.Argument(..., help="The user claiming it."),
    as_json: bool = JsonOpt,
) -> None:
    """A user claims a coupon: the grant, or the true reason it is refused (exit code 1)."""
    from liveloop.campaigns import coupons

    with open_warehouse() as wh:
        found = coupons.claim(wh, coupon_id, user_id, actor=ACTOR)
    emit(found, as_json, _render_outcome)
    if not found["granted"]:
        raise typer.Exit(1)


@coupons_app.command("redeem")
def coupons_redeem(
    user_id: str = typer.Option(..., "--user", help="The user paying."),
    order_id: str = typer.Option(..., "--order", help="The order id."),
    amount: str = typer.Option(..., "--amount", help="The order amount before the discount (CNY)."),
    coupon_id: str | None = typer.Option(None, "--coupon", help="The coupon id (or --grant)."),
    grant_id: str | None = typer.Option(None, "--grant", help="The grant id (or --coupon)."),
    as_json: bool = JsonOpt,
) -> None:
    """Use a held coupon on an order: the discount, or the true reason it is refused (exit code 1)."""
    from liveloop.campaigns import coupons

    with open_warehouse() as wh:
        found = coupons.redeem(
            wh,
            user_id=user_id,
            order_id=order_id,
            order_amount=amount,
            coupon_id=coupon_id,
            grant_id=grant_id,
            actor=ACTOR,
        )
    emit(found, as_json, _render_outcome)
    if not found["redeemed"]:
        raise typer.Exit(1)


@coupons_app.command("report")
def coupons_report(
    coupon_id: str = typer.Argument(..., help="A coupon id."), as_json: bool = JsonOpt
) -> None:
    """Issued, redeemed, redemption rate, discount spent against the budget, refusals by reason."""
    from liveloop.campaigns import coupons

    with open_warehouse(read_only=True) as wh:
        emit(coupons.report(wh, coupon_id), as_json, _render_report)


@coupons_app.command("pause")
def coupons_pause(coupon_id: str = typer.Argument(..., help="A coupon id."), as_json: bool = JsonOpt) -> None:
    """Stop issuing (coupons already held stay valid)."""
    from liveloop.campaigns import coupons

    with open_warehouse() as wh:
        emit(coupons.set_status(wh, coupon_id, "paused", actor=ACTOR), as_json, _render_coupon)


@coupons_app.command("resume")
def coupons_resume(
    coupon_id: str = typer.Argument(..., help="A coupon id."), as_json: bool = JsonOpt
) -> None:
    """Issue again after a pause."""
    from liveloop.campaigns import coupons

    with open_warehouse() as wh:
        emit(coupons.set_status(wh, coupon_id, "active", actor=ACTOR), as_json, _render_coupon)


@coupons_app.command("privileges")
def coupons_privileges(
    user_id: str = typer.Argument(..., help="A user id."), as_json: bool = JsonOpt
) -> None:
    """The member privileges a user holds now."""
    from liveloop.campaigns import coupons

    with open_warehouse(read_only=True) as wh:
        found = coupons.privileges_of(wh, user_id)

    def render(r: dict[str, Any]) -> None:
        if not r["privileges"]:
            console.print(f"{r['user_id']} holds no member privilege", markup=False)
        for p in r["privileges"]:
            console.print(f"{p['coupon_id']} {p['name']!r}: {p['rules']['en']['value']}", markup=False)

    emit(found, as_json, render)


@coupons_app.command("member-price")
def coupons_member_price(
    product_id: str = typer.Argument(..., help="A product id."),
    user_id: str | None = typer.Option(
        None, "--user", help="The user asking (a member sees the member price)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """A product's one list price, the published member prices, and what this user pays."""
    from liveloop.campaigns import coupons

    with open_warehouse(read_only=True) as wh:
        found = coupons.member_price(wh, product_id, user_id)

    def render(r: dict[str, Any]) -> None:
        console.print(
            f"{r['product_id']}: list price ¥{r['list_price']}; "
            + (f"member price ¥{r['price']} ({r['privilege']})" if r["member"] else "not a member"),
            markup=False,
        )
        for p in r["member_prices"]:
            console.print(f"  {p['name']}: ¥{p['member_price']} for {p['eligibility']['en']}", markup=False)

    emit(found, as_json, render)
