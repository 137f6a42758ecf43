"""``galileo demo``: the main job of the quick start, on one machine with no configuration.

Starts (as real subprocesses) the example services, two workers and the recorder, sets the
routing table, starts an experiment, spawns client groups, ramps the echo group 50 → 500 → 0
req/s while a live table shows each second, then checks that every request was recorded and
prints where the data is."""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console, Group

from galileo.tables import Table, live_view

if TYPE_CHECKING:
    from galileo.control.galileo import Galileo
    from galileo.control.group import ClientGroup
    from galileo.localenv import ProcessGroup
    from galileo.settings import Settings
    from galileo.storage import ExpDB

console = Console()
# the digits generator loads its data set when spawned: seconds on a busy small machine
DIGITS_SPAWN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Stage:
    """Hold ``rps`` (reached by a linear ramp of ``ramp_s``) until ``until_s`` into the run."""

    until_s: float
    rps: float
    ramp_s: float = 0.0


def profile(peak: float, duration_s: float) -> list[Stage]:
    """50 → ``peak`` → 0 req/s over ``duration_s``: hold, ramp up, hold, ramp down."""
    q = duration_s / 4
    return [Stage(q, 50), Stage(2 * q, peak, ramp_s=q), Stage(3 * q, peak),
            Stage(4 * q, 0, ramp_s=q)]


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        duration: float = typer.Option(20.0, min=4, help="length of the rate profile, seconds"),
        peak: float = typer.Option(500.0, min=1, help="peak rate of the echo group, req/s"),
        workers: int = typer.Option(2, min=1, max=16, help="local worker processes"),
    ) -> None:
        """Run the quick-start experiment locally: services, workers, recorder, a rate ramp."""
        from galileo.settings import load_settings

        run_demo(load_settings(), duration, peak, workers)


def run_demo(settings: Settings, duration: float, peak: float, n_workers: int) -> None:
    from galileo import bus
    from galileo.control.galileo import Galileo
    from galileo.control.temporary_routes import TemporaryRoutes
    from galileo.localenv import ProcessGroup, free_port, wait_for_app_server
    from galileo.storage import ExpDB

    started_redis = settings.embedded_redis and not bus.embedded_redis_running(settings.data_dir)
    console.print(f"[bold]Galileo demo[/]  redis: {bus.describe(settings)}  "
                  f"expdb: {settings.redacted_expdb_url()}")
    port = free_port()
    procs = ProcessGroup(settings)
    g = Galileo.from_settings(settings)
    routes = TemporaryRoutes(g.rtbl)
    exp_id: str | None = None
    try:
        with console.status("starting services, workers and recorder …"):
            procs.start("app", ["app", "serve", "--port", str(port)])
            for i in range(n_workers):
                procs.start(f"worker-{i + 1}", ["worker", "--name", f"local-{i + 1}",
                                                 "--processes", "1"])
            procs.start("recorder", ["recorder"])
            wait_for_app_server(port, procs.log_dir)
            _wait_for_workers(g, n_workers, procs)
            routes.set("echo", [f"127.0.0.1:{port}"])
            routes.set("classify", [f"127.0.0.1:{port}"])
        exp_id = g.experiment.start(name="demo", creator=getpass.getuser())
        console.print(f"experiment [bold]{exp_id}[/] running; workers: "
                      + ", ".join(f"{w.name}" for w in g.workers()))
        echo = g.spawn("echo", num=4 * n_workers, request={"path": "/echo"}, arrival="poisson")
        classify = g.spawn("classify", num=n_workers, rps=20, timeout_s=DIGITS_SPAWN_TIMEOUT_S,
                           request={"generator": "galileo.apps.generators:digits"})
        _drive(echo, classify, profile(peak, duration))
        sent = echo.close()["sent"] + classify.close()["sent"]
        g.experiment.stop()
        with (console.status("waiting for the recorder to store every trace …"),
              ExpDB.from_settings(settings) as db):
            recorded = _wait_recorded(db, exp_id, sent)
        with ExpDB.from_settings(settings) as db:
            _summary(db, settings, exp_id, sent, recorded, procs)
    finally:
        _stop_marker(g, exp_id)
        routes.restore()  # the demo's app server is gone: never leave records pointing at it
        procs.stop_all()
        g.close()
        _release_redis(settings, started_redis)


def _stop_marker(g: Galileo, exp_id: str | None) -> None:
    """An interrupted demo must not leave its experiment marked as running."""
    import contextlib

    from galileo.errors import GalileoError

    with contextlib.suppress(GalileoError):
        if exp_id is not None and g.experiment.current() == exp_id:
            g.experiment.stop()


