"""The engine: runs one job (scenario or script) against the cluster through ``Galileo``.

``run_job`` marks the experiment (every trace carries its id), executes, checks for a stop
request every ``CANCEL_CHECK_INTERVAL_S``, always quiesces its groups (rates to 0, closed), marks
the end with its status and message, and evaluates the scenario's thresholds from the stored
traces of THIS experiment."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console

from galileo.autoscaling import Autoscaler
from galileo.control import instructions as ins
from galileo.control.executor import Executor
from galileo.errors import BusError, GalileoError, ValidationError
from galileo.lb.launcher import Launcher
from galileo.protocol import EventKind
from galileo.storage import ExperimentStatus

from . import store
from .context import Cancelled, JobContext
from .jobs import Job
from .model import CANCEL_CHECK_INTERVAL_S
from .profiles import mean_rate
from .scenario import Balancer, Scenario
from .thresholds import Observed, Threshold, Verdict, evaluate

log = logging.getLogger(__name__)
RECORDER_WAIT_S = 10.0
WORKER_CHECK_INTERVAL_S = 1.0


@dataclass
class Outcome:
    status: ExperimentStatus
    message: str
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def thresholds_passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def run_job(job: Job, ctx: JobContext, *, name: str = "", creator: str = "") -> Outcome:
    """Run ``job`` to its end (finished, cancelled or failed) and record the outcome."""
    owner = _begin(ctx, name, creator)
    status, message = ExperimentStatus.FINISHED, "finished"
    launcher = Launcher(ctx.g.settings)  # balancers the job starts (lb start, balancers:)
    deployed: list[str] = []  # services of the scenario to remove at the end
    try:
        ctx.check()
        if job.scenario is not None:
            deployed = _deploy_services(job.scenario, ctx)
            _run_scenario(job.scenario, ctx, launcher)
        else:
            _run_script(job.steps, ctx, launcher)
    except Cancelled:
        status, message = ExperimentStatus.CANCELLED, "stopped on request; data kept"
    except GalileoError as e:
        status, message = ExperimentStatus.FAILED, str(e)
    except Exception as e:  # a bug or a foreign error: the experiment must not stay RUNNING
        log.exception("experiment %s failed", ctx.exp_id)
        status, message = ExperimentStatus.FAILED, f"{type(e).__name__}: {e}"
    finally:
        try:
            ctx.quiesce()
        except Exception:  # best effort; the status below matters more
            log.exception("experiment %s: cleanup failed", ctx.exp_id)
        _stop_balancers(ctx, launcher)
        _remove_services(ctx, deployed)
    if job.scenario is not None:
        time.sleep(min(job.scenario.drain_s, 5.0))
    end_ns = time.time_ns()
    announce = _release(ctx, owner)
    verdicts: list[Verdict] = []
    if job.scenario is not None and status != ExperimentStatus.FAILED:
        verdicts, note = _thresholds(job.scenario, ctx, owner)
        message = _summary(message, verdicts, note)
    store.put_metadata(ctx.db, ctx.exp_id, {
        "groups": {n: g.gid for n, g in ctx.groups.items()},
        "verdicts": [v.format() for v in verdicts],
        "thresholds_passed": all(v.passed for v in verdicts)})
    # terminal only now: a watcher that sees FINISHED finds the verdicts and every trace
    ctx.db.finish(ctx.exp_id, status, message, at=end_ns / 1e9)
    if announce:
        _announce_end(ctx, status, message, end_ns)
    return Outcome(status, message, verdicts)


def _begin(ctx: JobContext, name: str, creator: str) -> bool:
    """Mark the experiment as the cluster's current one; False when another one runs (then
    this one's traces are attached by group id at the end)."""
    try:
        ctx.g.experiment.start(ctx.exp_id, name=name, creator=creator)
        return True
    except ValidationError:
        ctx.report(message="another experiment is current; traces attached by group id")
        return False


def _release(ctx: JobContext, owner: bool) -> bool:
    """End the cluster's current-experiment marker (when this run owns it) and drop the job's
    keys; True when the ``experiment_stop`` event is this run's to announce."""
    g, keys = ctx.g, ctx.g.keys
    if owner:  # even when Redis restarted empty and the marker is gone: the stop is ours
        g.experiment.clear_marker(ctx.exp_id)
    g.redis.delete(keys.job_cancel(ctx.exp_id), keys.job_groups(ctx.exp_id))
    return owner


