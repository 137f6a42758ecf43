"""Apply parsed instructions to a :class:`~galileo.control.Galileo`."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.console import Console

from galileo.errors import NotFoundError, ValidationError

from . import instructions as ins
from . import render
from .galileo import Galileo
from .group import ClientGroup

MAX_SOURCE_DEPTH = 16


class Executor:
    """Runs instructions of one dialect; :meth:`run` returns False once ``exit`` ran."""

    def __init__(self, g: Galileo, dialect: ins.Dialect, console: Console | None = None,
                 sleep: Callable[[float], None] = time.sleep, cwd: Path | None = None) -> None:
        self.g = g
        self.dialect = dialect
        self.console = console or Console()
        self._sleep = sleep
        self._cwd = cwd or Path.cwd()
        self._depth = 0

    def run(self, steps: Iterable[ins.Step]) -> bool:
        return all(self.execute(step.instruction) for step in steps)

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
                for group in self._groups(p, s):
                    group.rps(r)
            case ins.Close(pattern=p, service=s):
                for group in self._groups(p, s):
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
                rtbl.flush()
            case ins.ListRoutes():
                out.print(rtbl.table())
            case ins.Info(service=s) if s is not None:
                record = rtbl.get(s)
                if record is None:
                    raise NotFoundError(f"service {s!r} has no routing record")
                out.print(render.record_detail(record), highlight=False)
            case ins.Info():
                out.print(render.cluster_info(self.g), highlight=False)
            case ins.Updates(seconds=s):
                render.follow_updates(self.g, out, s)
            case _:
                raise ValidationError(f"instruction {i.format()!r} cannot run here")

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
