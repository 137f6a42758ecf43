"""The dashboard's HTML pages: experiments, one run (live or finished), compare, designer,
workers and routing, login, and the 404 page."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from galileo.analysis.counts import run_outcome
from galileo.analysis.report import RunData, load_run
from galileo.analysis.report.html import comparison_context, render_report, run_context
from galileo.analysis.report.runs import run_totals
from galileo.errors import GalileoError, NotFoundError
from galileo.storage import ExpDB, Experiment, ExperimentStatus
from galileo.web.deps import ExpDBDep, GalileoDep, ServiceDep

from .auth import COOKIE, SESSION_TTL_S, end_session, new_session, require_page, token_ok
from .templating import render

router = APIRouter(include_in_schema=False)
guarded = APIRouter(include_in_schema=False, dependencies=[Depends(require_page)])
CACHE_RUNS = 16
MAX_COMPARE = 6
MAX_CACHED_TOTALS = 10_000


class RunCache:
    """Aggregated finished runs (they no longer change), least recently used dropped first."""

    def __init__(self, size: int = CACHE_RUNS) -> None:
        self._runs: OrderedDict[tuple[str, float | None], RunData] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, db: ExpDB, exp: Experiment) -> RunData:
        if exp.status in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING):
            return load_run(db, exp.id)
        key = (exp.id, exp.end)
        with self._lock:
            if key in self._runs:
                self._runs.move_to_end(key)
                return self._runs[key]
        run = load_run(db, exp.id)
        with self._lock:
            self._runs[key] = run
            while len(self._runs) > self._size:
                self._runs.popitem(last=False)
        return run


def _totals(request: Request, db: ExpDB, exps: list[Experiment]) -> dict[str, dict[str, Any]]:
    """Requests, error rate, p99 and verdict per run; a finished run's are computed once."""
    cache: dict[tuple[str, float | None], dict[str, Any]] = request.app.state.dashboard_totals
    missing = [e.id for e in exps if (e.id, e.end) not in cache]
    fresh = run_totals(db, missing)
    out = {}
    for e in exps:
        row = fresh.get(e.id) or cache[(e.id, e.end)]
        row["outcome"] = run_outcome(e.status.value, row["counts"], row["thresholds_passed"])
        if e.status not in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING):
            if len(cache) > MAX_CACHED_TOTALS:
                cache.clear()
            cache[(e.id, e.end)] = row
        out[e.id] = row
    return out


def _cache(request: Request) -> RunCache:
    cache: RunCache = request.app.state.dashboard_runs
    return cache


@guarded.get("/", response_class=HTMLResponse)
def experiments_page(
    request: Request, service: ServiceDep, db: ExpDBDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HTMLResponse:
    wanted = ExperimentStatus(status) if status in set(ExperimentStatus) else None
    exps = service.list(status=wanted.value if wanted else None, limit=limit)
    needle = q.strip().lower()
    if needle:
        exps = [e for e in exps if needle in f"{e.id} {e.name} {e.creator}".lower()]
    totals = _totals(request, db, exps)
    return render(request, "experiments.html.j2", experiments=exps, totals=totals, q=q,
                  status=wanted.value if wanted else "", statuses=list(ExperimentStatus))


@guarded.get("/runs/{exp_id}", response_class=HTMLResponse)
async def run_page(request: Request, exp_id: str, service: ServiceDep, db: ExpDBDep,
                   g: GalileoDep) -> HTMLResponse:
    exp = await run_in_threadpool(service.get, exp_id)
    live = exp.status in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING)
    ctx = None if live else run_context(await run_in_threadpool(_cache(request).get, db, exp))
    return render(request, "run.html.j2", charts=True, exp=exp, live=live, run=ctx,
                  deleted=getattr(exp, "deleted_at", None) is not None)


@guarded.get("/runs/{exp_id}/report.html")
async def run_report(request: Request, exp_id: str, service: ServiceDep,
                     db: ExpDBDep) -> Response:
    exp = await run_in_threadpool(service.get, exp_id)
    run = await run_in_threadpool(_cache(request).get, db, exp)
    html = await run_in_threadpool(render_report, [run])
    return HTMLResponse(html, headers={
        "Content-Disposition": f'attachment; filename="report-{exp_id}.html"'})


@guarded.get("/compare", response_class=HTMLResponse)
async def compare_page(request: Request, service: ServiceDep, db: ExpDBDep,
                       id: Annotated[list[str] | None, Query(max_length=MAX_COMPARE)] = None
                       ) -> HTMLResponse:
    ids = list(dict.fromkeys(id or []))
    if len(ids) < 2:
        return render(request, "compare.html.j2", runs=[], comparison=None, ids=ids,
                      message="Pick two or more runs on the experiments page to compare them.")

    def build() -> tuple[list[dict[str, object]], dict[str, object]]:
        exps = sorted((service.get(i) for i in ids), key=lambda e: (e.created, e.id))
        runs = [_cache(request).get(db, e) for e in exps]  # the oldest run is the base
        return [run_context(r) for r in runs], comparison_context(runs)

    runs, comparison = await run_in_threadpool(build)
    return render(request, "compare.html.j2", charts=True, runs=runs, comparison=comparison,
                  ids=ids, message="")


@guarded.get("/designer", response_class=HTMLResponse)
def designer_page(request: Request) -> HTMLResponse:
    return render(request, "designer.html.j2", charts=True)


@guarded.get("/cluster", response_class=HTMLResponse)
def cluster_page(request: Request) -> HTMLResponse:
    return render(request, "cluster.html.j2")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html.j2", next=_safe_next(next), error="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, g: GalileoDep) -> Response:
    # a plain urlencoded form, parsed here (no python-multipart dependency)
    form = parse_qs((await request.body())[:8192].decode("utf-8", "replace"))
    token, next = form.get("token", [""])[0], form.get("next", ["/"])[0]
    settings = request.app.state.resources.settings
    if settings.api_token is None or not token_ok(settings, token):
        return render(request, "login.html.j2", status_code=401, next=_safe_next(next),
                      error="wrong token: give the value of galileo_api_token")
    try:
        sid = await run_in_threadpool(new_session, g)
    except GalileoError as e:  # sessions live in Redis
        return render(request, "login.html.j2", status_code=503, next=_safe_next(next),
                      error=f"cannot start a session: {e}")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", max_age=SESSION_TTL_S,
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(request: Request, g: GalileoDep) -> Response:
    end_session(g, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _safe_next(target: str) -> str:
    """Only a local path: never redirect to another site after login."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def not_found_page(request: Request, message: str) -> HTMLResponse:
    return render(request, "404.html.j2", status_code=404, message=message)


__all__ = ["NotFoundError", "RunCache", "guarded", "not_found_page", "router"]
