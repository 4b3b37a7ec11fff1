"""Experiments in the warehouse: definitions, layers, arms stopped by a guardrail, first exposures.

An experiment's arms, weights and salt never change once it runs (assignment is a pure function of
them, :mod:`.assignment`); what can change is its status (``running`` → ``stopped``) and the arms a
guardrail stopped, whose users are then served the control arm (and still analysed in their own arm).
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from liveloop.core.errors import Conflict, NotFound, ValidationFailed, reject_unknown
from liveloop.core.ids import is_valid_id, new_id
from liveloop.experiments.assignment import BUCKETS, Placement, free_range, place
from liveloop.experiments.stats import CORRECTIONS
from liveloop.privacy.audit import AuditEntry
from liveloop.privacy.audit import record as audit
from liveloop.warehouse import Warehouse

#: What an experiment varies, and the arm configuration each target understands (None: any keys).
TARGETS: dict[str, dict[str, tuple[Any, ...]] | None] = {
    "recommend": {"strategy": ("model", "popular"), "explore": (True, False)},
    "campaign": None,
    "coupon": None,
    "live_ordering": None,
    "custom": None,
}
MAX_ARMS = 10
MAX_METRICS = 20


@dataclass(frozen=True)
class Arm:
    name: str
    weight: float
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentSpec:
    """What a new experiment is (see ``docs/experiments.md``). Weights are percentages summing to 100;
    without weights the arms share the traffic equally. The first arm is the control."""

    name: str
    arms: tuple[Arm, ...]
    target: str = "custom"
    layer: str = "default"
    traffic: float = 100.0  # percent of the layer (after its holdout)
    metrics: tuple[str, ...] = ("gmv",)
    guardrails: tuple[str, ...] = ()
    sequential: bool = True
    alpha: float = 0.05
    correction: str = "holm"
    pre_days: int = 14  # CUPED's pre-period before each user's first exposure; 0 switches CUPED off

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSpec:
        if not isinstance(data, dict):
            raise ValidationFailed("an experiment is a JSON object", field="body")
        reject_unknown(data, cls, "experiment")
        raw_arms = data.get("arms")
        if not isinstance(raw_arms, list) or not raw_arms:
            raise ValidationFailed("arms must be a list of at least two arms", field="arms")
        equal = all(not isinstance(a, dict) or a.get("weight") is None for a in raw_arms)
        arms = []
        for i, a in enumerate(raw_arms):
            if isinstance(a, str):
                a = {"name": a}
            if not isinstance(a, dict):
                raise ValidationFailed("each arm is a name or an object with a name", field=f"arms[{i}]")
            reject_unknown(a, Arm, "arm", f"arms[{i}].")
            weight = 100.0 / len(raw_arms) if equal else a.get("weight")
            if not isinstance(weight, int | float) or isinstance(weight, bool):
                raise ValidationFailed("every arm needs a weight when one has one", field=f"arms[{i}].weight")
            config = a.get("config") or {}
            if not isinstance(config, dict):
                raise ValidationFailed("an arm's config is a JSON object", field=f"arms[{i}].config")
            arms.append(Arm(str(a.get("name", "")), float(weight), config))
        kw = {k: v for k, v in data.items() if k != "arms" and v is not None}
        for key in ("metrics", "guardrails"):
            if key in kw:
                if not isinstance(kw[key], list | tuple) or not all(isinstance(m, str) for m in kw[key]):
                    raise ValidationFailed(f"{key} is a list of metric names", field=key)
                kw[key] = tuple(kw[key])
        try:
            spec = cls(arms=tuple(arms), **kw)
        except TypeError as e:  # a missing name
            raise ValidationFailed(f"an experiment needs a name ({e})", field="name") from None
        return spec

    def check(self, known_metrics: Collection[str] | None = None) -> None:
        """Every rule of a valid experiment, each failure naming its field."""
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise ValidationFailed("name must be 1–200 characters", field="name")
        if self.target not in TARGETS:
            raise ValidationFailed(
                f"unknown target {self.target!r}; known: {', '.join(TARGETS)}", field="target"
            )
        if not isinstance(self.layer, str) or not is_valid_id(self.layer):
            raise ValidationFailed(f"layer {self.layer!r} is not a valid name", field="layer")
        if len(self.arms) < 2:
            raise ValidationFailed(
                "an experiment needs at least two arms (the first is the control)", field="arms"
            )
        if len(self.arms) > MAX_ARMS:
            raise ValidationFailed(f"at most {MAX_ARMS} arms", field="arms")
        names = [a.name for a in self.arms]
        for i, a in enumerate(self.arms):
            if not is_valid_id(a.name):
                raise ValidationFailed(f"arm name {a.name!r} is not a valid name", field=f"arms[{i}].name")
            if not (math.isfinite(a.weight) and a.weight > 0):
                raise ValidationFailed("an arm's weight must be above 0", field=f"arms[{i}].weight")
            self._check_config(a, i)
        if len(set(names)) != len(names):
            raise ValidationFailed("arm names must differ", field="arms")
        total = sum(a.weight for a in self.arms)
        if abs(total - 100.0) > 1e-6:
            raise ValidationFailed(f"the arms' weights sum to {total:g}%, not 100%", field="arms")
        if not isinstance(self.traffic, int | float) or not 0 < self.traffic <= 100:
            raise ValidationFailed(
                "traffic is a percentage of the layer, above 0 and at most 100", field="traffic"
            )
        if not self.metrics:
            raise ValidationFailed("an experiment needs at least one metric", field="metrics")
        for key in ("metrics", "guardrails"):
            values = getattr(self, key)
            if len(values) > MAX_METRICS or len(set(values)) != len(values):
                raise ValidationFailed(f"{key}: at most {MAX_METRICS}, each once", field=key)
            unknown = [m for m in values if known_metrics is not None and m not in known_metrics]
            if unknown:
                known = ", ".join(sorted(known_metrics or ()))
                raise ValidationFailed(f"unknown metric {unknown[0]!r}; known: {known}", field=key)
        if not isinstance(self.alpha, int | float) or not 0 < self.alpha < 0.5:
            raise ValidationFailed("alpha must be between 0 and 0.5", field="alpha")
        if self.correction not in CORRECTIONS:
            raise ValidationFailed(f"correction is one of {', '.join(CORRECTIONS)}", field="correction")
        if (
            not isinstance(self.pre_days, int)
            or isinstance(self.pre_days, bool)
            or not 0 <= self.pre_days <= 365
        ):
            raise ValidationFailed("pre_days is a whole number of days from 0 to 365", field="pre_days")
        if not isinstance(self.sequential, bool):
            raise ValidationFailed("sequential is true or false", field="sequential")

    def _check_config(self, arm: Arm, i: int) -> None:
        allowed = TARGETS[self.target]
        if allowed is None:
            return
        for key, value in arm.config.items():
            if key not in allowed:
                raise ValidationFailed(
                    f"a {self.target} arm's config takes {', '.join(allowed)}; not {key!r}",
                    field=f"arms[{i}].config.{key}",
                )
            if value not in allowed[key]:
                raise ValidationFailed(
                    f"{key} is one of {', '.join(map(str, allowed[key]))}", field=f"arms[{i}].config.{key}"
                )


@dataclass(frozen=True)
class Experiment:
    """A stored experiment, as assignment and analysis need it."""

    experiment_id: str
    name: str
    target: str
    layer: str
    layer_salt: str
    holdout_buckets: int
    salt: str
    traffic: float
    bucket_range: tuple[int, int]
    arms: tuple[Arm, ...]
    metrics: tuple[str, ...]
    guardrails: tuple[str, ...]
    settings: dict[str, Any]
    status: str
    stopped_arms: dict[str, str]  # arm -> why
    created_at: datetime
    stopped_at: datetime | None
    created_by: str | None

    @property
    def control(self) -> str:
        return self.arms[0].name

    @property
    def weights(self) -> dict[str, float]:
        return {a.name: a.weight for a in self.arms}

    def config(self, arm: str) -> dict[str, Any]:
        return next(a.config for a in self.arms if a.name == arm)

    def place(self, user_id: str) -> Placement:
        if self.status != "running":
            return Placement(None, "stopped")
        return place(
            user_id,
            layer=self.layer,
            layer_salt=self.layer_salt,
            holdout_buckets=self.holdout_buckets,
            bucket_range=self.bucket_range,
            salt=self.salt,
            arms=[a.name for a in self.arms],
            weights=[a.weight for a in self.arms],
            stopped=list(self.stopped_arms),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "target": self.target,
            "layer": self.layer,
            "traffic": self.traffic,
            "buckets": list(self.bucket_range),
            "arms": [asdict(a) for a in self.arms],
            "control": self.control,
            "metrics": list(self.metrics),
            "guardrails": list(self.guardrails),
            **self.settings,
            "status": self.status,
            "stopped_arms": self.stopped_arms,
            "created_at": self.created_at.isoformat(),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "created_by": self.created_by,
        }


_COLUMNS = (
    "e.experiment_id, e.name, e.target, e.layer, l.salt, l.holdout, e.salt, e.traffic, e.bucket_lo, "
    "e.bucket_hi, e.arms, e.metrics, e.guardrails, e.settings, e.status, e.stopped_arms, e.created_at, "
    "e.stopped_at, e.created_by"
)
_FROM = "experiments e JOIN experiment_layers l USING (layer)"


def _row(r: tuple[Any, ...]) -> Experiment:
    arms = tuple(Arm(a["name"], float(a["weight"]), a.get("config") or {}) for a in json.loads(r[10]))
    return Experiment(
        experiment_id=r[0], name=r[1], target=r[2], layer=r[3], layer_salt=r[4],
        holdout_buckets=holdout_buckets(float(r[5])), salt=r[6], traffic=float(r[7]),
        bucket_range=(int(r[8]), int(r[9])), arms=arms, metrics=tuple(json.loads(r[11])),
        guardrails=tuple(json.loads(r[12])), settings=json.loads(r[13]), status=r[14],
        stopped_arms=json.loads(r[15]), created_at=r[16], stopped_at=r[17], created_by=r[18],
    )  # fmt: skip


def holdout_buckets(share_percent: float) -> int:
    return round(share_percent / 100 * BUCKETS)


def get(wh: Warehouse, experiment_id: str) -> Experiment:
    rows = wh.sql(f"SELECT {_COLUMNS} FROM {_FROM} WHERE e.experiment_id = ?", [experiment_id])
    if not rows:
        raise NotFound(f"no experiment {experiment_id!r}", field="experiment_id")
    return _row(rows[0])


def list_all(wh: Warehouse, status: str | None = None) -> list[Experiment]:
    if status not in (None, "running", "stopped"):
        raise ValidationFailed("status is running or stopped", field="status")
    where = "WHERE e.status = ?" if status else ""
    rows = wh.sql(
        f"SELECT {_COLUMNS} FROM {_FROM} {where} ORDER BY e.created_at DESC", [status] if status else []
    )
    return [_row(r) for r in rows]


def layers(wh: Warehouse) -> list[dict[str, Any]]:
    """Every layer with its holdout and the share of its traffic running experiments take."""
    rows = wh.sql(
        "SELECT l.layer, l.holdout, "
        "coalesce(sum(e.bucket_hi - e.bucket_lo) FILTER (WHERE e.status = 'running'), 0), "
        "count(e.experiment_id) FILTER (WHERE e.status = 'running') "
        "FROM experiment_layers l LEFT JOIN experiments e USING (layer) GROUP BY 1, 2 ORDER BY 1"
    )
    return [
        {
            "layer": r[0],
            "holdout": float(r[1]),
            "taken": round(int(r[2]) / BUCKETS * 100, 2),
            "running": int(r[3]),
        }
        for r in rows
    ]


def _ensure_layer(con: Any, layer: str) -> tuple[str, float]:
    row = con.execute("SELECT salt, holdout FROM experiment_layers WHERE layer = ?", [layer]).fetchall()
    if row:
        return str(row[0][0]), float(row[0][1])
    salt = secrets.token_hex(8)
    con.execute("INSERT INTO experiment_layers (layer, salt, holdout) VALUES (?, ?, 0)", [layer, salt])
    return salt, 0.0


def set_holdout(wh: Warehouse, layer: str, holdout: float, *, actor: str | None = None) -> dict[str, Any]:
    """A layer's holdout, in percent: users kept out of every experiment of the layer (the long-run
    comparison). Only while no experiment runs in the layer, since it moves every bucket range."""
    if not isinstance(layer, str) or not is_valid_id(layer):
        raise ValidationFailed(f"layer {layer!r} is not a valid name", field="layer")
    if not isinstance(holdout, int | float) or isinstance(holdout, bool) or not 0 <= holdout <= 50:
        raise ValidationFailed("holdout is a percentage from 0 to 50", field="holdout")
    with wh.transaction() as con:
        _ensure_layer(con, layer)
        running = con.execute(
            "SELECT count(*) FROM experiments WHERE layer = ? AND status = 'running'", [layer]
        ).fetchall()[0][0]
        if running:
            raise Conflict(
                f"layer {layer!r} has {running} running experiment(s); stop them before changing its holdout",
                field="holdout",
            )
        con.execute("UPDATE experiment_layers SET holdout = ? WHERE layer = ?", [float(holdout), layer])
        audit(wh, AuditEntry(actor, "experiments.layer_holdout", layer, f"{holdout:g}%"), con=con)
    return next(x for x in layers(wh) if x["layer"] == layer)


def create(
    wh: Warehouse,
    spec: ExperimentSpec,
    *,
    actor: str | None = None,
    known_metrics: Collection[str] | None = None,
) -> Experiment:
    """Store and start an experiment: its buckets are the first free range of its layer."""
    spec.check(known_metrics)
    exp_id = new_id("exp")
    with wh.transaction() as con:
        _, holdout = _ensure_layer(con, spec.layer)
        if spec.target != "custom":
            other = con.execute(
                "SELECT experiment_id, layer FROM experiments "
                "WHERE target = ? AND status = 'running' AND layer <> ?",
                [spec.target, spec.layer],
            ).fetchall()
            if other:
                raise Conflict(
                    f"experiment {other[0][0]} already varies {spec.target} in layer {other[0][1]!r}: "
                    "put this one in the same layer, so no user is in both",
                    field="layer",
                )
        taken = [
            (int(lo), int(hi))
            for lo, hi in con.execute(
                "SELECT bucket_lo, bucket_hi FROM experiments WHERE layer = ? AND status = 'running'",
                [spec.layer],
            ).fetchall()
        ]
        start = holdout_buckets(holdout)
        size = max(1, round(spec.traffic / 100 * (BUCKETS - start)))
        where = free_range(taken, start, size)
        if where is None:
            free = BUCKETS - start - sum(hi - lo for lo, hi in taken)
            raise Conflict(
                f"layer {spec.layer!r} overlaps: {free / (BUCKETS - start) * 100:.1f}% of its traffic is "
                "free, "
                f"the experiment asks for {spec.traffic:g}%; use another layer or stop an experiment",
                field="traffic",
            )
        settings = {
            "sequential": spec.sequential,
            "alpha": spec.alpha,
            "correction": spec.correction,
            "pre_days": spec.pre_days,
        }
        con.execute(
            "INSERT INTO experiments (experiment_id, name, target, layer, salt, traffic, bucket_lo, "
            "bucket_hi, arms, metrics, guardrails, settings, status, stopped_arms, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', '{}', ?)",
            [
                exp_id, spec.name.strip(), spec.target, spec.layer, secrets.token_hex(8), float(spec.traffic),
                where[0], where[1], json.dumps([asdict(a) for a in spec.arms], ensure_ascii=False),
                json.dumps(list(spec.metrics)), json.dumps(list(spec.guardrails)), json.dumps(settings),
                actor,
            ],
        )  # fmt: skip
        audit(
            wh,
            AuditEntry(
                actor,
                "experiments.create",
                exp_id,
                "running",
                details={"name": spec.name, "layer": spec.layer},
            ),
            con=con,
        )
    return get(wh, exp_id)


def stop(
    wh: Warehouse, experiment_id: str, *, actor: str | None = None, reason: str = "stopped"
) -> Experiment:
    """Stop assigning users (their exposures stay for the analysis); its buckets free up."""
    exp = get(wh, experiment_id)
    if exp.status == "stopped":
        return exp
    with wh.transaction() as con:
        con.execute(
            "UPDATE experiments SET status = 'stopped', stopped_at = ? WHERE experiment_id = ?",
            [datetime.now(UTC), experiment_id],
        )
        audit(wh, AuditEntry(actor, "experiments.stop", experiment_id, "stopped", reason), con=con)
    return get(wh, experiment_id)


def stop_arm(
    wh: Warehouse, experiment_id: str, arm: str, reason: str, *, actor: str | None = None
) -> Experiment:
    """Serve the control instead of ``arm`` from now on (a guardrail's decision); analysed as before."""
    exp = get(wh, experiment_id)
    if arm not in exp.weights:
        raise NotFound(f"experiment {experiment_id} has no arm {arm!r}", field="arm")
    if arm == exp.control:
        raise ValidationFailed("the control arm cannot be stopped; stop the experiment", field="arm")
    if arm in exp.stopped_arms:
        return exp
    stopped = {**exp.stopped_arms, arm: reason}
    with wh.transaction() as con:
        con.execute(
            "UPDATE experiments SET stopped_arms = ? WHERE experiment_id = ?",
            [json.dumps(stopped, ensure_ascii=False), experiment_id],
        )
        audit(wh, AuditEntry(actor, "experiments.stop_arm", experiment_id, arm, reason), con=con)
    return get(wh, experiment_id)


def log_exposures(wh: Warehouse, rows: list[tuple[str, str, str, datetime]]) -> int:
    """First exposures ``(experiment_id, user_id, arm, ts)``; a user's later exposures are ignored.
    Returns how many were new."""
    if not rows:
        return 0
    table = pa.table(
        {
            "experiment_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "arm": [r[2] for r in rows],
            "ts": pa.array([r[3] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )
    with wh.transaction() as con:
        con.register("new_exposures", table)
        try:
            # the earliest exposure of a user repeated in one batch; those already stored are kept
            got = con.execute(
                "INSERT INTO exposures SELECT experiment_id, user_id, arg_min(arm, ts), min(ts) "
                "FROM new_exposures GROUP BY 1, 2 ON CONFLICT DO NOTHING"
            ).fetchall()
        finally:
            con.unregister("new_exposures")
    return int(got[0][0]) if got else 0


def assign(wh: Warehouse, experiment_id: str, user_id: str, *, log: bool = True) -> dict[str, Any]:
    """The user's arm (and its configuration to serve), logging the first exposure."""
    if not isinstance(user_id, str) or not is_valid_id(user_id):
        raise ValidationFailed(f"user_id {user_id!r} is not a valid id", field="user_id")
    exp = get(wh, experiment_id)
    p = exp.place(user_id)
    if p.arm is not None and log:
        log_exposures(wh, [(exp.experiment_id, user_id, p.arm, datetime.now(UTC))])
    return {
        "experiment_id": exp.experiment_id,
        "user_id": user_id,
        "arm": p.arm,
        "reason": p.reason,
        "served_arm": p.served_arm,
        "config": exp.config(p.served_arm) if p.served_arm else None,
    }
