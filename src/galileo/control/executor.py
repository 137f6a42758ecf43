"""Apply parsed instructions to a :class:`~galileo.control.Galileo`."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from galileo.errors import GalileoError, InstructionError, NotFoundError, ValidationError
from galileo.protocol import EventKind

from . import instructions as ins
from . import render
from .galileo import Galileo
from .group import ClientGroup
from .placement import split_rate

if TYPE_CHECKING:
    from galileo.lb.launcher import Launcher

MAX_SOURCE_DEPTH = 16


class Executor:
    """Runs instructions of one dialect; :meth:`run` returns False once ``exit`` ran."""

    def __init__(self, g: Galileo, dialect: ins.Dialect, console: Console | None = None,
                 sleep: Callable[[float], None] = time.sleep, cwd: Path | None = None,
                 confirm: Callable[[str], bool] | None = None,
                 launcher: Launcher | None = None) -> None:
        """``confirm(question)`` is asked before ``close`` and ``flush`` (None: never ask --
        scripts and piped input run unattended). ``launcher`` keeps the balancers ``lb start``
        starts (default: one of this executor's own)."""
        self.g = g
        self.dialect = dialect
        self.console = console or Console()
        self._sleep = sleep
        self._cwd = cwd or Path.cwd()
        self._depth = 0
        self._confirm = confirm
        self._launcher = launcher

    def run(self, steps: Iterable[ins.Step]) -> bool:
        """Run parsed steps; an error names the line it happened on (``line 3: …``)."""
        for step in steps:
            try:
                if not self.execute(step.instruction):
                    return False
            except InstructionError:
                raise
            except GalileoError as e:
                raise at_line(e, step.line) from None
        return True

    def execute(self, i: ins.Instruction) -> bool:
        out = self.console
        match i:
            case ins.Exit():
                return False
            case ins.Sleep(seconds=s):
                self._sleep(s)
            case ins.Date():
                out.print(time.strftime("%a %b %d %H:%M:%S %Z %Y"), highlight=False)
            case ins.Echo(text=t):
                out.print(t, markup=False, highlight=False)
            case ins.Help(topic=t):
                out.print(ins.help_text(self.dialect, t), markup=False, highlight=False)
            case ins.Source(path=p):
                return self.source(p)
            case ins.Spawn(pattern=p, service=s, num=n):
                group = self.g.spawn(s, n, hosts=p)
                out.print(f"spawned {n} client(s) of {s} in group {group.gid} on "
                          f"{', '.join(group.workers)}", highlight=False)
            case ins.Rps(pattern=p, service=s, rps=r):
                groups = self._groups(p, s)
                shares = split_rate(r, {grp.gid: len(grp.clients) for grp in groups})
                for group in groups:  # RATE is the total, split by clients as rps() splits
                    group.rps(shares[group.gid])
            case ins.Close(pattern=p, service=s):
                groups = self._groups(p, s)
                if self._asked(f"close {len(groups)} group(s) of {s} on workers matching {p}?"):
                    for group in groups:
                        group.close()
            case ins.Hosts():
                out.print(render.workers_table(self.g.workers()))
            case ins.Clients():
                out.print(render.groups_table(self.g.groups()))
            case ins.PingWorkers():
                out.print(render.ping_table(self.g.ping()))
            case ins.ExpStart(exp_id=e):
                out.print(f"experiment {self.g.experiment.start(e)} started", highlight=False)
            case ins.ExpStop():
                stopped = self.g.experiment.stop()
                out.print(f"experiment {stopped} stopped" if stopped else "no experiment running")
            case ins.LbStart() | ins.LbStop() | ins.LbPolicy():
                self._balancer(i)
            case _:
                self._routing(i)
        return True

    def _routing(self, i: ins.Instruction) -> None:
        out, rtbl = self.console, self.g.rtbl
        match i:
            case ins.SetRoute(service=s, hosts=h, weights=w):
                rtbl.set(s, list(h), list(w))
            case ins.Unset(service=s):
                rtbl.remove(s)
            case ins.ClearRoutes():
                rtbl.clear()
            case ins.Flush():
                if self._asked("ask every listener to re-read the whole routing table?"):
                    rtbl.flush()
            case ins.ListRoutes():
                out.print(rtbl.table())
            case ins.Info(service=s) if s is not None:
                out.print(render.service_info(self.g, s), highlight=False)
            case ins.Info():
                out.print(render.cluster_info(self.g), highlight=False)
            case ins.Updates(seconds=None) if self._confirm is None:
                # unattended (a script, piped input): following for ever would block the rest
                raise ValidationError("`updates` without SECONDS follows routing updates until "
                                      "interrupted, which a script or piped input cannot do; "
                                      "give a duration, e.g. `updates 10`")
            case ins.Updates(seconds=s):
                render.follow_updates(self.g, out, s)
            case _:
                raise ValidationError(f"instruction {i.format()!r} cannot run here")

    def _balancer(self, i: ins.Instruction) -> None:
        from galileo.lb.commands import switch_policy
        from galileo.lb.launcher import Launcher

        if self._launcher is None:
            self._launcher = Launcher(self.g.settings)
        match i:
            case ins.LbStart(name=n, port=p, policy=pol):
                url = self._launcher.start(n, p, pol).url
                self.g.events.append(EventKind.LB_START, n, {"url": url, "policy": pol})
                self.console.print(f"balancer {n} serving on {url} (policy {pol})",
                                   highlight=False)
            case ins.LbStop(name=n):
                if not self._launcher.stop(n):
                    raise NotFoundError(f"no balancer {n!r} was started here")
                self.g.events.append(EventKind.LB_STOP, n)
            case ins.LbPolicy(policy=pol, name=n):
                switch_policy(self.g.redis, self.g.keys.ns, n, pol)

    def close(self) -> None:
        """Stop the balancers this executor started (``lb start``)."""
        if self._launcher is not None:
            for name in self._launcher.stop_all():
                self.g.events.append(EventKind.LB_STOP, name)

    def _asked(self, question: str) -> bool:
        if self._confirm is None or self._confirm(question):
            return True
        self.console.print("not done", highlight=False)
        return False

    def _groups(self, pattern: str, service: str) -> list[ClientGroup]:
        groups = [grp for grp in self.g.groups() if grp.service == service
                  and any(fnmatch.fnmatch(w, pattern) for w in grp.workers)]
        if not groups:
            raise NotFoundError(f"no client group of {service!r} runs on workers matching "
                                f"{pattern!r}")
        return groups

    def source(self, path: str) -> bool:
        """Parse the whole file, then run it (paths relative to the current directory)."""
        file = Path(path).expanduser()
        file = file if file.is_absolute() else self._cwd / file
        if self._depth >= MAX_SOURCE_DEPTH:
            raise ValidationError(f"source {path!r}: nested deeper than {MAX_SOURCE_DEPTH} files")
        try:
            text = file.read_text()
        except OSError as e:
            raise NotFoundError(f"cannot read script {str(file)!r}: {e.strerror}") from None
        try:
            steps = ins.parse_script(text, self.dialect)
        except ValidationError as e:
            raise ValidationError(f"{file}: {e}") from None
        self._depth += 1
        try:
            return self.run(steps)
        finally:
            self._depth -= 1


def at_line(e: GalileoError, line: int) -> GalileoError:
    """The same error (class and exit code kept) with ``line N:`` in front of its message."""
    try:
        located = type(e)(f"line {line}: {e}")
    except TypeError:  # an error class with another constructor
        located = GalileoError(f"line {line}: {e}")
        located.exit_code = e.exit_code
    return located
