"""Lineup Q&A quality: the live-shopping question set (docs/live-annotation.md) and real danmaku questions.

The question set holds 240 questions viewers of a live-shopping room would type about a six-product
lineup and the shop's policies, each with the answer key two annotators agreed on (``human`` when the
lineup cannot answer). Odd ``qid``s are the development half the answerer's patterns were written
against; even ``qid``s are the test half, reported here. Beside it: the answerer without the lineup step
(FAQ matching only, as liveloop answered before). On the annotated real danmaku questions (a game stream:
none is about the lineup) every answer is a wrong one, so the answered share there is the false-answer rate.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pandas as pd

from liveloop.core.config import Settings
from liveloop.live import annotated
from liveloop.live.embeddings import Embedder
from liveloop.live.qa import DEFAULT_POLICIES, Answerer, KnowledgeBase


def question_set() -> tuple[dict[str, Any], pd.DataFrame]:
    """The lineup (products and keyed policies) and the questions (qid, text, on_stage, expected, half)."""
    data = resources.files("liveloop.live") / "data"
    lineup = json.loads((data / "qa_lineup.json").read_text(encoding="utf-8"))
    with (data / "qa_questions.jsonl").open("r", encoding="utf-8") as fh:
        questions = pd.DataFrame([json.loads(line) for line in fh if line.strip()])
    questions["half"] = questions["qid"].map(lambda q: "development" if q % 2 else "test")
    return lineup, questions


def knowledge_base(lineup: dict[str, Any]) -> KnowledgeBase:
    policies = [{**p, "answer": lineup["policies"][p["key"]]} for p in DEFAULT_POLICIES]
    return KnowledgeBase(products=lineup["lineup"], policies=policies)


def _score(answerer: Answerer, questions: pd.DataFrame) -> dict[str, Any]:
    got = []
    for q in questions.itertuples():
        a = answerer.answer(q.text, None, on_stage=q.on_stage)
        got.append(a.entry_id if a.status == "answered" else "human")
    expected = questions["expected"].to_numpy()
    got_s = pd.Series(got, index=questions.index)
    answered = got_s != "human"
    right = got_s.to_numpy() == expected
    answerable = expected != "human"
    n = len(questions)
    return {
        "n": n,
        "answered_share": round(float(answered.mean()), 4),
        "correct_share_of_answered": round(float(right[answered.to_numpy()].mean()), 4)
        if answered.any()
        else None,
        "hand_off_share": round(float(1 - answered.mean()), 4),
        "accuracy": round(float(right.mean()), 4),
        "answerable_answered_correctly": round(float(right[answerable].mean()), 4)
        if answerable.any()
        else None,
        "unanswerable_handed_off": round(float(right[~answerable].mean()), 4)
        if (~answerable).any()
        else None,
    }


def lineup_report(settings: Settings | None = None, embedder: Embedder | None = None) -> dict[str, Any]:
    """The question set's test half (and development half) beside the FAQ-only answerer; the false-answer
    rate on the annotated real danmaku questions."""
    lineup, questions = question_set()
    kb = knowledge_base(lineup)
    ours = kb.answerer(embedder=embedder)
    faq_only = Answerer(kb.entries(), embedder=embedder)
    out: dict[str, Any] = {}
    for half, part in questions.groupby("half"):
        out[str(half)] = {"liveloop": _score(ours, part), "faq_matching_only": _score(faq_only, part)}
    live = annotated.load(settings)
    asked = live[annotated.is_question(live["intent"])]
    false = [ours.answer(t).status == "answered" for t in asked["text"]]
    false_faq = [faq_only.answer(t).status == "answered" for t in asked["text"]]
    out["real_danmaku_questions"] = {
        "n": len(asked),
        "liveloop_answered_share": round(sum(false) / max(len(false), 1), 4),
        "faq_matching_only_answered_share": round(sum(false_faq) / max(len(false_faq), 1), 4),
        "note": "a game stream: no question is about the lineup, so every answer is a false one",
    }
    return out
