"""The shells: line shells for the instruction language (``exp>``, ``rtbl>``) and the IPython
shell with ``g``, ``show``, ``rtbl``, ``exp`` pre-bound."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from galileo.errors import GalileoError, InstructionError

from . import instructions as ins
from . import render
from .executor import Executor, at_line
from .galileo import Galileo

PROMPTS = {ins.Dialect.CONTROLLER: "exp> ", ins.Dialect.RTBL: "rtbl> "}


class ScriptError(GalileoError):
    """A Python shell script raised; the message names the file and line."""


def run_line_script(g: Galileo, dialect: ins.Dialect, path: Path, console: Console) -> None:
    """Parse the whole file (a bad line raises before anything runs), then run it."""
    Executor(g, dialect, console, cwd=path.resolve().parent).source(str(path.resolve()))


def run_line_shell(g: Galileo, dialect: ins.Dialect, console: Console,
                   read: Callable[[str], str] = input,
                   confirm: Callable[[str], bool] | None = None) -> int:
    """Interactive loop: a bad line prints ``error: line N: …`` and the shell continues.

    Returns the exit code of the last error (0 when none), so that input piped into the shell
    fails like a script would. ``confirm`` is asked before ``close`` and ``flush``."""
    with contextlib.suppress(ImportError):  # line editing and history for input()
        import readline  # noqa: F401
    executor = Executor(g, dialect, console, confirm=confirm)
    status = 0
    console.print(f"galileo {dialect.value} shell - type help for commands, exit to leave",
                  highlight=False)
    number = 0
    while True:
        try:
            text = read(PROMPTS[dialect])
        except EOFError:
            console.print()
            return status
        except KeyboardInterrupt:
            console.print()
            continue
        number += 1
        try:
            instruction = ins.parse_line(text, dialect, number)
            if instruction is not None and not executor.execute(instruction):
                return status
        except GalileoError as e:
            located = e if isinstance(e, InstructionError) else at_line(e, number)
            console.print(f"[bold red]error:[/] {escape(str(located))}", highlight=False)
            status = e.exit_code
        except KeyboardInterrupt:
            console.print("interrupted")


def ask(question: str) -> bool:
    """A yes/no question at the terminal; anything but y/yes is no."""
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


# ---------------------------------------------------------------- python shell
class Show:
    """``show.workers()``, ``show.clients()``/``show.groups()``, ``show.routing()``,
    ``show.stats(group)``, or ``show('workers')``."""

    def __init__(self, g: Galileo, console: Console) -> None:
        self._g = g
        self._console = console

    def __call__(self, what: str = "workers") -> None:
        method = getattr(self, what, None)
        if what.startswith("_") or not callable(method):
            raise GalileoError(f"show({what!r}): use workers, clients, groups, routing or ping")
        method()

    def workers(self) -> None:
        self._console.print(render.workers_table(self._g.workers()))

    def clients(self) -> None:
        self._console.print(render.groups_table(self._g.groups()))

    groups = clients

    def routing(self) -> None:
        self._console.print(self._g.rtbl.table())

    rtbl = routing

    def ping(self) -> None:
        self._console.print(render.ping_table(self._g.ping()))

    def stats(self, group: Any, seconds: int = 10) -> None:
        from .stats import stats_table

        self._console.print(stats_table(group.stats(seconds), f"group {group.gid}"))

    def __repr__(self) -> str:
        return "show: show.workers() show.clients() show.routing() show.ping() show.stats(group)"


USAGE = """\
Galileo shell. Pre-bound names:
  g        the Galileo API: g.workers(), g.ping(), g.spawn('svc', 4, rps=10), g.groups(),
           g.request('svc', path='/'), g.tracing(True)
  rtbl     routing table: rtbl.set('svc', 'h1:8080,h2:8080', [1, 2]), rtbl.get('svc'),
           rtbl.remove('svc'), rtbl.clear(), rtbl.services()
  exp      experiments: exp.start(name='run 1'), exp.stop(), exp.current()
  show     show.workers(), show.clients(), show.routing(), show.ping(), show.stats(group)
  telemd   telemetry agents: telemd.nodes(), telemd.info('node'), telemd.pause(), telemd.unpause()
  sleep    sleep(seconds)      env      os.environ      pwd      current directory
  group = g.spawn('svc', 2, rps=20); group.rps(50); group.stats(); group.close()
"""


class _Usage:
    def __repr__(self) -> str:
        return USAGE

    def __call__(self) -> None:
        print(USAGE)


def python_namespace(g: Galileo, console: Console, **extra: Any) -> dict[str, Any]:
    """The names a Python shell or script gets; ``extra`` adds handles from other layers that
    the edge composes in (``galileo shell`` adds ``telemd``, the telemetry agents' client)."""
    return {"g": g, "show": Show(g, console), "rtbl": g.rtbl, "exp": g.experiment,
            "sleep": time.sleep, "env": os.environ, "pwd": os.getcwd(), "usage": _Usage(),
            "console": console, **extra}


def run_python_script(path: Path, namespace: dict[str, Any]) -> None:
    """Run a Python script with the shell's names; any error becomes one ``ScriptError`` line."""
    try:
        code = compile(path.read_text(), str(path), "exec")
    except OSError as e:
        raise ScriptError(f"cannot read script {str(path)!r}: {e.strerror}") from None
    except SyntaxError as e:
        raise ScriptError(f"{path}, line {e.lineno}: syntax error: {e.msg}") from None
    scope = {**namespace, "__name__": "__main__", "__file__": str(path)}
    try:
        exec(code, scope)
    except SystemExit as e:
        if e.code not in (None, 0):
            raise ScriptError(f"{path} exited with status {e.code}") from None
    except Exception as e:
        line = _script_line(e, str(path))
        what = str(e) if isinstance(e, GalileoError) else f"{type(e).__name__}: {e}"
        raise ScriptError(f"{path}, line {line}: {what}") from None


def _script_line(e: BaseException, filename: str) -> int | str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames and frames[-1].lineno is not None else "?"


def run_python_shell(namespace: dict[str, Any]) -> None:  # pragma: no cover - interactive
    from IPython.terminal.embed import InteractiveShellEmbed

    shell = InteractiveShellEmbed(  # type: ignore[no-untyped-call]
        banner1=USAGE, user_ns=namespace, exit_msg="bye")
    one_line_errors(shell)
    shell()


def one_line_errors(shell: Any) -> None:
    """Show Galileo's own errors (no matching worker, bad weights, …) in an IPython shell as
    one ``error: …`` line; any other exception -- a real bug -- keeps its full traceback."""

    def handler(self: Any, etype: type[BaseException], value: BaseException, tb: Any,
                tb_offset: int | None = None) -> None:
        print(f"error: {value}", file=sys.stderr)

    shell.set_custom_exc((GalileoError,), handler)


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()
