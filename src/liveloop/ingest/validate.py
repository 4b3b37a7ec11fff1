"""Vectorised validation: one DuckDB query parses, cleans and checks every row of a chunk.

The query yields the parsed columns plus ``_rule``, the number of the first rule a row breaks (NULL for
good rows); asked for ``reasons`` it also gives that rule's ``_reason`` ("code: detail") and ``_field``.
The engine runs it without reasons and builds them for the bad rows only: DuckDB's planning cost grows
with every expression a statement holds, and most chunks have few or no bad rows. For the same reason a
field the source does not have is a typed NULL with no rules but ``required``. Rules: required fields,
types (TRY_CAST), enums, id format, timestamp parsing (epoch s/ms/us or ISO 8601, naive values read in
the declared source zone) and range, non-negative amounts and quantities except refunds, text length,
JSON validity.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from liveloop.core.clock import EARLIEST
from liveloop.core.ids import ID_PATTERN
from liveloop.ingest.schema import Field, TableSpec

#: ``ID_PATTERN`` (``^[class]{1,N}$``) as ``[class]+`` plus a length check, the same verdict: RE2 expands
#: the counted repetition, which made each id rule cost DuckDB several times more to plan.
_ID_SHAPE = re.fullmatch(r"\^(\[[^\]]+\])\{1,(\d+)\}\$", ID_PATTERN)
if _ID_SHAPE is None:
    raise RuntimeError(f"ID_PATTERN changed shape: {ID_PATTERN}")
_ID_CHARS, ID_MAX = _ID_SHAPE.group(1) + "+", int(_ID_SHAPE.group(2))
#: A value that is empty or a whole id: what a reader checks on a column (see ``id_sources``).
WELL_FORMED_IDS = "^(?:" + ID_PATTERN[1:-1] + ")?$"
#: The same check byte by byte: the bytes an id may hold (all ASCII), with ``ID_MAX`` its longest length.
ID_BYTES = frozenset(b for b in range(128) if re.fullmatch(_ID_SHAPE.group(1), chr(b)))
_PHONE_RE = r"\+?[0-9][0-9 ()-]{4,24}"
_EMAIL_RE = r"[^@\s]+@[^@\s]+\.[^@\s]+"
_NUM_RE = r"-?[0-9]+(\.[0-9]+)?"
_OFFSET_RE = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
#: A UTC offset no place has (beyond ±14:00, e.g. ``+99:00``, which DuckDB's cast would accept).
_BAD_OFFSET_RE = r"[0-9][+-](1[5-9]|[2-9][0-9])(:?[0-9]{2})?$"
TS_UNITS = ("s", "ms", "us", "auto")
#: Sanity range of any timestamp (UTC). Feeds may declare a narrower window (e.g. a data set's days).
DEFAULT_RANGE = (EARLIEST.strftime("%Y-%m-%d %H:%M:%S+00"), None)


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Options:
    """How to read values whose meaning the file does not carry."""

    source_tz: str = "UTC"
    ts_unit: str = "s"
    latest: str = ""  # upper bound of valid timestamps, a TIMESTAMPTZ literal (default: now + 1 day)
    labels: frozenset[str] = field(default_factory=frozenset)  # label kinds present in label_map


#: The column a reader adds beside source column ``c`` when it parsed its timestamps (``Chunk.ts_parsed``).
PARSED_TS = "_ts_{}"


def _ts_parse(s: str, opt: Options, pre: str | None = None) -> str:
    """SQL of the timestamp in string ``s``; ``pre``: the reader's parse of it (NULL where it did not)."""
    num = f"TRY_CAST({s} AS DOUBLE)"
    scale = {"s": "1", "ms": "1000", "us": "1000000"}.get(opt.ts_unit)
    if scale is None:  # auto: pick the unit by magnitude
        scale = f"(CASE WHEN abs({num}) < 1e11 THEN 1 WHEN abs({num}) < 1e14 THEN 1000 ELSE 1000000 END)"
    epoch = f"TRY(to_timestamp({num} / {scale}))"
    if opt.source_tz.upper() == "UTC":
        text = f"TRY_CAST({s} AS TIMESTAMPTZ)"
    else:
        text = (
            f"CASE WHEN regexp_matches({s}, {lit(_OFFSET_RE)}) THEN TRY_CAST({s} AS TIMESTAMPTZ) "
            f"ELSE timezone({lit(opt.source_tz)}, TRY_CAST({s} AS TIMESTAMP)) END"
        )
    text = f"CASE WHEN regexp_matches({s}, {lit(_BAD_OFFSET_RE)}) THEN NULL ELSE {text} END"
    parsed = f"CASE WHEN regexp_full_match({s}, {lit(_NUM_RE)}) THEN {epoch} ELSE {text} END"
    if pre is None:
        return parsed
    # a naive time the reader parsed (``YYYY-MM-DD HH:MM:SS``) means what the same text cast here means
    zoned = (
        f"CAST({pre} AS TIMESTAMPTZ)"
        if opt.source_tz.upper() == "UTC"
        else f"timezone({lit(opt.source_tz)}, {pre})"
    )
    return f"CASE WHEN {pre} IS NOT NULL THEN {zoned} ELSE {parsed} END"


