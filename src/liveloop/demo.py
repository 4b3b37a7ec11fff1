"""``liveloop demo``: build the demo world step by step, then (optionally) serve it.

The demo is a plain list of steps, each a function of the shared ``DemoContext`` that returns a short
summary. Later capabilities (profiles, recommendations, live replay) add their step to ``STEPS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from liveloop.core.config import Settings
from liveloop.core.crypto import load_cipher
from liveloop.core.errors import LiveloopError
from liveloop.privacy.keys import create_key
from liveloop.warehouse import Warehouse

#: The demo world: five weeks (the media model needs 28+ days) with paid media of CNY 400 a day per 1,000
#: users on four channels (flighted week by week, as ``liveloop simulate --media-budget`` does).
DEMO_DAYS = 35
DEMO_MEDIA_BUDGET = 400.0


@dataclass
class DemoContext:
    settings: Settings
    wh: Warehouse
    seed: int = 7
    scale: str = "small"
    overrides: dict[str, Any] = field(default_factory=dict)  # e.g. users/days for a smaller world
    summary: dict[str, Any] = field(default_factory=dict)
    admin_key: str | None = None


def step_simulate(ctx: DemoContext) -> dict[str, Any]:
    """Generate the simulated live-commerce world and import it through the ingest path."""
    try:
        from liveloop.datasets.simulator import simulate_into_warehouse
    except ImportError as exc:  # the simulator is optional only while it is being built
        raise LiveloopError(f"the market simulator is not available: {exc}") from exc
    from liveloop.datasets.simulator.config import REALISTIC_MARKDOWN_RATE

    # prices that move, as real ones do; paid media on four channels; five weeks, enough to fit the media
    options: dict[str, Any] = {
        "markdown_rate": REALISTIC_MARKDOWN_RATE,
        "media_budget": DEMO_MEDIA_BUDGET,
        "days": DEMO_DAYS,
    }
    options |= ctx.overrides
    result = simulate_into_warehouse(ctx.wh, scale=ctx.scale, seed=ctx.seed, **options)
    keys = ("users", "products", "hosts", "sessions", "events", "orders", "comments", "gmv")
    return {k: result.get(k) for k in keys if k in result}


def step_admin_key(ctx: DemoContext) -> dict[str, Any]:
    """An admin key for the dashboard (a new one each run; printed once)."""
    created = create_key(ctx.wh, "admin", "demo-admin", actor="demo")
    ctx.admin_key = created.key
    return {"key_id": created.key_id}


def step_profiles(ctx: DemoContext) -> dict[str, Any]:
    """Build every user's profile, tags and segments, and the value, churn and CLV scores."""
    from liveloop.profiles import build_profiles

    result = build_profiles(ctx.wh, settings=ctx.settings)
    return {k: result[k] for k in ("users", "segments", "model_version")}


def step_recommend(ctx: DemoContext) -> dict[str, Any]:
    """Train the recommender (held-out evaluation first), record the version the service will serve."""
    from liveloop.recommend.train import train

    result = train(ctx.wh, ctx.settings, seed=ctx.seed)
    summary: dict[str, Any] = {
        "version": result["version"],
        "model": result["model"],
        "activated": result["activated"],
        "gate": result["gate"]["reason"],
    }
    holdout = result["metrics"].get("holdout")
    if isinstance(holdout, list):
        summary.update({f"ndcg@10 {row['model']}": row["ndcg@10"] for row in holdout if "ndcg@10" in row})
    return summary


def step_experiment(ctx: DemoContext) -> dict[str, Any]:
    """A recommendation-strategy experiment (model vs popular list) served to the simulated users."""
    from liveloop.analytics import experiments
    from liveloop.recommend.experiment_demo import run
    from liveloop.recommend.service import RecommendService

    served = run(ctx.wh, RecommendService(ctx.wh, ctx.settings, explore=False), seed=ctx.seed)
    res = experiments.results(ctx.wh, served["experiment_id"], act=False)
    gmv = res["metrics"][0]["effects"][0]
    lo, hi = gmv["ci95_relative"] or (None, None)
    return {
        "experiment": served["experiment_id"],
        "users": res["users"],
        "gmv per user, model vs popular": f"{gmv['relative']:+.1%} (95% {lo:+.1%} to {hi:+.1%})"
        if gmv["relative"] is not None and lo is not None
        else "n/a",
        "srm": "mismatch" if res["srm"]["mismatch"] else "ok",
        "page": f"/experiments/{served['experiment_id']}",
    }


def step_campaigns(ctx: DemoContext) -> dict[str, Any]:
    """A live-preview campaign and the welcome journey, delivered to a local SMTP server and webhook."""
    from liveloop.campaigns.demo import demo_step

    return demo_step(ctx.wh, load_cipher(ctx.settings))


def step_comment_model(ctx: DemoContext) -> dict[str, Any]:
    """Train the comment NLP models on the real labelled corpora if there are none yet (1–2 minutes)."""
    from liveloop.live.demo import model_step

    return model_step(ctx.settings)


