"""Experiments: ``/v1/experiments`` (marketers create and stop, analysts read results), the app's
back-end asks for a user's arm (which logs the first exposure), power before launch, layer holdouts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import experiments as service
from liveloop.api.deps import get_warehouse
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.experiments import store
from liveloop.experiments.store import MAX_ARMS, MAX_METRICS, TARGETS
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["experiments"])
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))
WRITE = Depends(require_roles(Role.MARKETER))
APP = Depends(require_roles(Role.INGEST, Role.MARKETER))


def _actor(request: Request) -> str:
    return f"key:{principal_of(request).key_id}"


class ArmIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=64, examples=["control"])
    weight: float | None = Field(None, description="percent of the experiment's traffic; all or none")
    config: dict[str, Any] = Field(default_factory=dict, examples=[{"strategy": "popular"}])


class ExperimentIn(BaseModel):
    """A new experiment; the first arm is the control."""

    name: str = Field(..., min_length=1, max_length=200)
    arms: list[ArmIn | str] = Field(..., max_length=MAX_ARMS)
    target: Literal[tuple(TARGETS)] = "custom"  # type: ignore[valid-type]
    layer: str = Field("default", max_length=64)
    traffic: float = Field(100.0, description="percent of the layer's users (after its holdout)")
    metrics: list[str] = Field(["gmv"], max_length=MAX_METRICS, description="KPI registry keys")
    guardrails: list[str] = Field(default_factory=list, max_length=MAX_METRICS)
    sequential: bool = True
    alpha: float = 0.05
    correction: Literal["holm", "bh", "none"] = "holm"
    pre_days: int = Field(14, description="CUPED's pre-period in days (0: off)")


class AssignIn(BaseModel):
    user_id: str = Field(..., max_length=128)


class LayerIn(BaseModel):
    holdout: float = Field(..., description="percent of the layer's users kept out of all its experiments")


@router.post("/experiments", status_code=201, dependencies=[WRITE], summary="Create and start an experiment")
async def create(
    request: Request, body: ExperimentIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    data["arms"] = [
        a if isinstance(a, str) else {k: v for k, v in a.items() if v is not None} for a in data["arms"]
    ]
    exp = await run_in_threadpool(service.create, wh, data, actor=_actor(request))
    return exp.to_dict()


@router.get("/experiments", dependencies=[READ], summary="Experiments, newest first")
def list_experiments(
    status: Annotated[Literal["running", "stopped"] | None, Query()] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> list[dict[str, Any]]:
    return [e.to_dict() for e in store.list_all(wh, status)]


@router.get("/experiments/layers", dependencies=[READ], summary="Layers, their holdouts and free traffic")
def list_layers(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return store.layers(wh)


@router.put("/experiments/layers/{layer}", dependencies=[WRITE], summary="Set a layer's holdout")
def set_layer(
    request: Request, layer: Id, body: LayerIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return store.set_holdout(wh, layer, body.holdout, actor=_actor(request))


@router.get("/experiments/power", dependencies=[READ], summary="Minimum detectable effect before launch")
def power(
    metric: Annotated[str, Query(max_length=64)],
    users_per_day: Annotated[float, Query(gt=0)],
    days: Annotated[int, Query(ge=1, le=365)],
    arms: Annotated[int, Query(ge=2, le=MAX_ARMS)] = 2,
    effect: Annotated[float | None, Query(gt=0)] = None,
    sequential: bool = True,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return service.power(
        wh, metric, users_per_day=users_per_day, days=days, arms=arms, effect=effect, sequential=sequential
    )


@router.get("/experiments/{experiment_id}", dependencies=[READ], summary="One experiment's definition")
def get_experiment(experiment_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return store.get(wh, experiment_id).to_dict()


@router.post(
    "/experiments/{experiment_id}/assign",
    dependencies=[APP],
    summary="A user's arm (logs the first exposure)",
)
def assign(experiment_id: Id, body: AssignIn, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return store.assign(wh, experiment_id, body.user_id)


@router.get(
    "/experiments/{experiment_id}/results",
    dependencies=[READ],
    summary="Every metric against control: intervals, SRM, guardrails",
)
async def results(
    experiment_id: Id,
    history: bool = False,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(service.results, wh, experiment_id, history=history)


@router.post("/experiments/{experiment_id}/stop", dependencies=[WRITE], summary="Stop assigning users")
def stop(request: Request, experiment_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return store.stop(wh, experiment_id, actor=_actor(request)).to_dict()