#: The SQL type of each kind's parsed value (a field the source lacks is a NULL of this type).
_TYPES = {
    "ts": "TIMESTAMPTZ",
    "money": "DECIMAL(18,2)",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "json": "JSON",
    "list": "VARCHAR[]",
}


def _parse(f: Field, s: str, opt: Options, pre: str | None = None) -> str:
    """SQL giving the typed, cleaned value of field ``f`` from its trimmed string ``s`` (``pre``: the
    reader's parse of a timestamp field)."""
    k = f.kind
    if k == "enum":
        base = f"lower({s})"
        if f.synonyms:
            cases = " ".join(f"WHEN {lit(a)} THEN {lit(b)}" for a, b in f.synonyms)
            base = f"CASE lower({s}) {cases} ELSE lower({s}) END"
        return f"coalesce({ident('lm_' + f.name)}.canonical, {base})" if f.label in opt.labels else base
    if k == "label":
        return f"coalesce({ident('lm_' + f.name)}.canonical, {s})" if f.label in opt.labels else s
    if k == "ts":
        return _ts_parse(s, opt, pre)
    if k == "money":
        return f"TRY_CAST({s} AS DECIMAL(18,2))"
    if k == "int":
        return f"TRY_CAST(TRY_CAST({s} AS DOUBLE) AS BIGINT)"
    if k == "bool":
        return (
            f"CASE WHEN lower({s}) IN ('1','true','t','yes','y') THEN TRUE "
            f"WHEN lower({s}) IN ('0','false','f','no','n') THEN FALSE END"
        )
    if k == "json":
        return f"CASE WHEN json_valid({s}) THEN CAST({s} AS JSON) END"
    if k == "list":
        return (
            f"CASE WHEN {s} LIKE '[%' THEN TRY_CAST(TRY_CAST({s} AS JSON) AS VARCHAR[]) "
            f"ELSE list_transform(string_split({s}, '|'), lambda x: trim(x)) END"
        )
    if k == "email":
        return f"lower({s})"
    return s  # id, str, text, phone, name


#: What DuckDB's ``trim`` strips: the Unicode space separators (category Zs).
SPACES = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


def clean_text(v: str) -> str | None:
    """``_clean`` in Python, for sources built in Python (``readers.records_table``): the same verdict."""
    if not v:
        return None
    if v[0] == " " or v[-1] == " ":
        return v.strip(SPACES) or None
    return v


def _clean(v: str) -> str:
    """Empty → NULL, surrounding spaces trimmed (trim only runs on the few values that need it)."""
    trimmed = f"NULLIF(trim({v}), '')"
    return f"CASE WHEN {v} = '' THEN NULL WHEN {v} LIKE ' %' OR {v} LIKE '% ' THEN {trimmed} ELSE {v} END"


def _show(s: str) -> str:
    return f"left({s}, 60)"


