"""The audience rule language: a small boolean language over profile features, compiled to SQL.

    value_tier = "high" and churn_probability > 0.6 and category:beauty
    lifecycle in ["at_risk", "churned"] or (segment = "seg_2" and not brand:"Estée Lauder")

A comparison names a profile column (``value_tier``, ``lifecycle``, ``segment``), a feature of the
profile's ``features`` or a model score of its ``scores`` (``churn_probability``, ``clv``…); ``kind:value``
is an interest tag. Words are ``and``, ``or``, ``not``, ``in``, ``true``, ``false``. Every value goes to
DuckDB as a parameter; only names from the known set reach the SQL text, so a rule cannot inject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from liveloop.core.errors import ValidationFailed

MAX_RULE = 2000
#: Columns of ``profiles`` a rule may name directly (``segment`` is ``segment_id``).
COLUMNS = {
    "value_tier": "value_tier",
    "lifecycle": "lifecycle",
    "segment": "segment_id",
    "user_id": "user_id",
}
TAG_KINDS = ("category", "brand")
OPS = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TOKEN = re.compile(
    r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op><=|>=|==|!=|<>|[=<>])"""
    r"""|(?P<punct>[()\[\],:])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*|[^\s()\[\],:=<>!"']+))"""
)


@dataclass(frozen=True)
class Fields:
    """The names a rule may use: numeric and text features, and score names."""

    numeric: frozenset[str]
    text: frozenset[str]
    scores: frozenset[str]

    def known(self) -> list[str]:
        return sorted({*COLUMNS, *self.numeric, *self.text, *self.scores})


def _tokens(rule: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    rule = rule.rstrip()
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if m is None or m.end() == pos:
            raise ValidationFailed(f"rule: cannot read {rule[pos : pos + 20]!r}", field="rule")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        out.append((kind, text))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, rule: str, fields: Fields):
        if not rule.strip():
            raise ValidationFailed("rule is empty", field="rule")
        if len(rule) > MAX_RULE:
            raise ValidationFailed(f"rule is longer than {MAX_RULE} characters", field="rule")
        self.toks = _tokens(rule)
        self.i = 0
        self.fields = fields
        self.params: list[Any] = []
        self.names: set[str] = set()

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValidationFailed("rule ends too early", field="rule")
        self.i += 1
        return tok

    def word(self, w: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() == w:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        _kind, got = self.take()
        if got != text:
            raise ValidationFailed(f"rule: expected {text!r}, got {got!r}", field="rule")

    def parse(self) -> str:
        sql = self.disjunction()
        if self.peek() is not None:
            raise ValidationFailed(f"rule: unexpected {self.peek()[1]!r}", field="rule")  # type: ignore[index]
        return sql

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.word("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.negation()]
        while self.word("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def negation(self) -> str:
        if self.word("not"):
            return f"(NOT coalesce({self.negation()}, FALSE))"
        return self.atom()

    def atom(self) -> str:
        tok = self.peek()
        if tok == ("punct", "("):
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        kind, name = self.take()
        if kind != "word":
            raise ValidationFailed(f"rule: expected a feature name, got {name!r}", field="rule")
        if self.peek() == ("punct", ":"):
            self.take()
            return self.tag(name)
        return self.comparison(name)

    def tag(self, kind: str) -> str:
        if kind not in TAG_KINDS:
            raise ValidationFailed(
                f"rule: unknown tag kind {kind!r}; one of {', '.join(TAG_KINDS)}", field="rule"
            )
        vkind, value = self.take()
        if vkind not in ("word", "str", "num"):
            raise ValidationFailed(f"rule: {kind}: needs a value", field="rule")
        self.params.append(f"{kind}:{value}")
        self.names.add(kind)
        return "list_contains(tags, ?)"

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if kind == "str":
            return text
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValidationFailed(f"rule: expected a value, got {text!r} (quote text values)", field="rule")

    def comparison(self, name: str) -> str:
        column = self.column(name)
        if self.word("in"):
            self.expect("[")
            values = [self.value()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.value())
            self.expect("]")
            return "(" + " OR ".join(self.compare(name, column, "=", v) for v in values) + ")"
        kind, op = self.take()
        if kind != "op":
            raise ValidationFailed(f"rule: expected a comparison after {name!r}, got {op!r}", field="rule")
        return self.compare(name, column, OPS[op], self.value())

    def column(self, name: str) -> str:
        self.names.add(name)
        if name in COLUMNS:
            return COLUMNS[name]
        if name in self.fields.scores:
            return f"scores->>'$.{name}'"
        if name in self.fields.numeric or name in self.fields.text:
            return f"features->>'$.{name}'"
        raise ValidationFailed(
            f"rule: unknown feature {name!r}; known: {', '.join(self.fields.known())}", field="rule"
        )

    def compare(self, name: str, column: str, op: str, value: Any) -> str:
        numeric = name in self.fields.numeric or name in self.fields.scores
        if isinstance(value, bool):
            self.params.append(value)
            return f"TRY_CAST({column} AS BOOLEAN) {op} ?"
        if isinstance(value, float):
            if not numeric:
                raise ValidationFailed(f"rule: {name!r} is text; quote the value", field="rule")
            self.params.append(value)
            return f"TRY_CAST({column} AS DOUBLE) {op} ?"
        if numeric:
            raise ValidationFailed(f"rule: {name!r} is a number; compare it with a number", field="rule")
        if name == "segment":  # a segment by id or by its Chinese or English name
            self.params += [value, value, value]
            return (
                f"{column} {'NOT ' if op == '<>' else ''}IN (SELECT segment_id FROM segments "
                "WHERE segment_id = ? OR name_zh = ? OR name_en = ?)"
            )
        self.params.append(value)
        return f"{column} {op} ?"


def compile_rule(rule: str, fields: Fields) -> tuple[str, list[Any], set[str]]:
    """``(condition, params, names)``: a SQL condition over ``profiles`` true for the matching users."""
    p = _Parser(rule, fields)
    return p.parse(), p.params, p.names
