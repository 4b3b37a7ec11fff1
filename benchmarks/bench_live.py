"""Live copilot benchmark: NLP throughput beside SnowNLP, model quality beside SnowNLP and plain BM25,
and the real Bilibili evening replayed end to end through a real server (comment-to-dashboard p99, memory).

Environment knobs (defaults = the full run): LIVE_BENCH_SPEED (50), LIVE_BENCH_LIMIT_S (none: whole
evening), LIVE_BENCH_SAMPLE (1000 test rows per data set / category for the SnowNLP comparison),
LIVE_BENCH_EMBED_PAIRS / LIVE_BENCH_EMBED_PRODUCTS (5000 ATEC pairs / 200 Amazon products embedded
for the Q&A figures with embeddings: e5 costs ~25 ms of CPU per short text), LIVELOOP_BENCH_BASELINE
(the ``src`` folder of an older checkout: its comment model is trained and scored on the same annotated
test rooms, the "previous model" column).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from threadpoolctl import threadpool_limits

from benchmarks.machine import machine
from liveloop.core.config import Settings, get_settings


def _lineup(n: int = 10) -> list[dict[str, Any]]:
    names = [
        "玻尿酸精华",
        "羊毛大衣",
        "空气炸锅",
        "蓝牙耳机",
        "面膜",
        "运动鞋",
        "保温杯",
        "口红",
        "坚果礼盒",
        "洗面奶",
    ]
    return [
        {"product_id": f"p{i + 1}", "name": names[i], "price": 99 + 20 * i, "cost": 40 + 10 * i, "stock": 500}
        for i in range(n)
    ]


def _rates(fn: Any, texts: list[str], repeats: int = 3, batch: int = 5000) -> dict[str, int]:
    """Best-of-``repeats`` comments/s by wall clock and by this process's CPU time (one thread)."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), batch):
            fn(texts[i : i + batch])
        wall.append(len(texts) / (time.perf_counter() - w))
        cpu.append(len(texts) / max(time.process_time() - c, 1e-9))
    return {"wall_per_s": round(max(wall)), "cpu_per_s": round(max(cpu))}


def throughput(settings: Settings) -> dict[str, Any]:
    """Comments/s through sentiment + intent + aspects + mention, batched, on one core; SnowNLP beside.

    Each rate is given by wall clock and by CPU time: on a shared machine the CPU-time rate is the one
    that says what a dedicated core would do.
    """
    from liveloop.live import corpora
    from liveloop.live.evaluation import snownlp_proba
    from liveloop.live.mentions import MentionMatcher
    from liveloop.live.training import load_model

    model = load_model(settings)
    danmaku = corpora.danmaku(settings)["text"].astype(str)
    distinct = list(dict.fromkeys(danmaku))
    streams = {
        "bilibili_stream": danmaku.tolist()[:20_000],  # the real order: repeats ("？？？", "哈哈") included
        "unique_comments": distinct[:20_000],  # every comment distinct: the worst case
    }
    matcher = MentionMatcher.from_lineup(_lineup())
    out: dict[str, Any] = {}
    with threadpool_limits(1):
        model.analyze(streams["unique_comments"][:1000], matcher)
        for name, texts in streams.items():
            for kind, rate in _rates(lambda batch: model.analyze(batch, matcher), texts).items():
                out[f"liveloop_{name}_{kind}"] = rate
        sample = streams["bilibili_stream"][:1000]
        snownlp_proba(sample[:5])  # load SnowNLP's model before timing it
        for kind, rate in _rates(snownlp_proba, sample, repeats=1, batch=len(sample)).items():
            out[f"snownlp_{kind}"] = rate
    texts = streams["bilibili_stream"]
    return {
        "comments": len(texts),
        "distinct_comments": len(streams["unique_comments"]),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        **out,
        "goal_per_s": 20_000,
        "note": "liveloop: sentiment+intent+aspects+mention, batches of 5,000 (repeats scored once), "
        "1 thread, best of 3; SnowNLP: sentiment only, the first 1,000 of the same comments; "
        "wall = elapsed time, cpu = this process's CPU time",
    }