def _checks(
    f: Field,
    spec: TableSpec,
    opt: Options,
    window: tuple[str, str | None] | None,
    *,
    id_ok: bool = False,
    pre: str | None = None,
) -> list[tuple[str, str]]:
    """(bad-if SQL, reason SQL) for field ``f``, first failing wins. ``s`` is the raw string column.
    ``id_ok``: the reader found every value of the field's source column a well-formed id (or empty).
    ``pre``: the reader's parse of a timestamp field (a value it parsed is not a number)."""
    s, v, name = ident("_s_" + f.name), ident(f.name), f.name
    out: list[tuple[str, str]] = []
    k = f.kind
    if k == "id" and not id_ok:
        out.append(
            (
                f"length({s}) > {ID_MAX} OR NOT regexp_full_match({s}, {lit(_ID_CHARS)})",
                f"'bad_id: {name}=' || {_show(s)} || ' (letters, digits, _ . : @ - ; at most 128)'",
            )
        )
    elif k == "enum":
        code = f.reason or f"bad_{name}"
        allowed = ", ".join(lit(x) for x in f.values)
        hint = ", ".join(f.values[:8]) + (", …" if len(f.values) > 8 else "")
        out.append((f"{v} NOT IN ({allowed})", f"'{code}: ' || {_show(s)} || ' (expected {hint})'"))
    elif k in ("str", "label", "text", "name"):
        code = "text_too_long" if k == "text" else "too_long"
        out.append(
            (
                f"length({s}) > {f.max_len}",
                f"'{code}: {name} has ' || length({s}) || ' characters (max {f.max_len})'",
            )
        )
    elif k == "ts":
        # the regex first: a failed TRY_CAST on every ISO string is far slower
        num = f"regexp_full_match({s}, {lit(_NUM_RE)}) AND abs(TRY_CAST({s} AS DOUBLE))"
        if pre is not None:
            num = f"{pre} IS NULL AND {num}"
        if opt.ts_unit == "s":
            out.append(
                (
                    f"{num} >= 1e11",
                    f"'timestamp_unit: {name}=' || {_show(s)} || ' looks like milliseconds; "
                    "import with --ts-unit ms'",
                )
            )
        elif opt.ts_unit in ("ms", "us"):
            out.append(
                (
                    f"{num} < 1e11",
                    f"'timestamp_unit: {name}=' || {_show(s)} || ' looks like seconds; use --ts-unit s'",
                )
            )
        out.append((f"{v} IS NULL", f"'bad_timestamp: {name}=' || {_show(s)}"))
        lo = DEFAULT_RANGE[0]
        out.append(
            (
                f"{v} < TIMESTAMPTZ {lit(lo)} OR {v} > TIMESTAMPTZ {lit(opt.latest)}",
                f"'timestamp_out_of_range: {name}=' || strftime({v}, '%Y-%m-%d %H:%M:%S') || ' UTC'",
            )
        )
        if window is not None:
            wlo, whi = window
            cond = f"{v} < TIMESTAMPTZ {lit(wlo)}" + (f" OR {v} >= TIMESTAMPTZ {lit(whi)}" if whi else "")
            out.append(
                (
                    cond,
                    f"'timestamp_out_of_range: {name}=' || strftime({v}, '%Y-%m-%d %H:%M:%S') || "
                    "' UTC is outside the data set window (--keep-out-of-range keeps it)'",
                )
            )
    elif k in ("money", "int"):
        out.append((f"{v} IS NULL", f"'bad_number: {name}=' || {_show(s)}"))
        if k == "money" or f.min == 0:
            code = "negative_amount" if k == "money" else f"negative_{name}"
            out.append(
                (
                    f"{v} < 0 AND NOT coalesce({spec.refund}, FALSE)",
                    f"'{code}: {name}=' || {_show(s)} || ' (only refunds may be negative)'",
                )
            )
        if k == "int":
            lo_ok = f"{v} < {f.min}" if f.min not in (None, 0) else "FALSE"
            hi_ok = f"{v} > {f.max}" if f.max is not None else f"{v} > 2147483647"
            out.append((f"{lo_ok} OR {hi_ok} OR {v} < -2147483647", f"'out_of_range: {name}=' || {_show(s)}"))
    elif k == "bool":
        out.append((f"{v} IS NULL", f"'bad_boolean: {name}=' || {_show(s)}"))
    elif k == "json":
        out.append((f"{v} IS NULL", f"'bad_json: {name} is not valid JSON'"))
        out.append(
            (f"length({s}) > 20000", f"'too_long: {name} has ' || length({s}) || ' characters (max 20000)'")
        )
    elif k == "list":
        out.append((f"{v} IS NULL", f"'bad_list: {name}=' || {_show(s)}"))
    elif k == "phone":
        out.append(
            (f"NOT regexp_full_match({s}, {lit(_PHONE_RE)})", lit(f"bad_phone: {name} is not a phone number"))
        )
    elif k == "email":
        out.append(
            (
                f"length({s}) > 254 OR NOT regexp_full_match({s}, {lit(_EMAIL_RE)})",
                lit(f"bad_email: {name} is not an e-mail address"),
            )
        )
    if k == "list":
        out.append((f"length({s}) > 20000", f"'too_long: {name} has ' || length({s}) || ' characters'"))
    # a rule fires only on a present value; "required" fires on an absent one
    required = [(f"{s} IS NULL", lit(f"missing_required: {name} is empty"))] if f.required else []
    return required + [(f"{s} IS NOT NULL AND ({c})", r) for c, r in out]


