"""``galileo run FILE``: one experiment in the foreground with a rich live view, the threshold
verdicts at the end and k6's exit codes (0 pass, 99 a threshold failed, 2 invalid input).

With nothing configured (embedded Redis) -- or with ``--local`` -- it starts what it needs like
``galileo demo``: local workers, a recorder, and the built-in app server when the scenario lists
``apps``."""

from __future__ import annotations

import contextlib
import getpass
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress_bar import ProgressBar

from galileo.control.galileo import Galileo
from galileo.control.temporary_routes import TemporaryRoutes
from galileo.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_THRESHOLD,
    EXIT_USAGE,
    ValidationError,
    WorkerError,
)
from galileo.settings import Settings
from galileo.storage import ExperimentStatus
from galileo.tables import Table, live_view

from . import store
from .context import JobContext
from .jobs import Job, make_job
from .runner import execute
from .service import ExperimentService

if TYPE_CHECKING:
    from rich.live import Live

# the exit codes of galileo.errors, by the names this module has always used
EXIT_PASS: Final = EXIT_OK
EXIT_INVALID: Final = EXIT_USAGE
EXIT_THRESHOLDS: Final = EXIT_THRESHOLD
SCENARIO_SUFFIXES: Final = (".yaml", ".yml", ".json")
RENDER_INTERVAL_S: Final = 0.25


def load_file(path: Path) -> tuple[Job, str, bool]:
    """The validated job in ``path`` (YAML/JSON scenario, else a script), its text, its kind."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ValidationError(f"cannot read {str(path)!r}: {e.strerror}") from None
    is_scenario = path.suffix.lower() in SCENARIO_SUFFIXES
    job = make_job(scenario=text) if is_scenario else make_job(script=text)
    return job, text, is_scenario


def run_file(settings: Settings, path: Path, console: Console, *, local: bool | None = None,
             workers: int = 1, exp_id: str | None = None, name: str = "",
             creator: str | None = None) -> int:
    """Run ``path`` to its end; returns the exit code."""
    job, text, is_scenario = load_file(path)
    local = settings.embedded_redis if local is None else local
    with _local_env(settings, job, console, local, workers), \
            ExperimentService(settings) as service:
        service.redis  # noqa: B018 -- connects (and pings): no row is written when Redis is gone
        exp = service.create(script=None if is_scenario else text,
                             scenario=text if is_scenario else None, exp_id=exp_id,
                             name=name or job.default_name or path.stem,
                             creator=creator if creator is not None else getpass.getuser())
        console.print(f"experiment [bold]{exp.id}[/] ({path.name}) starts")
        with _failed_unless_claimed(service, exp.id):
            view = _LiveView(console)
            with live_view(console, refresh_per_second=4, transient=False) as live:
                view.live = live
                outcome = execute(settings, exp.id, db=service.db, on_tick=view.update,
                                  on_wait=lambda why: console.print(escape(why)))
        if outcome is None:
            raise ValidationError(f"experiment {exp.id} was taken by another runner")
    colour = {"FINISHED": "green", "CANCELLED": "yellow"}.get(outcome.status.value, "red")
    console.print(f"[{colour}]{outcome.status.value}[/]: {escape(outcome.message)}",
                  highlight=False)
    for v in outcome.verdicts:
        console.print(("[green]" if v.passed else "[red]") + escape(v.format()) + "[/]",
                      highlight=False)
    _end_of_run_report(settings, exp.id, console)
    return exit_code(outcome.status, outcome.thresholds_passed)


@contextlib.contextmanager
def _failed_unless_claimed(service: ExperimentService, exp_id: str) -> Iterator[None]:
    """An error (or Ctrl-C) before the run claimed ``exp_id`` marks it FAILED: a foreground
    run has no runner that would ever take the QUEUED row."""
    try:
        yield
    except BaseException as e:
        reason = str(e) or type(e).__name__
        store.set_status_if(service.db, exp_id, ExperimentStatus.QUEUED, ExperimentStatus.FAILED,
                            f"could not start: {reason}", at=time.time())
        raise


def exit_code(status: ExperimentStatus | str, thresholds_passed: bool) -> int:
    """k6's convention, shared by ``galileo run`` and ``galileo exp submit --wait``: 0 finished
    with every threshold passed, 99 finished with one failed, 1 failed or cancelled."""
    if ExperimentStatus(status) != ExperimentStatus.FINISHED:
        return EXIT_FAILED
    return EXIT_PASS if thresholds_passed else EXIT_THRESHOLDS


def _end_of_run_report(settings: Settings, exp_id: str, console: Console) -> None:
    """Write the run's report (``galileo report``) next to the expdb, when the extra is there."""
    try:
        from galileo.analysis.report import write_report
        from galileo.storage import ExpDB

        with ExpDB.from_settings(settings) as db:
            path, _ = write_report(db, [exp_id], settings.data_dir / "reports" / f"{exp_id}.html")
    except ModuleNotFoundError:  # pip install 'galileo[dashboard]'
        return
    console.print(f"report: {path}", highlight=False)


