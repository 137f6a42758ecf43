"""The instruction language of the line shells (and scripts, and the experiment daemon).

A script is parsed as a whole into typed instructions before anything runs; a bad line raises
:class:`~galileo.errors.InstructionError` (``line N: <what is wrong>``). ``#`` starts a comment;
blank lines are fine. Two dialects share the common commands:

* controller (``exp>``): ``spawn PATTERN SERVICE [NUM]``, ``rps PATTERN SERVICE RPS``,
  ``close PATTERN SERVICE``, ``hosts``, ``clients``, ``info [SERVICE]``, ``ping``,
  ``exp start [ID]``, ``exp stop``, ``lb start [NAME] [PORT] [POLICY]``, ``lb stop [NAME]``,
  ``lb policy POLICY [NAME]``
* rtbl (``rtbl>``): ``set SERVICE HOSTS [WEIGHTS]`` (``h1:8080,h2:8080`` ``1,2``),
  ``unset SERVICE``, ``clear``, ``list``, ``info [SERVICE]``, ``updates [SECONDS]``, ``flush``
* both: ``sleep SECONDS``, ``source FILE``, ``date``, ``echo TEXT``, ``help [COMMAND]``, ``exit``

Every instruction's :meth:`~Instruction.format` gives a line that parses back to it.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from galileo.errors import GalileoError, InstructionError, ValidationError
from galileo.protocol import RoutingRecord, check_name
from galileo.routing import parse_hosts, parse_weights


class Dialect(StrEnum):
    CONTROLLER = "controller"
    RTBL = "rtbl"


def _q(token: str) -> str:
    return shlex.quote(token)


def _num(x: float) -> str:
    return repr(float(x))


@dataclass(frozen=True)
class Instruction:
    """Base of every instruction; ``format()`` renders it back to a line."""

    def format(self) -> str:
        raise NotImplementedError


# ---------------------------------------------------------------- common
@dataclass(frozen=True)
class Sleep(Instruction):
    seconds: float

    def format(self) -> str:
        return f"sleep {_num(self.seconds)}"


@dataclass(frozen=True)
class Source(Instruction):
    path: str

    def format(self) -> str:
        return f"source {_q(self.path)}"


@dataclass(frozen=True)
class Date(Instruction):
    def format(self) -> str:
        return "date"


@dataclass(frozen=True)
class Echo(Instruction):
    text: str

    def format(self) -> str:
        return f"echo {self.text}".rstrip()


@dataclass(frozen=True)
class Help(Instruction):
    topic: str | None = None

    def format(self) -> str:
        return "help" + (f" {_q(self.topic)}" if self.topic else "")


@dataclass(frozen=True)
class Exit(Instruction):
    def format(self) -> str:
        return "exit"


# ---------------------------------------------------------------- controller
@dataclass(frozen=True)
class Spawn(Instruction):
    pattern: str
    service: str
    num: int = 1

    def format(self) -> str:
        return f"spawn {_q(self.pattern)} {self.service} {self.num}"


@dataclass(frozen=True)
class Rps(Instruction):
    pattern: str
    service: str
    rps: float

    def format(self) -> str:
        return f"rps {_q(self.pattern)} {self.service} {_num(self.rps)}"


@dataclass(frozen=True)
class Close(Instruction):
    pattern: str
    service: str

    def format(self) -> str:
        return f"close {_q(self.pattern)} {self.service}"


@dataclass(frozen=True)
class Hosts(Instruction):
    def format(self) -> str:
        return "hosts"


@dataclass(frozen=True)
class Clients(Instruction):
    def format(self) -> str:
        return "clients"


@dataclass(frozen=True)
class Info(Instruction):
    service: str | None = None

    def format(self) -> str:
        return "info" + (f" {self.service}" if self.service else "")


@dataclass(frozen=True)
class PingWorkers(Instruction):
    def format(self) -> str:
        return "ping"


@dataclass(frozen=True)
class ExpStart(Instruction):
    exp_id: str | None = None

    def format(self) -> str:
        return "exp start" + (f" {self.exp_id}" if self.exp_id else "")


@dataclass(frozen=True)
class ExpStop(Instruction):
    def format(self) -> str:
        return "exp stop"


@dataclass(frozen=True)
class LbStart(Instruction):
    name: str = "lb"
    port: int = 8000
    policy: str = "wrr"

    def format(self) -> str:
        return f"lb start {self.name} {self.port} {_q(self.policy)}"


@dataclass(frozen=True)
class LbStop(Instruction):
    name: str = "lb"

    def format(self) -> str:
        return f"lb stop {self.name}"


@dataclass(frozen=True)
class LbPolicy(Instruction):
    policy: str
    name: str = "lb"

    def format(self) -> str:
        return f"lb policy {_q(self.policy)} {self.name}"


# ---------------------------------------------------------------- rtbl
@dataclass(frozen=True)
class SetRoute(Instruction):
    service: str
    hosts: tuple[str, ...]
    weights: tuple[float, ...]

    def format(self) -> str:
        return (f"set {self.service} {','.join(self.hosts)} "
                f"{','.join(_num(w) for w in self.weights)}")


@dataclass(frozen=True)
class Unset(Instruction):
    service: str

    def format(self) -> str:
        return f"unset {self.service}"


@dataclass(frozen=True)
class ClearRoutes(Instruction):
    def format(self) -> str:
        return "clear"


@dataclass(frozen=True)
class ListRoutes(Instruction):
    def format(self) -> str:
        return "list"


@dataclass(frozen=True)
class Updates(Instruction):
    seconds: float | None = None

    def format(self) -> str:
        return "updates" + (f" {_num(self.seconds)}" if self.seconds is not None else "")


@dataclass(frozen=True)
class Flush(Instruction):
    def format(self) -> str:
        return "flush"


@dataclass(frozen=True)
class Step:
    """One parsed line: its number in the script and the instruction."""

    line: int
    instruction: Instruction


# ---------------------------------------------------------------- parsing
class _Bad(Exception):
    """Internal: what is wrong with the current line (turned into InstructionError)."""


def _seconds(token: str, what: str) -> float:
    text = token[:-1] if token.endswith("s") and not token.endswith("ms") else token
    scale = 1.0
    if token.endswith("ms"):
        text, scale = token[:-2], 0.001
    try:
        value = float(text) * scale
    except ValueError:
        raise _Bad(f"{what} {token!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise _Bad(f"{what} {token!r} must be a finite number >= 0")
    return value


def _rate(token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise _Bad(f"rate {token!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise _Bad(f"rate {token!r} must be a finite number >= 0")
    return value


def _count(token: str) -> int:
    if not token.isdigit() or int(token) < 1:
        raise _Bad(f"client count {token!r} must be a whole number >= 1")
    return int(token)


def _service(token: str) -> str:
    try:
        return check_name("service", token)
    except ValidationError as e:
        raise _Bad(str(e)) from None


def _args(args: list[str], usage: str, low: int, high: int) -> list[str]:
    if not low <= len(args) <= high:
        raise _Bad(f"usage: {usage}")
    return args


def _set_route(a: list[str]) -> SetRoute:
    a = _args(a, "set SERVICE HOSTS [WEIGHTS]  (e.g. set api h1:8080,h2:8080 1,2)", 2, 3)
    service = _service(a[0])
    try:
        hosts = parse_hosts(a[1])
        weights = parse_weights(a[2] if len(a) > 2 else None, len(hosts), service)
        RoutingRecord(service=service, hosts=hosts, weights=weights).validate()
    except ValidationError as e:
        raise _Bad(str(e)) from None
    return SetRoute(service, tuple(hosts), tuple(weights))


def _exp(a: list[str]) -> Instruction:
    if a[:1] == ["start"] and len(a) <= 2:
        if len(a) == 2:
            try:
                check_name("experiment id", a[1])
            except ValidationError as e:
                raise _Bad(str(e)) from None
        return ExpStart(a[1] if len(a) == 2 else None)
    if a == ["stop"]:
        return ExpStop()
    raise _Bad("usage: exp start [ID] | exp stop")


def _lb(a: list[str]) -> Instruction:
    usage = "lb start [NAME] [PORT] [POLICY] | lb stop [NAME] | lb policy POLICY [NAME]"
    from galileo.lb.commands import check_policy_spec

    try:
        if a[:1] == ["start"] and len(a) <= 4:
            name = check_name("balancer", a[1]) if len(a) > 1 else "lb"
            if len(a) > 2 and not (a[2].isdigit() and int(a[2]) < 65536):
                raise _Bad(f"balancer port {a[2]!r} must be a number 0-65535 (0: any free)")
            port = int(a[2]) if len(a) > 2 else 8000
            return LbStart(name, port, check_policy_spec(a[3]) if len(a) > 3 else "wrr")
        if a[:1] == ["stop"] and len(a) <= 2:
            return LbStop(check_name("balancer", a[1]) if len(a) > 1 else "lb")
        if a[:1] == ["policy"] and 2 <= len(a) <= 3:
            name = a[2] if len(a) > 2 else "lb"
            return LbPolicy(check_policy_spec(a[1]), name if name == "*" else
                            check_name("balancer", name))
    except GalileoError as e:
        raise _Bad(str(e).rstrip(".")) from None
    raise _Bad(f"usage: {usage}")


Parser = Callable[[list[str]], Instruction]

COMMON: dict[str, Parser] = {
    "sleep": lambda a: Sleep(_seconds(_args(a, "sleep SECONDS", 1, 1)[0], "duration")),
    "source": lambda a: Source(_args(a, "source FILE", 1, 1)[0]),
    "date": lambda a: (_args(a, "date", 0, 0), Date())[1],
    "help": lambda a: Help(_args(a, "help [COMMAND]", 0, 1)[0] if a else None),
    "exit": lambda a: (_args(a, "exit", 0, 0), Exit())[1],
    "quit": lambda a: (_args(a, "quit", 0, 0), Exit())[1],
}

def _spawn(a: list[str]) -> Spawn:
    a = _args(a, "spawn HOST_PATTERN SERVICE [NUM]", 2, 3)
    return Spawn(a[0], _service(a[1]), _count(a[2]) if len(a) > 2 else 1)


def _rps(a: list[str]) -> Rps:
    a = _args(a, "rps HOST_PATTERN SERVICE RPS", 3, 3)
    return Rps(a[0], _service(a[1]), _rate(a[2]))


def _close(a: list[str]) -> Close:
    a = _args(a, "close HOST_PATTERN SERVICE", 2, 2)
    return Close(a[0], _service(a[1]))


CONTROLLER: dict[str, Parser] = {
    "spawn": _spawn,
    "rps": _rps,
    "close": _close,
    "hosts": lambda a: (_args(a, "hosts", 0, 0), Hosts())[1],
    "clients": lambda a: (_args(a, "clients", 0, 0), Clients())[1],
    "info": lambda a: Info(_service(a[0]) if _args(a, "info [SERVICE]", 0, 1) else None),
    "ping": lambda a: (_args(a, "ping", 0, 0), PingWorkers())[1],
    "exp": _exp,
    "lb": _lb,
}

RTBL: dict[str, Parser] = {
    "set": _set_route,
    "unset": lambda a: Unset(_service(_args(a, "unset SERVICE", 1, 1)[0])),
    "clear": lambda a: (_args(a, "clear", 0, 0), ClearRoutes())[1],
    "list": lambda a: (_args(a, "list", 0, 0), ListRoutes())[1],
    "info": lambda a: Info(_service(a[0]) if _args(a, "info [SERVICE]", 0, 1) else None),
    "updates": lambda a: Updates(
        _seconds(a[0], "duration") if _args(a, "updates [SECONDS]", 0, 1) else None),
    "flush": lambda a: (_args(a, "flush", 0, 0), Flush())[1],
}


def commands(dialect: Dialect) -> dict[str, Parser]:
    """Command name -> argument parser, for one dialect."""
    return {**COMMON, **(CONTROLLER if dialect is Dialect.CONTROLLER else RTBL)}


def parse_line(text: str, dialect: Dialect, line: int = 1) -> Instruction | None:
    """Parse one line; ``None`` for a blank or comment line."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    words = stripped.split(None, 1)
    if words[0] == "echo":
        return Echo(words[1].strip() if len(words) > 1 else "")
    table = commands(dialect)
    try:
        tokens = shlex.split(stripped, comments=True)
        if not tokens:
            return None
        parser = table.get(tokens[0])
        if parser is None:
            raise _Bad(f"unknown command {tokens[0]!r} (try: help)")
        return parser(tokens[1:])
    except _Bad as e:
        raise InstructionError(line, str(e)) from None
    except ValueError as e:  # shlex: unbalanced quotes
        raise InstructionError(line, f"cannot split the line into words: {e}") from None