@dataclass(frozen=True)
class Target:
    """Where one source row goes: a table, how its columns are computed, and any extra rules.

    ``columns`` maps a native column to a SQL expression over the source columns (absent columns are
    NULL). ``extra`` columns (names starting ``x_``) pass through untouched for derived tables.
    ``where`` routes rows when one source feeds several tables. ``window`` narrows valid timestamps.
    """

    spec: TableSpec
    columns: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)
    where: str | None = None
    protect_raw: bool = False  # encrypt quarantined raw rows even when the table has no PII columns
    window: tuple[str, str | None] | None = None
    window_fields: tuple[str, ...] = ("ts",)
    checks: tuple[tuple[str, str, str], ...] = ()  # (bad-if SQL over parsed columns, reason SQL, field)
    refund: str | None = None
    #: (table, SQL) statements over the relation ``_new`` (rows just inserted) that fill derived tables;
    #: ``?`` is bound to the source tag.
    derived: tuple[tuple[str, str], ...] = ()

    @property
    def table(self) -> str:
        return self.spec.table


def validation_sql(
    target: Target,
    source: str,
    opt: Options,
    *,
    keep_window: bool = False,
    reasons: bool = False,
    clean: Collection[str] = (),
    ids_ok: Collection[str] = (),
    ts_parsed: Collection[str] = (),
    present_only: bool = False,
) -> str:
    """The query over relation ``source`` (which has ``_line``) that parses and checks each row.

    It yields ``_line``, ``_rule`` (NULL for a good row), the parsed columns and the extras; with
    ``reasons`` also ``_reason`` and ``_field`` of the broken rule. ``present_only``: of the parsed
    columns only those a source column fills (``present_fields``), not the all-NULL others. ``clean``
    names source columns that are already VARCHAR and cleaned (``clean_text``): a field read straight
    from one skips the cast and the cleaning expression, which cost DuckDB more to plan than to run on
    an API-sized chunk.
    ``ids_ok`` names source columns whose every value the reader found empty or a well-formed id
    (``WELL_FORMED_IDS``, checked in the reader thread): an id field read straight from one
    skips its per-row regular expression and its trim. ``ts_parsed`` names source columns beside which
    the reader added ``PARSED_TS`` (their timestamps it parsed, NULL where it did not): a timestamp field
    read straight from one parses only those NULL rows here.
    """
    spec = target.spec
    if target.refund:
        spec = TableSpec(spec.table, spec.fields, spec.key, target.refund, spec.derive_key, spec.checks)
    cols = dict(target.columns)
    if spec.derive_key and spec.key[0] not in cols:
        prefix, natural = spec.derive_key
        parts = ", ".join(f"coalesce(CAST({cols[n]} AS VARCHAR), '')" for n in natural if n in cols)
        cols[spec.key[0]] = f"'{prefix}_' || left(md5(concat_ws(chr(31), {parts})), 24)"
    present = [f for f in spec.fields if f.name in cols]
    # timestamp fields read straight from a column the reader parsed: field -> that parse's source column
    pre_src = {
        f.name: PARSED_TS.format(c)
        for f in present
        for c in ts_parsed
        if f.kind == "ts" and cols[f.name] == ident(c)
    }
    pre = {name: ident("_p_" + name) for name in pre_src}
    stage = "".join(f", {ident('_s_' + f.name)}" for f in present) + "".join(f", {p}" for p in pre.values())
    ready = {ident(c) for c in clean}
    trimmed = {ident(c) for c in ids_ok}  # an id has no spaces: only an empty value needs cleaning

    def staged(expr: str) -> str:
        if expr in ready:
            return expr
        if expr in trimmed:
            return f"NULLIF(CAST({expr} AS VARCHAR), '')"
        return _clean(f"CAST({expr} AS VARCHAR)")

    s_select = "".join(f", {staged(cols[f.name])} AS {ident('_s_' + f.name)}" for f in present)
    s_select += "".join(f", {ident(pre_src[n])} AS {p}" for n, p in pre.items())
    extra = "".join(f", {expr} AS {ident(name)}" for name, expr in target.extra.items())
    where = f" WHERE {target.where}" if target.where else ""
    joins = "".join(
        f" LEFT JOIN label_map AS {ident('lm_' + f.name)} ON {ident('lm_' + f.name)}.kind = {lit(f.label)} "
        f"AND {ident('lm_' + f.name)}.raw = lower({ident('_s_' + f.name)})"
        for f in present
        if f.label and f.label in opt.labels
    )
    p_select = ", ".join(
        f"{_parse(f, ident('_s_' + f.name), opt, pre.get(f.name))} AS {ident(f.name)}"
        if f.name in cols
        else f"CAST(NULL AS {_TYPES.get(f.kind, 'VARCHAR')}) AS {ident(f.name)}"
        for f in spec.fields
    )
    rules: list[tuple[str, str, str]] = []
    for f in spec.fields:
        if f.name not in cols:  # no value, so no rule fires but "required"
            if f.required:
                rules.append(("TRUE", lit(f"missing_required: {f.name} is empty"), f.name))
            continue
        window = target.window if (f.name in target.window_fields and not keep_window) else None
        id_ok = cols[f.name] in {ident(c) for c in ids_ok}
        checks = _checks(f, spec, opt, window, id_ok=id_ok, pre=pre.get(f.name))
        rules.extend((c, r, f.name) for c, r in checks)
    rules.extend(spec.checks)
    rules.extend(target.checks)
    # the rules run once, giving the number of the first broken one; its text is built for bad rows only
    rule = " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _) in enumerate(rules, 1))
    rule = f"CASE {rule} END" if rules else "CAST(NULL AS INTEGER)"
    names = ", ".join(ident(f.name) for f in (present if present_only else spec.fields))
    extra_names = "".join(f", {ident(n)}" for n in target.extra)
    outcome = "_rule"
    if reasons and not rules:
        outcome = "_rule, CAST(NULL AS VARCHAR) AS _reason, CAST(NULL AS VARCHAR) AS _field"
    elif reasons:
        reason = " ".join(f"WHEN {i} THEN {r}" for i, (_, r, _) in enumerate(rules, 1))
        fields = "[" + ", ".join(lit(n) for _, _, n in rules) + "]"
        outcome = f"_rule, CASE _rule {reason} END AS _reason, {fields}[_rule] AS _field"
    return (
        f"WITH s AS (SELECT _line{s_select}{extra} FROM {source}{where}), "
        f"p AS (SELECT s._line{stage}, {p_select}{extra_names} FROM s{joins}), "
        f"r AS (SELECT *, {rule} AS _rule FROM p) "
        f"SELECT _line, {outcome}, {names}{extra_names} FROM r"
    )


def id_sources(targets: Collection[Target], columns: Collection[str]) -> tuple[str, ...]:
    """The source ``columns`` that some target reads straight into an id field (a reader can check
    them for ``validation_sql``'s ``ids_ok``)."""
    return _straight(targets, columns, "id")


def ts_sources(targets: Collection[Target], columns: Collection[str]) -> tuple[str, ...]:
    """The source ``columns`` that some target reads straight into a timestamp field (a reader can
    parse them for ``validation_sql``'s ``ts_parsed``)."""
    return _straight(targets, columns, "ts")


def _straight(targets: Collection[Target], columns: Collection[str], kind: str) -> tuple[str, ...]:
    straight = {
        t.columns[f.name] for t in targets for f in t.spec.fields if f.kind == kind and f.name in t.columns
    }
    return tuple(c for c in columns if ident(c) in straight)


def present_fields(target: Target) -> frozenset[str]:
    """The fields of ``target``'s table a source row gives a value (the key, when derived, included);
    the others are NULL in every row."""
    names = set(target.columns)
    if target.spec.derive_key:
        names.add(target.spec.key[0])
    return frozenset(names)