class _Server:
    """A `liveloop serve` subprocess on a fresh home, with an ingest key."""

    def __init__(self, model_dir: Path):
        from liveloop.core.crypto import generate_key
        from liveloop.privacy.keys import create_key
        from liveloop.warehouse import Warehouse

        self.home = Path(tempfile.mkdtemp(prefix="liveloop-bench-"))
        env = {
            **os.environ,
            "LIVELOOP_HOME": str(self.home),
            "LIVELOOP_SECRET_KEY": generate_key(),
            "LIVELOOP_NLP_MODEL": str(model_dir),
        }
        settings = Settings(
            home=self.home, data_home=get_settings().data_home, secret_key=env["LIVELOOP_SECRET_KEY"]
        )
        with Warehouse.open(settings) as wh:
            self.key = create_key(wh, "admin", "bench").key
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "liveloop.cli.main",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.home / "server.log", "wb"),  # noqa: SIM115 - open for the child
        )
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {(self.home / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def end_to_end(model_dir: Path, speed: float, limit_s: float | None) -> dict[str, Any]:
    """Replay the Bilibili evening into a real server over HTTP; a WebSocket client plays the dashboard."""
    import httpx
    from websockets.sync.client import connect

    from liveloop.live.replay import bilibili_events, records, replay

    events = records(bilibili_events())
    srv = _Server(model_dir)
    client = httpx.Client(base_url=srv.url, headers={"X-API-Key": srv.key}, timeout=60)
    client.post("/v1/live/bili/open", json={"lineup": []}).raise_for_status()
    sent: list[tuple[float, int, int]] = []  # (send time, cumulative events, comments in batch)
    seen: list[tuple[float, int]] = []  # (dashboard receive time, processed)
    rss: list[tuple[float, float]] = []
    stop = threading.Event()
    proc = psutil.Process(srv.proc.pid)

    def dashboard() -> None:
        with connect(
            f"ws://127.0.0.1:{srv.port}/v1/live/bili/stream?api_key={srv.key}", max_size=2**26
        ) as ws:
            while not stop.is_set():
                try:
                    msg = json.loads(ws.recv(timeout=1))
                except TimeoutError:
                    continue
                if msg.get("type") == "state":
                    seen.append((time.monotonic(), int(msg["processed"])))

    def memory() -> None:
        while not stop.is_set():
            rss.append((time.monotonic(), proc.memory_info().rss / 2**20))
            stop.wait(5)

    threads = [threading.Thread(target=dashboard, daemon=True), threading.Thread(target=memory, daemon=True)]
    for t in threads:
        t.start()
    total = [0]

    def sink(batch: list[dict[str, Any]]) -> dict[str, int]:
        total[0] += len(batch)
        sent.append((time.monotonic(), total[0], sum(1 for e in batch if e["type"] == "comment")))
        r = client.post("/v1/live/bili/events", json={"events": batch})
        r.raise_for_status()
        out: dict[str, int] = r.json()
        return out

    stats = replay(events, sink, speed, limit_s)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not seen or seen[-1][1] < total[0]):
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(5)
    ended_at = time.monotonic()
    client.post("/v1/live/bili/end").raise_for_status()
    end_s = time.monotonic() - ended_at
    kept = client.get("/v1/live/bili/summary").json()
    metrics = client.get("/metrics").text
    recorder_drops = [
        line
        for line in metrics.splitlines()
        if line.startswith('liveloop_live_dropped_total{reason="recorder_')
    ]
    srv.stop()
    from liveloop.warehouse import Warehouse

    with Warehouse(srv.home / "liveloop.duckdb", read_only=True) as wh:
        written = {
            "events": wh.sql("SELECT count(*) FROM events WHERE session_id = 'bili'")[0][0],
            "comments": wh.sql("SELECT count(*) FROM comments WHERE session_id = 'bili'")[0][0],
            "live_minutes": wh.sql("SELECT count(*) FROM live_minutes WHERE session_id = 'bili'")[0][0],
            "live_questions": wh.sql("SELECT count(*) FROM live_questions WHERE session_id = 'bili'")[0][0],
            "live_alerts": wh.sql("SELECT count(*) FROM live_alerts WHERE session_id = 'bili'")[0][0],
        }
    seen_t = np.array([s[0] for s in seen])
    seen_n = np.array([s[1] for s in seen])
    lat, weights = [], []
    for t_sent, cum, n_comments in sent:
        idx = np.searchsorted(seen_n, cum)  # first dashboard state that includes this batch
        if idx < len(seen_n) and n_comments:
            j = idx + int(np.argmax(seen_t[idx:] >= t_sent)) if np.any(seen_t[idx:] >= t_sent) else None
            if j is not None:
                lat.append(seen_t[j] - t_sent)
                weights.append(n_comments)
    lat_arr = np.repeat(np.array(lat), np.array(weights)) if lat else np.zeros(1)
    mem = [m for _, m in rss]
    thirds = np.array_split(np.array(mem), 3) if len(mem) >= 3 else [np.array(mem)]
    return {
        "speed": speed,
        "events": stats.events,
        "log_span_s": round(stats.span_s),
        "wall_s": round(stats.wall_s, 1),
        "dropped": stats.dropped,
        "comments_delivered": int(sum(weights)),
        "comment_to_dashboard_p50_s": round(float(np.percentile(lat_arr, 50)), 3),
        "comment_to_dashboard_p99_s": round(float(np.percentile(lat_arr, 99)), 3),
        "goal_p99_s": 1.0,
        "server_rss_mib_first_mid_last_third": [round(float(t.mean()), 1) for t in thirds if len(t)],
        "server_rss_mib_max": round(max(mem), 1) if mem else None,
        "end_seconds": round(end_s, 2),
        "written_to_warehouse": written,
        "summary": {k: kept["summary"][k] for k in ("minutes", "comments", "peak_viewers", "gift_value")},
        "recorder_drops": recorder_drops,
    }


_PREVIOUS = """
import json, sys
from pathlib import Path
from liveloop.core.config import Settings
from liveloop.live.training import load_model, train
home, data_home, texts = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())
settings = Settings(home=home, data_home=data_home)
train(settings)
s = load_model(settings).analyze(texts)
print(json.dumps({"sentiment": [str(x) for x in s.sentiment], "intent": [str(x) for x in s.intent],
                  "aspects": [list(a) for a in s.aspects]}, ensure_ascii=False))
"""


def previous_model(settings: Settings) -> dict[str, Any] | None:
    """The older checkout's comment model (``LIVELOOP_BENCH_BASELINE``), trained as that checkout trains it
    and run on the annotated test rooms' comments: its predictions, in order."""
    from liveloop.live import annotated

    src = os.environ.get("LIVELOOP_BENCH_BASELINE")
    if not src:
        return None
    df = annotated.load(settings)
    texts = df.loc[df["split"] == "test", "text"].tolist()
    work = Path(tempfile.mkdtemp(prefix="liveloop-bench-previous-"))
    (work / "texts.json").write_text(json.dumps(texts, ensure_ascii=False))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _PREVIOUS,
            str(work / "home"),
            str(settings.data_home),
            str(work / "texts.json"),
        ],
        env={**os.environ, "PYTHONPATH": src},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the previous model failed: {done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def quality(settings: Settings, sample: int) -> dict[str, Any]:
    from liveloop.live.embeddings import get_embedder
    from liveloop.live.evaluation import live_comments_report, sentiment_report
    from liveloop.live.lineup_eval import lineup_report
    from liveloop.live.qa_eval import qa_report
    from liveloop.live.training import load_model, model_info

    info = model_info(settings)
    embedder = get_embedder()
    return {
        "model": {
            "version": info.get("version"),
            "train_seconds": info.get("train_seconds"),
            "metrics": info.get("metrics"),
        },
        "live_comments": live_comments_report(
            load_model(settings), settings, previous=previous_model(settings)
        ),
        "lineup_qa": lineup_report(settings, embedder=embedder),
        "reviews": sentiment_report(settings, sample=sample),
        "qa_vs_plain_bm25": qa_report(
            settings,
            embedder=embedder,
            embedding_pairs=int(os.environ.get("LIVE_BENCH_EMBED_PAIRS", "5000")),
            embedding_products=int(os.environ.get("LIVE_BENCH_EMBED_PRODUCTS", "200")),
        ),
    }


def quick_vs_full(settings: Settings, full: Path) -> dict[str, Any]:
    """A training that reuses the release's settings (``--quick``, in a home of its own) beside the full
    one: its time, whether the full training still picks those settings, and whether the two models'
    weights are the same."""
    import numpy as np

    from liveloop.live.fitting import RELEASE
    from liveloop.live.training import train

    home = Path(tempfile.mkdtemp(prefix="liveloop-bench-quick-"))
    quick = train(Settings(home=home, data_home=settings.data_home), choose=False)
    card = json.loads((full / "model.json").read_text())
    release = {
        "sentiment_bias": RELEASE.settings.sentiment_bias,
        "question_threshold": RELEASE.settings.question_threshold,
    }
    picks = (card["params"]["sentiment_C"], card["params"]["question_C"]) == (
        RELEASE.sentiment_C,
        RELEASE.question_C,
    ) and card["settings"] == release
    same = True
    for path in sorted(full.glob("*.npz")):
        a, b = np.load(path), np.load(quick.path / path.name)
        same = same and all(np.array_equal(a[k], b[k]) for k in a.files)
    return {
        "quick_seconds": round(quick.seconds, 1),
        "full_picks_release_settings": picks,
        "same_weights": same,
    }


def run() -> dict[str, Any]:
    from liveloop.live.training import latest_path, train

    home = Path(tempfile.mkdtemp(prefix="liveloop-bench-home-"))
    settings = Settings(home=home, data_home=get_settings().data_home)
    started = time.perf_counter()
    train(settings)
    train_s = time.perf_counter() - started
    model_dir = latest_path(settings)
    assert model_dir is not None
    quick = quick_vs_full(settings, model_dir)
    print(json.dumps(quick), flush=True)
    speed = float(os.environ.get("LIVE_BENCH_SPEED", "50"))
    limit = os.environ.get("LIVE_BENCH_LIMIT_S")
    result: dict[str, Any] = {"machine": machine(), "train_seconds_full": round(train_s, 1), "quick": quick}
    result["throughput"] = throughput(settings)
    print(json.dumps(result["throughput"], ensure_ascii=False), flush=True)
    result["end_to_end"] = end_to_end(model_dir, speed, float(limit) if limit else None)
    print(json.dumps(result["end_to_end"], ensure_ascii=False), flush=True)
    result["quality"] = quality(settings, int(os.environ.get("LIVE_BENCH_SAMPLE", "1000")))
    print(json.dumps(result["quality"], ensure_ascii=False)[:4000], flush=True)
    return result