def _announce_end(ctx: JobContext, status: ExperimentStatus, message: str, end_ns: int) -> None:
    """The ``experiment_stop`` event, stamped with the time the load ended (the recorder sets
    the row from it, so it must carry the final status and message)."""
    try:
        ctx.g.events.append(EventKind.EXPERIMENT_STOP, ctx.exp_id,
                            {"status": status.value, "message": message}, exp_id=ctx.exp_id,
                            ts_ns=end_ns)
    except BusError as e:  # the row is final already; only the event is missing
        log.warning("experiment %s: cannot append its experiment_stop event: %s", ctx.exp_id, e)


# ---------------------------------------------------------------------- scenario
@dataclass(order=True)
class _Action:
    at_s: float
    order: int
    label: str = field(compare=False)
    apply: Callable[[], None] = field(compare=False)


def _routing(sc: Scenario, ctx: JobContext) -> list[_Action]:
    rtbl = ctx.g.rtbl
    for service, route in sc.routing.items():
        rtbl.set(service, route.hosts, route.weights)
    actions = []
    for i, ch in enumerate(sc.routing_changes):
        def apply(s: str = ch.service, h: list[str] | None = ch.hosts,
                  w: list[float] | None = ch.weights, remove: bool = ch.remove) -> None:
            if remove:
                rtbl.remove(s)
            else:
                rtbl.set(s, h or [], w)
        actions.append(_Action(ch.at, 10_000 + i, f"routing change {i + 1} ({ch.service})",
                               apply))
    return actions


def _spawn(sc: Scenario, ctx: JobContext) -> list[_Action]:
    actions = []
    for wi, w in enumerate(sc.workloads):
        plan = sorted(w.plan(), key=lambda c: c.at_s)
        first = plan[0] if plan and plan[0].at_s == 0 and plan[0].ramp_s == 0 else None
        ctx.report(stage=f"spawning {w.name}")
        group = ctx.track(ctx.g.spawn(
            w.service, w.clients, hosts=w.hosts, worker_labels=w.worker_labels or None,
            request=w.request.spec(), arrival=w.arrival_spec(),  # type: ignore[arg-type]
            rps=first.rps if first else 0.0, max_inflight=w.max_inflight,
            timeout_s=w.timeout_s, exp_id=ctx.exp_id, on_worker_loss=w.on_worker_loss,
            check_route=False), w.name)  # routes were checked when it was submitted
        for ci, change in enumerate(plan):
            if change is first:
                continue
            def apply(grp=group, c=change) -> None:  # type: ignore[no-untyped-def]
                grp.rps(c.rps, ramp=c.ramp_s)
            actions.append(_Action(change.at_s, wi * 1000 + ci, f"{w.name}: {change.label}",
                                   apply))
    return actions


def _balancers(sc: Scenario, ctx: JobContext, launcher: Launcher) -> list[_Action]:
    """Start the balancers due at 0 now (before the clients); the rest are timed actions."""
    from galileo.lb.commands import switch_policy

    actions = []
    for bi, b in enumerate(sc.balancers):
        def start(b: Balancer = b) -> None:
            url = launcher.start(b.name, b.port, b.policy).url
            ctx.g.events.append(EventKind.LB_START, b.name, {"url": url, "policy": b.policy})

        if b.start_at == 0:
            start()
        else:
            actions.append(_Action(b.start_at, 20_000 + bi * 100, f"balancer {b.name} starts",
                                   start))
        for ci, ch in enumerate(b.policy_changes):
            def switch(n: str = b.name, p: str = ch.policy) -> None:
                switch_policy(ctx.g.redis, ctx.g.keys.ns, n, p)
            actions.append(_Action(ch.at, 20_001 + bi * 100 + ci,
                                   f"balancer {b.name}: policy {ch.policy}", switch))
        if b.stop_at is not None:
            def stop(n: str = b.name) -> None:
                if launcher.stop(n):
                    ctx.g.events.append(EventKind.LB_STOP, n)
            actions.append(_Action(b.stop_at, 20_099 + bi * 100, f"balancer {b.name} stops",
                                   stop))
    return actions


