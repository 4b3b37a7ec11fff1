"""The live CLI for real, as subprocesses: ``nlp train``, ``live replay`` of CSV and JSON-lines event files,
``evaluate live`` on small real samples."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from live_support import run_cli

_cli = run_cli


def test_nlp_train_writes_an_artifact_with_its_metrics(tmp_path: Path, data_home: Path) -> None:
    home = tmp_path / "home"
    done = _cli(
        "nlp", "train", "--per-source", "200", "--seed", "3", "--json", home=home, model=False, timeout=600
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    path = Path(result["path"])
    assert path.parent == home / "models" / "nlp" and (path / "sentiment.npz").is_file()
    assert (path.parent / "LATEST").read_text() == result["version"]
    meta = json.loads((path / "model.json").read_text())
    assert (
        meta["params"]["per_source"] == 200
        and meta["params"]["seed"] == 3
        and meta["params"]["holdout"] == 0.2
    )
    assert meta["params"]["sentiment_C"] in (10.0, 30.0) and meta["params"]["question_C"] in (10.0, 30.0)
    assert (
        meta["params"]["settings_from"] == "development folds"
        and meta["metrics"]["development"]["folds"] == 5
    )
    assert meta["metrics"] == result["metrics"] and result["metrics"]["reviews"]["overall"]["n"] > 0
    assert result["metrics"]["live_test_rooms"]["n"] > 200
    bad = _cli("nlp", "train", "--quick", "--per-source", "5", home=home, model=False, timeout=600)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def _events() -> list[dict[str, object]]:
    t0 = pd.Timestamp("2026-05-01T20:00:00Z")
    rows: list[dict[str, object]] = []
    for i in range(40):
        ts = (t0 + pd.Timedelta(seconds=i)).isoformat()
        rows.append({"type": "enter", "ts": ts, "user_id": f"v{i}", "session_id": "s1"})
        rows.append(
            {"type": "comment", "ts": ts, "user_id": f"v{i}", "text": "这个多少钱？", "session_id": "s1"}
        )
        rows.append({"type": "click", "ts": ts, "user_id": f"v{i}", "product_id": "p1", "session_id": "s1"})
    rows.append(
        {"type": "comment", "ts": t0.isoformat(), "user_id": "x", "text": "other", "session_id": "s2"}
    )
    rows.append(
        {"type": "teleport", "ts": t0.isoformat(), "user_id": "x", "session_id": "s1"}
    )  # not an event
    return rows


def test_live_replay_of_csv_and_jsonl_event_files(tmp_path: Path, data_home: Path) -> None:
    df = pd.DataFrame(_events())
    csv, jsonl = tmp_path / "events.csv", tmp_path / "events.jsonl"
    df.to_csv(csv, index=False)
    df.to_json(jsonl, orient="records", lines=True, force_ascii=False)
    for path in (csv, jsonl):
        done = _cli(
            "live",
            "replay",
            str(path),
            "--from-session",
            "s1",
            "--speed",
            "0",
            "--session",
            "r1",
            "--json",
            home=tmp_path / "home",
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["events"] == 120 and result["dropped"] == 0 and result["session"] == "r1"
        snap = result["snapshot"]
        assert snap["processed"] == 120 and snap["viewers"] == 40
        assert snap["windows"]["5min"]["comments"] == 40
        top = snap["questions"][0]
        assert top["askers"] == 40 and top["intent"] == "price_question"
        heat = {h["product_id"]: h for h in snap["product_heat"]}
        assert heat["p1"]["clicks"] == 40
    missing = _cli("live", "replay", str(tmp_path / "nope.csv"), home=tmp_path / "home")
    assert missing.returncode != 0 and "nope.csv" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "bad.csv").write_text("when,what\n1,2\n")
    bad = _cli("live", "replay", str(tmp_path / "bad.csv"), home=tmp_path / "home")
    assert bad.returncode != 0 and "lacks column" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_evaluate_live_on_small_real_samples(tmp_path: Path, data_home: Path) -> None:
    done = _cli(
        "evaluate",
        "live",
        "--per-source",
        "300",
        "--sample",
        "60",
        "--atec-pairs",
        "1500",
        "--qa-products",
        "40",
        "--embedding-pairs",
        "200",
        "--embedding-products",
        "8",
        "--json",
        home=tmp_path / "home",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    live = report["live_comments"]
    assert live["n"] > 200 and live["test_rooms"] and 1370218 in live["test_rooms"]
    assert {"liveloop", "majority_neutral", "snownlp"} <= set(live["sentiment"])
    assert {"liveloop", "regex"} <= set(live["question"]) and live["question"]["liveloop"]["support"] > 0
    lineup = report["lineup_qa"]
    assert lineup["test"]["liveloop"]["n"] == 120 and lineup["real_danmaku_questions"]["n"] > 0
    assert lineup["test"]["liveloop"]["accuracy"] > lineup["test"]["faq_matching_only"]["accuracy"]
    loco = report["sentiment"]["leave_one_category_out"]["酒店"]
    assert {"liveloop", "tfidf_lr", "snownlp_unseen"} <= set(loco)
    held = report["sentiment"]["held_out"]
    assert {"liveloop", "snownlp"} <= set(held["waimai_10k"]) and "snownlp" not in held["womens_clothing_en"]
    assert set(report["sentiment"]["leave_one_category_out"]) >= {"平板", "酒店"}
    atec = report["qa"]["atec_matching"]
    assert atec["pairs_test"] == 450 and 0 < atec["plain_bm25_f1"] <= 1 and 0 < atec["liveloop_f1"] <= 1
    amazon = report["qa"]["amazon_answer_retrieval"]
    assert amazon["products"] == 40 and 0 < amazon["plain_bm25"]["mrr"] <= 1
    emb = report["qa"]["with_embeddings"]
    assert emb["atec_matching"]["pairs_test"] == 60 and "liveloop_embeddings_f1" in emb["atec_matching"]
    assert "liveloop_embeddings" in emb["amazon_answer_retrieval"]