class _LiveView:
    """Stage, progress bar and per-group achieved vs target rate, p50/p99, errors."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self._next = 0.0

    def update(self, ctx: JobContext) -> None:
        now = time.monotonic()
        if self.live is None or now < self._next:
            return
        self._next = now + RENDER_INTERVAL_S
        self.live.update(self.render(ctx))

    def render(self, ctx: JobContext) -> RenderableType:
        head = f"stage: {ctx.stage or '-'}   {ctx.progress:6.1%}"
        table = Table(box=None)
        for col in ("workload", "target/s", "sent/s", "p50 ms", "p99 ms", "errors"):
            table.add_column(col, justify="right")
        for name, group in ctx.groups.items():
            rows = group.stats(seconds=3)[:-1]
            if not rows:
                table.add_row(name, f"{group.target_rps:g}", "-", "-", "-", "-")
                continue
            s = rows[-1]
            lat = s.from_intended
            table.add_row(name, f"{s.target_rps:g}", str(s.sent),
                          "-" if lat.p50_ms is None else f"{lat.p50_ms:.1f}",
                          "-" if lat.p99_ms is None else f"{lat.p99_ms:.1f}",
                          f"[red]{s.errors}[/]" if s.errors else "0")
        bar = ProgressBar(total=1.0, completed=ctx.progress, width=40)
        return Group(head, bar, table)


@contextlib.contextmanager
def _local_env(settings: Settings, job: Job, console: Console, local: bool,
               n_workers: int) -> Iterator[None]:
    """Start local workers, a recorder and (if asked) the built-in app server."""
    if not local:
        yield
        return
    from galileo import bus
    from galileo.localenv import ProcessGroup, free_port, wait_for_app_server

    started_redis = settings.embedded_redis and not bus.embedded_redis_running(settings.data_dir)
    procs = ProcessGroup(settings)
    g = Galileo.from_settings(settings)
    routes = TemporaryRoutes(g.rtbl)
    try:
        with console.status("starting local workers and recorder …") as status:
            apps = job.scenario.apps if job.scenario is not None else []
            port = free_port()
            if apps:
                procs.start("app", ["app", "serve", "--port", str(port)])
            names = [f"run-{settings.namespace}-{i + 1}" for i in range(n_workers)]
            for worker in names:
                procs.start(worker, ["worker", "--name", worker, "--processes", "1"])
            procs.start("recorder", ["recorder"])
            if apps:
                status.update(f"starting the app server for {', '.join(apps)} (the classifier "
                              "trains first: up to a minute on a busy machine) …")
                wait_for_app_server(port, procs.log_dir)
                routed = job.scenario.routing if job.scenario is not None else {}
                for service in apps:
                    if service not in routed:
                        routes.set(service, [f"127.0.0.1:{port}"])
            _wait_workers(g, set(names), procs.log_dir, progress=lambda k: status.update(
                f"local workers registered: {k}/{len(names)} …"))
        app_line = f", app server on 127.0.0.1:{port} ({', '.join(apps)})" if apps else ""
        console.print(f"local: {len(names)} worker(s), recorder{app_line} ready "
                      f"(logs in {procs.log_dir})", highlight=False)
        yield
    finally:
        routes.restore()  # the app server is gone: never leave a record pointing at it
        procs.stop_all()
        g.close()
        if started_redis:
            bus.stop_embedded_redis(settings.data_dir)


def _wait_workers(g: Galileo, names: set[str], log_dir: Path, timeout_s: float = 60,
                  progress: Callable[[int], None] | None = None) -> None:
    """Wait until every worker of ``names`` registered; ``progress(k)`` as k of them have."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        registered = len(names & {w.name for w in g.workers()})
        if registered == len(names):
            return
        if progress is not None and registered != seen:
            progress(registered)
            seen = registered
        time.sleep(0.1)
    raise WorkerError(f"the local workers did not register within {timeout_s:.0f} s "
                      f"(see the logs in {log_dir})")
