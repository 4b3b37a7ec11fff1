"""Quality of the compliance gate on the annotated sentences (docs/content-annotation.md).

Reported on the 320 test sentences only (the 160 development ones are what the rules were written
against), beside a plain word-list match: any term of ``ad_law_absolute_words`` found means a problem,
which is how a checker built on that list alone behaves.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from sklearn.metrics import cohen_kappa_score

from liveloop.content import annotated
from liveloop.content.compliance import ComplianceChecker, default_checker
from liveloop.core.config import Settings


def _prf(got: pd.Series, gold: pd.Series) -> dict[str, float]:
    tp = int((got & gold).sum())
    p = tp / int(got.sum()) if got.sum() else 0.0
    r = tp / int(gold.sum()) if gold.sum() else 0.0
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
        "support": int(gold.sum()),
    }


def agreement(df: pd.DataFrame) -> dict[str, Any]:
    """How often the two annotators agreed, on the verdict and on problem-or-not (Cohen's kappa)."""
    a, b = df["a_verdict"], df["b_verdict"]
    return {
        "items": len(df),
        "verdict_agreement": round(float((a == b).mean()), 4),
        "verdict_kappa": round(float(cohen_kappa_score(a, b)), 3),
        "problem_kappa": round(float(cohen_kappa_score(a != "pass", b != "pass")), 3),
        "rules_agreement": round(float((df["a_rules"] == df["b_rules"]).mean()), 4),
    }


def _word_list(checker: ComplianceChecker) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in checker.terms), re.I)


def compliance_report(settings: Settings | None = None, split: str = "test") -> dict[str, Any]:
    """Precision and recall of the gate (problem = flag or block; block alone; per rule) on ``split``,
    beside the plain word-list match, and the annotators' agreement on all sentences."""
    df = annotated.load(settings)
    every = df
    df = df[df["split"] == split].reset_index(drop=True)
    checker = default_checker(settings)
    results = [checker.check(t) for t in df["text"]]
    verdict = pd.Series([r.verdict for r in results])
    found = [{f.rule for f in r.hits} for r in results]
    plain = _word_list(checker)
    listed = df["text"].map(lambda t: bool(plain.search(t)))
    gold_problem = df["verdict"] != "pass"
    per_rule = {}
    for rule in annotated.RULES:
        gold = df["rules"].str.split().map(lambda rs, rule=rule: rule in rs)
        if gold.sum():
            got = pd.Series([rule in f for f in found])
            per_rule[rule] = _prf(got, gold)
    return {
        "split": split,
        "sentences": len(df),
        "problems": int(gold_problem.sum()),
        "blocks": int((df["verdict"] == "block").sum()),
        "gate": {
            "problem": _prf(verdict != "pass", gold_problem),
            "block": _prf(verdict == "block", df["verdict"] == "block"),
            "per_rule": per_rule,
        },
        "word_list": {
            "problem": _prf(listed, gold_problem),
            "block": _prf(listed, df["verdict"] == "block"),
        },
        "agreement": agreement(every),
    }