def _deploy_services(sc: Scenario, ctx: JobContext) -> list[str]:
    """Declare the scenario's ``services:`` (all checked first) and wait until every instance
    is ready and routed; returns the ones to remove at the end (not ``keep``)."""
    if not sc.services:
        return []
    from galileo.services.spec import parse_services

    specs = parse_services(sc.services, "services")
    ctx.report(stage=f"deploying {len(specs)} service(s)")
    ctx.g.services.apply_all([spec for spec, _keep in specs])
    remove = [spec.name for spec, keep in specs if not keep]
    try:
        for spec, _keep in specs:
            ctx.check()
            ctx.g.services.wait(spec.name, sc.services_ready_s)
    except BaseException:
        _remove_services(ctx, remove)
        raise
    return remove


def _remove_services(ctx: JobContext, names: list[str]) -> None:
    for name in names:
        try:
            ctx.g.services.remove(name)
        except GalileoError as e:
            log.warning("experiment %s: cannot remove service %s: %s", ctx.exp_id, name, e)


def _stop_balancers(ctx: JobContext, launcher: Launcher) -> None:
    for name in launcher.stop_all():
        try:
            ctx.g.events.append(EventKind.LB_STOP, name)
        except BusError as e:
            log.warning("experiment %s: cannot record that balancer %s stopped: %s",
                        ctx.exp_id, name, e)


def _autoscalers(sc: Scenario, ctx: JobContext) -> list[Autoscaler]:
    """The scenario's autoscalers, built (every one checked: a bad one fails the run before any
    starts) on a controller of their own acting for this experiment; not started yet."""
    if not sc.autoscalers:
        return []
    from galileo.control.galileo import Galileo

    g = Galileo(ctx.g.settings, ctx.g.redis)
    g.act_for(ctx.exp_id)
    return [Autoscaler(g, a.service, a.policy, a.min, a.max, a.period, a.cooldown, a.options,
                       exp_id=ctx.exp_id) for a in sc.autoscalers]


def _stop_autoscalers(ctx: JobContext, scalers: list[Autoscaler]) -> None:
    for scaler in scalers:
        try:
            scaler.stop()
        except Exception:  # best effort: the run's status matters more
            log.exception("experiment %s: cannot stop the autoscaler of %s", ctx.exp_id,
                          scaler.service)


def _run_scenario(sc: Scenario, ctx: JobContext, launcher: Launcher) -> None:
    scalers = _autoscalers(sc, ctx)
    try:
        _run_load(sc, ctx, launcher, scalers)
    finally:
        _stop_autoscalers(ctx, scalers)


def _run_load(sc: Scenario, ctx: JobContext, launcher: Launcher,
              scalers: list[Autoscaler]) -> None:
    duration = sc.length_s
    pending = sorted(_routing(sc, ctx) + _balancers(sc, ctx, launcher) + _spawn(sc, ctx))
    for scaler in scalers:  # from the start of the load to its end
        scaler.start()
        ctx.report(stage=f"autoscaler of {scaler.service}: {scaler.policy.describe()}")
    ctx.report(stage=", ".join(f"{w.name}: {w.plan()[0].label}" for w in sc.workloads
                               if w.plan()))
    workers = {w for grp in ctx.groups.values() for w in grp.workers}
    t0 = time.monotonic()
    next_worker_check = t0 + WORKER_CHECK_INTERVAL_S
    while True:
        ctx.check()
        elapsed = time.monotonic() - t0
        while pending and pending[0].at_s <= elapsed:
            action = pending.pop(0)
            action.apply()
            ctx.report(stage=action.label)
        if elapsed >= duration:
            _stop_autoscalers(ctx, scalers)  # before the groups are quiesced
            ctx.report(progress=1.0)
            return
        ctx.report(progress=elapsed / duration)
        if time.monotonic() >= next_worker_check:
            workers = _check_workers(ctx, workers)
            next_worker_check = time.monotonic() + WORKER_CHECK_INTERVAL_S
        wait = min(CANCEL_CHECK_INTERVAL_S, duration - elapsed,
                   (pending[0].at_s - elapsed) if pending else CANCEL_CHECK_INTERVAL_S)
        time.sleep(max(wait, 0.0))


