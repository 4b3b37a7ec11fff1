"""``liveloop recommend train|eval|show|rooms|pin|versions|rollback|bundles`` and ``liveloop evaluate
recommend|strategies``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, console, emit, err_console, open_warehouse

recommend_app = typer.Typer(
    help="Recommendations: train, evaluate, show a user's list, bundles.", no_args_is_help=True
)


def _table(rows: list[dict[str, Any]], title: str) -> None:
    if not rows:
        console.print(f"{title}: nothing")
        return
    cols = [c for c in rows[0] if not isinstance(rows[0][c], dict | list)]
    table = Table(title=title)
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    console.print(table)


def _product(item: dict[str, Any]) -> str:
    """``ID  TITLE``, or the id once for an untitled product (its title is its id)."""
    title = str(item.get("title") or "")
    return item["product_id"] if title in ("", item["product_id"]) else f"{item['product_id']}  {title}"


@recommend_app.command("train")
def train_cmd(
    seed: int = typer.Option(0, help="Random seed (results are deterministic for a seed)."),
    no_eval: bool = typer.Option(
        False,
        "--no-eval",
        help="Skip the hold-out comparison (the model is then activated only with --force).",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Activate the new model even when it does not beat popularity and the active one.",
    ),
    epochs: int = typer.Option(
        10,
        min=1,
        envvar="LIVELOOP_SASREC_EPOCHS",
        help="Epochs of SASRec inside the candidate hybrid (default: LIVELOOP_SASREC_EPOCHS, else 10).",
    ),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="Where ALS trains: duckdb (here, with implicit) or spark (MLlib on $LIVELOOP_SPARK_MASTER).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Train the candidate hybrid, compare it with popularity and the active model on a hold-out carved from
    the training data, record the version and activate it only when it beats both (or with --force)."""
    from liveloop.recommend.registry import gate_summary
    from liveloop.recommend.train import train

    with open_warehouse() as wh:
        result = train(wh, seed=seed, evaluate=not no_eval, force=force, epochs=epochs, engine=engine)
    gate = result["gate"]
    if gate.get("warning"):
        err_console.print(f"warning: {gate['warning']}")

    def render(r: dict[str, Any]) -> None:
        state = "active" if r["activated"] else "recorded, not active"
        console.print(f"model version {r['version']} ({r['model']}, {state}) at {r['path']}")
        console.print(gate_summary(r["gate"]))
        if isinstance(r["metrics"].get("holdout"), list):
            holdout = r["metrics"]["holdout"]
            cols = ("model", "users", "ndcg@10", "recall@10", "hitrate@10", "mrr@10", "fit_s", "error")
            shown = [c for c in cols if any(c in row for row in holdout)]
            _table([{c: row.get(c, "") for c in shown} for row in holdout], "hold-out (latest 20% of time)")

    emit(result, as_json, render)


@recommend_app.command("eval")
def eval_cmd(
    dataset: str = typer.Option("movielens_100k", help="movielens_100k or taobao_userbehavior_head."),
    k: int = typer.Option(10, help="List length for the metrics."),
    models: str = typer.Option("", help="Comma-separated subset, e.g. popularity,als,hybrid."),
    protocol: str = typer.Option("", help="time or stratified (default: the data set's protocols)."),
    epochs: int = typer.Option(10, help="Epochs of the sequential models."),
    as_json: bool = JsonOpt,
) -> None:
    """Evaluate every retriever and the hybrid on a real data set (popularity is the baseline)."""
    from liveloop.recommend.evaluate import evaluate_dataset

    result = evaluate_dataset(
        dataset,
        k=k,
        models=[m.strip() for m in models.split(",") if m.strip()] or None,
        protocols=[protocol] if protocol else None,
        epochs=epochs,
    )

    def render(r: dict[str, Any]) -> None:
        for block in r["results"]:
            _table(block["rows"], f"{r['dataset']} — {block['protocol']} split, k={block['k']}")
        if "published" in r:
            console.print(f"published ({r['published']['source']}): BPR NDCG@10 0.442, BiVAE NDCG@10 0.475")

    emit(result, as_json, render)