def parse_script(text: str, dialect: Dialect) -> list[Step]:
    """Parse a whole script before running any of it."""
    steps = []
    for number, line in enumerate(text.splitlines(), start=1):
        instruction = parse_line(line, dialect, number)
        if instruction is not None:
            steps.append(Step(number, instruction))
    return steps


HELP: dict[str, str] = {
    "spawn": "spawn HOST_PATTERN SERVICE [NUM]  start NUM clients of SERVICE on matching workers",
    "rps": "rps HOST_PATTERN SERVICE RPS  set the total rate of SERVICE's groups on those workers",
    "close": "close HOST_PATTERN SERVICE  close SERVICE's groups on matching workers "
             "(asks first at a terminal)",
    "hosts": "hosts  list live workers",
    "clients": "clients  list client groups",
    "info": "info [SERVICE]  cluster summary, or one service's routing record and groups",
    "ping": "ping  round-trip time to every worker",
    "exp": "exp start [ID] | exp stop  mark an experiment's start/end",
    "lb": "lb start [NAME] [PORT] [POLICY] | lb stop [NAME] | lb policy POLICY [NAME]  start/stop "
          "a load balancer here, switch a balancer's policy (NAME * = all)",
    "set": "set SERVICE HOSTS [WEIGHTS]  e.g. set api h1:8080,h2:8080 1,2",
    "unset": "unset SERVICE  remove a routing record",
    "clear": "clear  remove every routing record",
    "list": "list  show the routing table",
    "updates": "updates [SECONDS]  print routing updates as they happen",
    "flush": "flush  ask every listener to re-read the whole routing table (asks first at a "
             "terminal)",
    "sleep": "sleep SECONDS  wait (also 500ms, 2s)",
    "source": "source FILE  run the instructions in FILE",
    "date": "date  print the current date and time",
    "echo": "echo TEXT  print TEXT",
    "help": "help [COMMAND]  this help",
    "exit": "exit  leave the shell",
    "quit": "quit  leave the shell",
}


def help_text(dialect: Dialect, topic: str | None = None) -> str:
    names = sorted([*commands(dialect), "echo"])
    if topic is not None:
        return HELP.get(topic, f"no command {topic!r}; commands: {' '.join(names)}")
    return "\n".join(HELP[n] for n in names)