def _check_workers(ctx: JobContext, expected: set[str]) -> set[str]:
    """Hand hosting workers that disappeared to their groups (each group re-places or runs
    degraded, per its policy, and records the events; the watchdog may have done it first)."""
    alive = {w.name for w in ctx.g.workers()}
    gone = expected - alive
    if gone:
        for group in ctx.groups.values():
            dead = [w for w in group.workers if w in gone]
            if dead:
                group.handle_lost(dead)
        ctx.report(message=f"worker(s) {', '.join(sorted(gone))} lost")
    return expected & alive


# ---------------------------------------------------------------------- script
def _run_script(steps: list[ins.Step], ctx: JobContext, launcher: Launcher) -> None:
    total = sum(s.instruction.seconds for s in steps if isinstance(s.instruction, ins.Sleep))
    done = 0.0
    g = ctx.g
    executor = Executor(g, ins.Dialect.CONTROLLER, console=Console(file=io.StringIO()),
                        sleep=lambda s: ctx.sleep(s), launcher=launcher)
    for step in steps:
        ctx.check()
        i = step.instruction
        ctx.report(stage=f"line {step.line}: {i.format()}")
        if isinstance(i, ins.ExpStart | ins.ExpStop):
            continue  # the runner marks the experiment itself
        if isinstance(i, ins.Exit):
            break
        if isinstance(i, ins.Sleep) and total > 0:
            ctx.sleep(i.seconds, progress_from=done / total,
                      progress_to=(done + i.seconds) / total)
            done += i.seconds
            continue
        executor.execute(i)
    ctx.report(progress=1.0)


# ---------------------------------------------------------------------- thresholds
def _wait_recorded(ctx: JobContext) -> str:
    """Wait (bounded) until the recorder stored every request the groups sent."""
    sent = sum(s.sent for grp in ctx.groups.values() for s in grp.stats(seconds=86_400))
    deadline = time.monotonic() + RECORDER_WAIT_S
    stored = store.count_group_traces(ctx.db, ctx.gids())
    while stored < sent and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = store.count_group_traces(ctx.db, ctx.gids())
    if stored < sent:
        return f"{sent - stored} of {sent} requests not recorded (is a recorder running?)"
    return ""


def _thresholds(sc: Scenario, ctx: JobContext, owner: bool) -> tuple[list[Verdict], str]:
    if not ctx.groups:
        return [], ""
    note = _wait_recorded(ctx)
    if not owner:
        store.tag_traces(ctx.db, ctx.exp_id, ctx.gids())
    verdicts: list[Verdict] = []
    duration = sc.length_s
    total_target = 0.0
    for w in sc.workloads:
        target = mean_rate(w.plan(), duration)
        total_target += target
        group = ctx.groups.get(w.name)
        if w.thresholds and group is not None:
            verdicts += evaluate(w.name, [Threshold.parse(t) for t in w.thresholds],
                                 _observed(ctx, [group.gid], duration, target))
    if sc.thresholds:
        verdicts += evaluate("global", [Threshold.parse(t) for t in sc.thresholds],
                             _observed(ctx, ctx.gids(), duration, total_target))
    for v in verdicts:
        ctx.g.events.append(EventKind.THRESHOLD, v.threshold,
                            {"scope": v.scope, "observed": v.observed, "limit": v.limit,
                             "passed": v.passed}, exp_id=ctx.exp_id)
    return verdicts, note


def _observed(ctx: JobContext, gids: list[str], duration: float, target: float) -> Observed:
    n, errors, lat, _first, _last = store.trace_summary(ctx.db, ctx.exp_id, gids)
    return Observed(n, errors, lat, duration, target)


def _summary(message: str, verdicts: list[Verdict], note: str) -> str:
    parts = [message]
    if verdicts:
        failed = sum(not v.passed for v in verdicts)
        parts.append(f"{len(verdicts) - failed}/{len(verdicts)} thresholds passed")
    if note:
        parts.append(note)
    return "; ".join(parts)
