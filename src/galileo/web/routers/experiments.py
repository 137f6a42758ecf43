"""``/experiments``: submit, list, inspect, cancel and delete experiments; read their data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import StreamingResponse

from galileo.errors import NoRouteError
from galileo.storage.schema import TELEMETRY_COLUMNS, TRACE_COLUMNS, ExperimentStatus
from galileo.web import repository as repo
from galileo.web.deps import ExpDBDep, ServiceDep, SettingsDep
from galileo.web.errors import error_responses
from galileo.web.schemas import (
    EXP_ID_PATTERN,
    ExperimentCreate,
    ExperimentFromScript,
    ExperimentPublic,
    ExperimentStatusPublic,
    TelemetryPage,
    TelemetryPublic,
    TracePage,
    TracePublic,
)

router = APIRouter(prefix="/experiments", tags=["experiments"],
                   responses=error_responses(400, 404, 503))

ExpIdPath = Annotated[str, Path(pattern=EXP_ID_PATTERN, description="experiment id")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=2**53, description="rows to skip")]


@router.get("", summary="List experiments, newest first")
def list_experiments(
    service: ServiceDep,
    status: ExperimentStatus | None = None,
    creator: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Offset = 0,
    trash: Annotated[bool, Query(
        description="list the experiments in the trash instead (purged after the retention)",
    )] = False,
) -> list[ExperimentPublic]:
    exps = service.list(status=status.value if status else None, creator=creator, limit=limit,
                        offset=offset, trash=trash)
    return [ExperimentPublic.model_validate(e) for e in exps]


@router.post("", status_code=201, summary="Submit an experiment (queued for a runner)",
             description="A service the experiment loads that neither it (`routing:`, "
                         "`balancers:`, `services:`, a script's `set`) nor the routing table "
                         "routes is refused with 422.")
def create_experiment(body: ExperimentCreate, service: ServiceDep) -> ExperimentPublic:
    try:
        if isinstance(body, ExperimentFromScript):
            exp = service.submit(script=body.script, exp_id=body.id, name=body.name,
                                 creator=body.creator)
        else:
            exp = service.submit(scenario=body.scenario, exp_id=body.id, name=body.name,
                                 creator=body.creator)
    except NoRouteError as e:  # the body is well-formed, its content cannot run: 422
        raise HTTPException(status_code=422, detail=str(e)) from None
    return ExperimentPublic.model_validate(exp)


@router.get("/{exp_id}", summary="One experiment")
def get_experiment(exp_id: ExpIdPath, service: ServiceDep) -> ExperimentPublic:
    return ExperimentPublic.model_validate(service.get(exp_id))


@router.delete(
    "/{exp_id}", status_code=204, responses=error_responses(403),
    summary="Move an experiment to the trash (restorable), or purge it for good",
    description="Without `purge` the experiment and all its rows stay in the trash for "
                "`galileo_trash_retention_s` (default 7 days; `POST .../restore` brings it "
                "back). `purge=true` deletes it and every trace, event and telemetry row for "
                "good, and is refused (403) unless the API is protected by `galileo_api_token`.")
def delete_experiment(exp_id: ExpIdPath, service: ServiceDep, settings: SettingsDep,
                      purge: bool = False) -> Response:
    if purge and settings.api_token is None:
        raise HTTPException(status_code=403, detail=(
            "purging needs an API protected by galileo_api_token; without one, deleting only "
            f"moves experiments to the trash (or run `galileo exp delete {exp_id} --purge`)"))
    service.delete(exp_id, purge=purge)
    return Response(status_code=204)


@router.post("/{exp_id}/restore", summary="Bring an experiment back from the trash")
def restore_experiment(exp_id: ExpIdPath, service: ServiceDep) -> ExperimentPublic:
    return ExperimentPublic.model_validate(service.restore(exp_id))


@router.get("/{exp_id}/status", summary="Status, progress, stage and message")
def experiment_status(exp_id: ExpIdPath, service: ServiceDep) -> ExperimentStatusPublic:
    return ExperimentStatusPublic.model_validate(service.status(exp_id))


@router.post("/{exp_id}/cancel", summary="Cancel a queued or running experiment (data kept)")
def cancel_experiment(exp_id: ExpIdPath, service: ServiceDep) -> ExperimentPublic:
    return ExperimentPublic.model_validate(service.cancel(exp_id))


@router.get("/{exp_id}/traces", summary="The experiment's traces, ordered by send time")
def experiment_traces(exp_id: ExpIdPath, service: ServiceDep, db: ExpDBDep,
                      limit: Limit = 1000, offset: Offset = 0) -> TracePage:
    service.get(exp_id)
    rows = repo.traces(db, exp_id, limit, offset)
    return TracePage(exp_id=exp_id, total=repo.count_traces(db, exp_id), limit=limit,
                     offset=offset, items=[TracePublic.model_validate(r) for r in rows])


@router.get("/{exp_id}/traces.csv", summary="All traces as CSV",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header"}})
def experiment_traces_csv(exp_id: ExpIdPath, service: ServiceDep,
                          db: ExpDBDep) -> StreamingResponse:
    service.get(exp_id)
    lines = repo.csv_lines(TRACE_COLUMNS,
                           lambda limit, offset: repo.traces(db, exp_id, limit, offset))
    return _csv(lines, f"{exp_id}-traces.csv")


@router.get("/{exp_id}/telemetry", summary="The experiment's telemetry samples, by time")
def experiment_telemetry(exp_id: ExpIdPath, service: ServiceDep, db: ExpDBDep,
                         limit: Limit = 1000, offset: Offset = 0) -> TelemetryPage:
    service.get(exp_id)
    rows = repo.telemetry(db, exp_id, limit, offset)
    return TelemetryPage(exp_id=exp_id, total=repo.count_telemetry(db, exp_id), limit=limit,
                         offset=offset, items=[TelemetryPublic.model_validate(r) for r in rows])


@router.get("/{exp_id}/telemetry.csv", summary="All telemetry samples as CSV",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header"}})
def experiment_telemetry_csv(exp_id: ExpIdPath, service: ServiceDep,
                             db: ExpDBDep) -> StreamingResponse:
    service.get(exp_id)
    lines = repo.csv_lines(TELEMETRY_COLUMNS,
                           lambda limit, offset: repo.telemetry(db, exp_id, limit, offset))
    return _csv(lines, f"{exp_id}-telemetry.csv")


def _csv(lines: Iterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