def step_live(ctx: DemoContext) -> dict[str, Any]:
    """Score the comments and replay the busiest simulated live session through the live copilot."""
    from liveloop.live.demo import demo_step

    return demo_step(ctx.wh, ctx.settings)


def step_risk(ctx: DemoContext) -> dict[str, Any]:
    """Scan the world for fake engagement, abnormal orders and KPI drops (the Risk page's review queue)."""
    from liveloop.analytics import risk

    result = risk.scan(ctx.wh)
    found = ", ".join(f"{kind} {v['found']}" for kind, v in result["kinds"].items() if v["found"])
    return {"new flags": result["new"], "found": found or "nothing", "page": "/risk"}


def step_pricing(ctx: DemoContext) -> dict[str, Any]:
    """Fit price elasticities on the world's shelf sales and recommend tonight's list prices (/pricing)."""
    from liveloop.pricing import fit, recommend_prices

    try:
        fitted = fit(ctx.wh)
        recs = recommend_prices(ctx.wh, limit=1)
    except LiveloopError as exc:  # a world too small to learn prices from says so and the demo goes on
        return {"not fitted": exc.detail, "page": "/pricing"}
    own = sum(p["source"] in ("own", "pooled") for p in fitted["products"])
    c = recs["counts"]
    return {
        "products": recs["products"],
        "own elasticity": own,
        "raise/lower/hold": f"{c['raise']}/{c['lower']}/{c['hold']}",
        "expected daily gain": recs["expected_daily_gain"],
        "page": "/pricing",
    }


def step_offers(ctx: DemoContext) -> dict[str, Any]:
    """An offer policy over the lifecycle stages (its first round issued) and its simulated check."""
    from liveloop.campaigns.offer_rounds import demo_step

    try:
        return demo_step(ctx.wh)
    except LiveloopError as exc:  # no profiles or no stage: the demo says so and goes on
        return {"not started": exc.detail, "page": "/pricing#offers"}


def step_budget(ctx: DemoContext) -> dict[str, Any]:
    """Fit the paid channels' response curves and plan next week's media budget (/pricing#budget)."""
    from liveloop.budget.plans import create_plan, default_start

    tz = ctx.settings.timezone
    try:  # last period's budget, split anew
        plan = create_plan(ctx.wh, tz, name="next week", starts=default_start(tz), days=7, actor="demo")
    except LiveloopError as exc:  # too few days or no spend: the demo says so and goes on
        return {"not planned": exc.detail, "page": "/pricing#budget"}
    e = plan["expected"]
    return {
        "plan": plan["plan_id"],
        "budget": plan["total"],
        "expected extra GMV": e["extra_gmv"],
        "vs last period's split": f"{e['gain_over_proportional']:+.1%}"
        if e["gain_over_proportional"] is not None
        else "—",
        "page": "/pricing#budget",
    }


def step_content(ctx: DemoContext) -> dict[str, Any]:
    """Write tonight's live script and persona copy (content studio, through the compliance gate)."""
    from liveloop.content.demo import demo_step

    return demo_step(ctx.wh, ctx.settings)


def step_reports(ctx: DemoContext) -> dict[str, Any]:
    """Targets from the demo world, the post-live report of the replayed session and the weekly report
    (HTML and PDF, both languages) in LIVELOOP_HOME/reports/."""
    from liveloop.analytics.reports.demo import demo_step

    live = ctx.summary.get("live") or {}
    return demo_step(ctx.wh, ctx.settings, live.get("session_id"))


#: The demo, in order: (name, step). Append new capabilities here.
STEPS: list[tuple[str, Callable[[DemoContext], dict[str, Any]]]] = [
    ("simulate", step_simulate),
    ("admin_key", step_admin_key),
    ("profiles", step_profiles),
    ("recommend", step_recommend),
    ("experiment", step_experiment),
    ("campaigns", step_campaigns),
    ("comment_model", step_comment_model),
    ("live", step_live),
    ("risk", step_risk),
    ("pricing", step_pricing),
    ("offers", step_offers),
    ("budget", step_budget),
    ("content", step_content),
    ("reports", step_reports),
]


def run_demo(
    settings: Settings,
    *,
    seed: int = 7,
    scale: str = "small",
    on_step: Callable[[str, dict[str, Any]], None] | None = None,
    on_start: Callable[[str, str], None] | None = None,
    **overrides: Any,
) -> DemoContext:
    """Initialise ``settings.home`` (warehouse and secret key) and run every step; the warehouse is closed.

    ``on_start(name, what)`` is called before a step and ``on_step(name, summary)`` after it.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    load_cipher(settings)  # creates the PII key file under the home unless LIVELOOP_SECRET_KEY is set
    with Warehouse.open(settings) as wh:
        ctx = DemoContext(settings=settings, wh=wh, seed=seed, scale=scale, overrides=overrides)
        for name, step in STEPS:
            if on_start is not None:
                on_start(name, (step.__doc__ or name).split("\n")[0])
            ctx.summary[name] = step(ctx)
            if on_step is not None:
                on_step(name, ctx.summary[name])
    return ctx
