"""``galileo exp list|show|status|submit|stop|watch|delete|restore|export``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from galileo.tables import Table

if TYPE_CHECKING:
    from galileo.analysis.counts import Outcome
    from galileo.experiments.service import ExperimentService
    from galileo.storage import Experiment

console = Console()
exp_app = typer.Typer(help="Experiments: list, submit, stop, inspect, delete, export.",
                      no_args_is_help=True)
IdArg = Annotated[str, typer.Argument(help="Experiment id.")]


@contextlib.contextmanager
def _service() -> Iterator[ExperimentService]:
    """The experiment service; an unknown id names the experiment database it was looked up in
    (a user in another setup or data directory sees where Galileo looked)."""
    from galileo.errors import NotFoundError
    from galileo.experiments.service import ExperimentService
    from galileo.settings import load_settings

    settings = load_settings()
    with ExperimentService(settings) as svc:
        try:
            yield svc
        except NotFoundError as e:
            raise NotFoundError(f"{e} in the experiment database "
                                f"{settings.redacted_expdb_url()}") from None


def _when(ts: float | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _outcomes(svc: ExperimentService, exps: list[Experiment]) -> dict[str, Outcome]:
    """What the dashboard shows as each run's status: FAILED when every request or a
    threshold failed, whatever the runner recorded (galileo.analysis.counts)."""
    from galileo.analysis.counts import run_outcomes

    return run_outcomes(svc.db, [(e.id, e.status.value) for e in exps])


def _status(e: Experiment, outcomes: dict[str, Outcome]) -> tuple[str, str]:
    """The status shown and the message (the outcome's reason first)."""
    o = outcomes.get(e.id)
    if o is None:
        return e.status.value, e.status_message or ""
    message = "; ".join(m for m in (o.reason, e.status_message or "") if m)
    return o.status, message


def _table(exps: list[Experiment], outcomes: dict[str, Outcome]) -> Table:
    from galileo.control.render import add_id_column

    table = Table(title="experiments")
    add_id_column(table, "id", [e.id for e in exps])
    for col in ("name", "creator", "created", "status", "progress", "message"):
        table.add_column(col)
    for e in exps:
        status, message = _status(e, outcomes)
        table.add_row(e.id, e.name, e.creator, _when(e.created), status,
                      f"{e.progress:.0%}", message)
    return table


@exp_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    creator: Annotated[str | None, typer.Option(help="Only this creator.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
    trash: Annotated[bool, typer.Option(
        "--trash", help="Only deleted experiments (restorable until purged).")] = False,
) -> None:
    """List experiments, newest first (a table; tab-separated lines when piped)."""
    with _service() as svc:
        exps = svc.list(status=status, creator=creator, limit=limit, offset=offset, trash=trash)
        retention_s = svc.settings.trash_retention_s
        outcomes = _outcomes(svc, exps)
    if as_json:
        import json

        typer.echo(json.dumps([_as_dict(e) | {"outcome": _status(e, outcomes)[0]}
                               for e in exps], indent=1))
    elif not exps:
        typer.echo(f"no experiments in {svc.settings.redacted_expdb_url()}", err=True)
    elif not console.is_terminal:
        for e in exps:
            deleted = [_when(e.deleted_at), _when((e.deleted_at or 0.0) + retention_s)]
            typer.echo("\t".join([e.id, e.name, e.creator, _when(e.created),
                                  *_status(e, outcomes)[:1], f"{e.progress:.0%}",
                                  _status(e, outcomes)[1], *(deleted if trash else [])]))
    else:
        console.print(_table(exps, outcomes))
        for e in exps if trash else []:
            console.print(f"{e.id}: deleted {_when(e.deleted_at)}, purged after "
                          f"{_when((e.deleted_at or 0.0) + retention_s)} "
                          f"(galileo exp restore {e.id})", highlight=False, soft_wrap=True)


def _as_dict(e: Experiment) -> dict[str, object]:
    return {"id": e.id, "name": e.name, "creator": e.creator, "created": e.created,
            "start": e.start, "end": e.end, "status": e.status.value, "progress": e.progress,
            "stage": e.stage, "message": e.status_message, "deleted_at": e.deleted_at}


@exp_app.command("show")
def show_command(exp_id: IdArg) -> None:
    """An experiment's row, counts, verdicts and what it was run from."""
    from galileo.analysis.counts import request_counts
    from galileo.experiments import store

    with _service() as svc:
        e = svc.get(exp_id)
        meta = store.get_metadata(svc.db, exp_id)
        console.print(_table([e], _outcomes(svc, [e])))
        console.print(f"start {_when(e.start)}  end {_when(e.end)}  stage {e.stage or '-'}")
        counts = request_counts(svc.db, [exp_id])[exp_id]  # the dashboard's definition
        console.print(f"{counts.describe()}  events: {len(svc.db.events(exp_id))}",
                      highlight=False)
        for verdict in meta.get("verdicts") or []:
            console.print(verdict, markup=False, highlight=False)
        if meta.get("source"):
            console.print(f"--- {meta.get('kind', '?')} ---")
            console.print(str(meta["source"]), markup=False, highlight=False)


@exp_app.command("status")
def status_command(exp_id: IdArg) -> None:
    """One line: state, progress, stage, message."""
    with _service() as svc:
        console.print(svc.status(exp_id).describe(), highlight=False)


@exp_app.command("watch")
def watch_command(exp_id: IdArg) -> None:
    """Print the status on every change until the experiment ends."""
    with _service() as svc:
        for view in svc.watch(exp_id):
            console.print(view.describe(), highlight=False)


@exp_app.command("submit")
def submit_command(
    file: Annotated[Path, typer.Argument(help="Scenario (.yaml/.yml/.json) or script file.")],
    exp_id: Annotated[str | None, typer.Option("--id", help="Experiment id.")] = None,
    name: Annotated[str, typer.Option()] = "",
    creator: Annotated[str, typer.Option(help="Creator (default: you).")] = "",
    wait: Annotated[bool, typer.Option(
        help="Watch it until it ends; exit 0 passed, 99 a threshold failed, 1 failed or "
             "cancelled (like `galileo run`).")] = False,
    timeout: Annotated[float | None, typer.Option(
        min=0, help="With --wait: give up after this many seconds (exit 1; the experiment "
                    "stays queued or running).")] = None,
) -> None:
    """Queue an experiment for the runners."""
    import getpass

    from galileo.errors import GalileoError, ValidationError
    from galileo.experiments import store
    from galileo.experiments.headless import SCENARIO_SUFFIXES, exit_code

    try:
        text = file.read_text()
    except OSError as e:
        raise ValidationError(f"cannot read {str(file)!r}: {e.strerror}") from None
    is_scenario = file.suffix.lower() in SCENARIO_SUFFIXES
    with _service() as svc:
        exp = svc.submit(script=None if is_scenario else text,
                         scenario=text if is_scenario else None, exp_id=exp_id,
                         name=name, creator=creator or getpass.getuser())
        console.print(f"experiment {exp.id} queued", highlight=False)
        if not wait:
            return
        if not _runner_alive(svc):
            typer.echo(f"no runner is alive (namespace {svc.settings.namespace}); experiment "
                       f"{exp.id} stays QUEUED until one starts; start one with `galileo "
                       "runner` (another terminal, or a service) with the same settings",
                       err=True)
        status, ended = exp.status.value, False
        for view in svc.watch(exp.id, timeout_s=timeout):
            console.print(view.describe(), highlight=False)
            status, ended = view.status, view.terminal
        if not ended:
            raise GalileoError(f"experiment {exp.id} is still {status} after {timeout:g} s "
                               f"(galileo exp watch {exp.id} follows it)")
        meta = store.get_metadata(svc.db, exp.id)
        for verdict in meta.get("verdicts") or []:
            console.print(verdict, markup=False, highlight=False)
    code = exit_code(status, bool(meta.get("thresholds_passed", True)))
    if code:
        raise typer.Exit(code)


RUNNER_PING_S = 1.0


def _runner_alive(svc: ExperimentService) -> bool:
    """Whether a runner consumes this namespace's experiment queue (Celery remote control:
    every live runner answers within ``RUNNER_PING_S``)."""
    from galileo.protocol import Keys

    queue = Keys(svc.settings.namespace).job_queue
    replies = svc.celery.control.inspect(timeout=RUNNER_PING_S).active_queues() or {}
    return any(q.get("name") == queue for queues in replies.values() for q in queues or [])


@exp_app.command("stop")
def stop_command(exp_id: IdArg) -> None:
    """Cancel a queued experiment, or stop a running one cooperatively."""
    with _service() as svc:
        e = svc.cancel(exp_id)
        console.print(f"experiment {e.id}: {e.status.value}"
                      + (" (stop requested)" if e.status.value == "RUNNING" else ""),
                      highlight=False)


@exp_app.command("delete")
def delete_command(
    exp_id: IdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (with --purge).")] = False,
    purge: Annotated[bool, typer.Option(
        "--purge", help="Delete for good with every row, also from the trash.")] = False,
) -> None:
    """Move an experiment to the trash (`galileo exp restore ID` brings it back), or with
    --purge delete it and all its rows (traces, events, telemetry, nodeinfo, metadata)."""
    if purge and not yes:
        typer.confirm(f"delete experiment {exp_id} and all its data for good?", abort=True)
    with _service() as svc:
        svc.delete(exp_id, purge=purge)
        days = svc.settings.trash_retention_s / 86_400
    if purge:
        console.print(f"experiment {exp_id} purged", highlight=False)
    else:
        console.print(f"experiment {exp_id} moved to the trash for {days:g} days "
                      f"(galileo exp restore {exp_id})", highlight=False)


@exp_app.command("restore")
def restore_command(exp_id: IdArg) -> None:
    """Bring an experiment back from the trash with all its traces, telemetry and events."""
    with _service() as svc:
        e = svc.restore(exp_id)
    console.print(f"experiment {e.id} restored ({e.status.value})", highlight=False)


@exp_app.command("export")
def export_command(
    exp_id: IdArg,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="csv, parquet, or influx-lp (one InfluxDB line-protocol file)",
    )] = "csv",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory.")] = Path("."),
) -> None:
    """Export the traces and telemetry of an experiment to CSV, Parquet or line protocol."""
    from galileo.experiments.export import export

    with _service() as svc:
        svc.get(exp_id)
        written = export(svc.db, exp_id, out, fmt)
    for table, (path, rows) in written.items():
        console.print(f"{table}: {rows} rows → {path}", highlight=False)