def _release_redis(settings: Settings, started: bool) -> None:
    """Stop the embedded Redis the demo started, or say that it keeps running and how to stop
    it (it was running before, so other commands may be using it)."""
    from galileo import bus

    if started:
        bus.stop_embedded_redis(settings.data_dir)
        console.print("stopped the embedded Redis the demo started")
    elif settings.embedded_redis and bus.embedded_redis_running(settings.data_dir):
        console.print("the embedded Redis was already running before the demo and keeps "
                      "running; stop it with `galileo redis stop`")


def _wait_for_workers(g: Galileo, n: int, procs: ProcessGroup, timeout_s: float = 30.0) -> None:
    from galileo.errors import WorkerError

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(g.workers()) >= n:
            return
        time.sleep(0.1)
    raise WorkerError(f"the {n} local workers did not register within {timeout_s:.0f} s "
                      f"(see the logs in {procs.log_dir})")


def _drive(echo: ClientGroup, classify: ClientGroup, stages: list[Stage]) -> None:
    """Apply the stages on schedule and show a live table of the last seconds."""
    t0 = time.monotonic()
    pending = list(stages)
    current = pending.pop(0)
    echo.rps(current.rps, ramp=current.ramp_s)
    with live_view(console, refresh_per_second=4) as live:
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= current.until_s:
                if not pending:
                    break
                current = pending.pop(0)
                echo.rps(current.rps, ramp=current.ramp_s)
            live.update(Group(
                f"t = {elapsed:5.1f} s   echo target {current.rps:g} req/s"
                + (f" (ramp {current.ramp_s:g} s)" if current.ramp_s else ""),
                live_table(echo, classify),
            ))
            time.sleep(0.25)


def live_table(*groups: ClientGroup, seconds: int = 10) -> Table:
    """Last ``seconds`` of each group: target vs achieved rate, in-flight, latency, errors."""
    table = Table(title="per second (latency from the intended send time)", box=None)
    for col in ("time", "service", "target/s", "sent/s", "in-flight", "late", "p50 ms",
                "p99 ms", "errors"):
        table.add_column(col, justify="right")
    for group in groups:
        for s in group.stats(seconds=seconds):
            lat = s.from_intended
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(s.second)), group.service,
                f"{s.target_rps:.0f}", str(s.sent), str(s.inflight), str(s.late),
                "-" if lat.p50_ms is None else f"{lat.p50_ms:.2f}",
                "-" if lat.p99_ms is None else f"{lat.p99_ms:.2f}",
                f"[red]{s.errors}[/]" if s.errors else "0")
    return table


def _wait_recorded(db: ExpDB, exp_id: str, expected: int, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        count = db.count_traces(exp_id)
        if count >= expected:
            break
        time.sleep(0.2)
    return count


def _write_report(db: ExpDB, settings: Settings, exp_id: str) -> Path:
    """The run's report (``galileo report``) as an HTML page next to the expdb."""
    from galileo.analysis.report import write_report

    path, _ = write_report(db, [exp_id], settings.data_dir / "reports" / f"{exp_id}.html")
    return path


def _summary(db: ExpDB, settings: Settings, exp_id: str, sent: int, recorded: int,
             procs: ProcessGroup) -> None:
    import numpy as np

    from galileo.protocol import request_failed

    rows = db.traces(exp_id)
    table = Table(title=f"experiment {exp_id}", show_header=True)
    for col in ("service", "requests", "ok", "errors", "p50 ms", "p99 ms", "p99 ms (sent)"):
        table.add_column(col, justify="right")
    for service in sorted({r["service"] for r in rows}):
        mine = [r for r in rows if r["service"] == service]
        ok = [r for r in mine if not request_failed(r["status"], r["error"])]
        lat = np.array([(r["done_ns"] - r["intended_ns"]) / 1e6 for r in ok]) if ok else None
        act = np.array([(r["done_ns"] - r["sent_ns"]) / 1e6 for r in ok]) if ok else None
        table.add_row(service, str(len(mine)), str(len(ok)), str(len(mine) - len(ok)),
                      f"{np.percentile(lat, 50):.2f}" if lat is not None else "-",
                      f"{np.percentile(lat, 99):.2f}" if lat is not None else "-",
                      f"{np.percentile(act, 99):.2f}" if act is not None else "-")
    console.print(table)
    verdict = "[green]all recorded[/]" if recorded == sent else f"[red]{sent - recorded} missing[/]"
    console.print(f"requests sent: {sent}   traces recorded: {recorded}   {verdict}")
    console.print(f"data: {settings.redacted_expdb_url()} (experiment id {exp_id})")
    console.print(f"report: {_write_report(db, settings, exp_id)}")
    console.print(f"logs: {procs.log_dir}")
    console.print("next: `galileo shell` to drive the cluster yourself, "
                  "or query the traces table with any SQL client")