@recommend_app.command("show")
def show_cmd(
    user_id: str = typer.Argument(..., help="The user to recommend for (unknown users get cold start)."),
    k: int = typer.Option(10, "-k", "--k", help="How many items (1-100)."),
    context: str = typer.Option("home", help="home, live:SESSION_ID or product:PRODUCT_ID."),
    explore: bool = typer.Option(
        False, "--explore/--no-explore", help="Fill the last slot by Thompson sampling."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Show one user's list with the reason for each item."""
    from liveloop.recommend.service import RecommendService

    with open_warehouse() as wh:
        svc = RecommendService(wh, explore=explore)
        result = svc.recommend(user_id, k, context, actor="cli")
        svc.flush_audit()

    def render(r: dict[str, Any]) -> None:
        fallback = f" ({r['fallback']} fallback)" if r.get("fallback") else ""
        mode = f"mode {r.get('mode')}{fallback}"
        console.print(f"{r['user_id']} · {r['context']} · {mode} · model {r.get('model_version')}")
        if not r["items"]:
            console.print(r.get("reason", "no items"))
        for it in r["items"]:
            console.print(
                f"{it['rank']:>3}. {_product(it)}  — {it['reason']['text_zh']} / {it['reason']['text_en']}"
            )

    emit(result, as_json, render)


@recommend_app.command("rooms")
def rooms_cmd(
    user_id: str = typer.Argument(..., help="The viewer."),
    k: int = typer.Option(5, "-k", "--k", min=1, max=50, help="How many rooms."),
    horizon_h: float = typer.Option(24.0, min=0.1, help="Upcoming rooms within this many hours."),
    as_json: bool = JsonOpt,
) -> None:
    """Live rooms to show a user now: live now first, then upcoming previews, with reasons."""
    from liveloop.recommend.live_rooms import rooms_for_user
    from liveloop.recommend.service import RecommendService

    with open_warehouse() as wh:
        rooms = rooms_for_user(RecommendService(wh, explore=False), user_id, k=k, horizon_h=horizon_h)

    def render(r: dict[str, Any]) -> None:
        if not r["rooms"]:
            console.print("no live or upcoming rooms in the horizon")
        for room in r["rooms"]:
            when = "live now" if room["live_now"] else f"starts {room['start_ts']}"
            console.print(
                f"{room['session_id']}  {room['title']}  ({when}, score {room['score']}) — "
                f"{room['reason']['text_zh']} / {room['reason']['text_en']}"
            )

    emit({"user_id": user_id, "rooms": rooms}, as_json, render)


@recommend_app.command("pin")
def pin_cmd(
    session_id: str = typer.Argument(..., help="The live room."),
    user_id: str = typer.Option(..., "--user", help="The viewer."),
    as_json: bool = JsonOpt,
) -> None:
    """The lineup product to pin for one viewer inside a live room."""
    from liveloop.recommend.live_rooms import pin_product
    from liveloop.recommend.service import RecommendService

    with open_warehouse() as wh:
        svc = RecommendService(wh, explore=False)
        result = pin_product(svc, user_id, session_id)
        svc.flush_audit()

    def render(r: dict[str, Any]) -> None:
        item = r.get("product")
        if item is None:
            console.print(f"{r['session_id']}: nothing to pin ({r.get('reason')})")
        else:
            console.print(f"{r['session_id']}: pin {_product(item)} — {item['reason']['text_zh']}")

    emit(result, as_json, render)


@recommend_app.command("versions")
def versions_cmd(as_json: bool = JsonOpt) -> None:
    """List recorded model versions (the active one is marked)."""
    from liveloop.recommend.registry import list_versions

    with open_warehouse(read_only=True) as wh:
        rows = list_versions(wh)
    emit(
        rows,
        as_json,
        lambda r: _table(
            [{k: v for k, v in x.items() if k not in ("metrics", "gate")} for x in r], "versions"
        ),
    )


@recommend_app.command("rollback")
def rollback_cmd(
    version: str = typer.Argument(..., help="The version to make active."), as_json: bool = JsonOpt
) -> None:
    """Make an earlier model version active again."""
    from liveloop.recommend.registry import activate

    with open_warehouse() as wh:
        activate(wh, version, actor="cli")
    emit({"active": version}, as_json, lambda r: console.print(f"active model version: {r['active']}"))


@recommend_app.command("bundles")
def bundles_cmd(
    dataset: str = typer.Option("groceries", help="groceries (the arules baskets) or warehouse."),
    min_support: float = typer.Option(0.001, help="Minimum support of a rule."),
    min_confidence: float = typer.Option(0.8, help="Minimum confidence of a rule."),
    top: int = typer.Option(20, help="How many rules to print."),
    as_json: bool = JsonOpt,
) -> None:
    """Frequent-itemset association rules ("frequently bought together") with support, confidence, lift."""
    from liveloop.recommend.bundles import groceries_baskets, mine_rules, warehouse_baskets

    if dataset == "groceries":
        baskets = groceries_baskets()
    else:
        with open_warehouse(read_only=True) as wh:
            baskets = warehouse_baskets(wh)
    rules = mine_rules(baskets, min_support=min_support, min_confidence=min_confidence)
    rows = [
        {
            "if": ", ".join(sorted(r["antecedents"])),
            "then": ", ".join(sorted(r["consequents"])),
            "support": round(float(r["support"]), 5),
            "confidence": round(float(r["confidence"]), 4),
            "lift": round(float(r["lift"]), 3),
        }
        for r in rules.to_dict("records")
    ]
    emit({"rules": len(rows), "top": rows[:top]}, as_json, lambda r: _table(r["top"], f"{r['rules']} rules"))


def evaluate_recommend(
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="movielens_100k, taobao_userbehavior_head or open_bandit_dataset_small (off-policy evaluation).",
    ),
    k: int = typer.Option(10, help="List length."),
    epochs: int = typer.Option(10, help="Epochs of the sequential models."),
    as_json: bool = JsonOpt,
) -> None:
    """Recall/NDCG/HitRate/MRR/coverage/novelty per model (or IPW/SNIPW/DR CTR on Open Bandit)."""
    if dataset == "open_bandit_dataset_small":
        from liveloop.recommend.ope import evaluate_obd

        result: dict[str, Any] = {
            "dataset": dataset,
            "campaigns": [evaluate_obd(c) for c in ("all", "men", "women")],
        }

        def render_ope(r: dict[str, Any]) -> None:
            rows = [
                {
                    "campaign": c["campaign"],
                    "ipw": c["ipw"]["ctr"],
                    "snipw": c["snipw"]["ctr"],
                    "dr": c["dr"]["ctr"],
                    "dr_ci95": c["dr"]["ci95"],
                    "logged_random": c["logged_random_ctr"],
                    "logged_bts": c["logged_bts_ctr"],
                }
                for c in r["campaigns"]
            ]
            _table(rows, "Open Bandit: liveloop policy CTR (off-policy) vs logged policies")

        emit(result, as_json, render_ope)
        return
    eval_cmd(dataset=dataset, k=k, models="", protocol="", epochs=epochs, as_json=as_json)


def _vs_manual(eff: dict[str, Any] | None) -> str:
    """A strategy's relative effect against manual picks, its 95% interval and Holm-adjusted p."""
    if eff is None:
        return "control"
    lo, hi = eff["ci95_relative"] or (None, None)
    interval = "" if lo is None or hi is None else f" [{lo:+.1%}, {hi:+.1%}]"
    return f"{eff['relative']:+.1%}{interval} ({eff['p_adjusted']:.2g})"


def evaluate_strategies_cmd(
    scale: str = typer.Option("small", help="Simulator preset: tiny, small, medium."),
    seed: int = typer.Option(7, help="Simulator and policy seed."),
    k: int = typer.Option(10, help="List length shown per visit."),
    visits: int = typer.Option(20, help="Visits per user in the A/B test."),
    as_json: bool = JsonOpt,
) -> None:
    """Table 2: exposure, CTR, CVR, GMV, ROI of manual / CF / deep / hybrid in a simulated A/B test."""
    from liveloop.core.config import get_settings
    from liveloop.recommend.strategies import evaluate_strategies, save_strategies

    result = evaluate_strategies(scale, seed, k, visits)
    save_strategies(result, get_settings().home)

    def render(r: dict[str, Any]) -> None:
        rows = [
            {
                "strategy": x["strategy"],
                "exposure": x["exposure"],
                "CTR": f"{x['ctr']:.4f} {x['ctr_ci95']}",
                "CVR": f"{x['cvr']:.4f} {x['cvr_ci95']}",
                "GMV": x["gmv"],
                "ROI": f"{x['roi']:.3f} {x['roi_ci95']}",
                "true ROI, all users": f"{x['all_users_expected_roi']:.3f}",
                "ROI vs manual (p)": _vs_manual(x.get("vs_manual", {}).get("roi")),
            }
            for x in r["rows"]
        ]
        _table(rows, f"Table 2 — simulated A/B test ({r['world']['scale']} world, seed {r['world']['seed']})")
        console.print(r["note"])
        console.print(
            "true ROI, all users: each strategy shown to every user and valued by the simulator's true "
            f"probabilities (paired, no sampling noise); best: {r['best_expected_roi']}"
        )

    emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    """Attach ``liveloop recommend`` and ``liveloop evaluate recommend``."""
    from liveloop.cli.evaluate import evaluate_app

    app.add_typer(recommend_app, name="recommend")
    evaluate_app.command("recommend")(evaluate_recommend)
    evaluate_app.command("strategies")(evaluate_strategies_cmd)
