"""Galileo's exception tree. Foreign errors (redis, SQLAlchemy, HTTP) are mapped at the boundary.

    GalileoError                 any error a user can cause or meet; one clear sentence
    ├── ConfigError              bad setting / environment variable
    ├── ValidationError          bad input: routing record, request spec, arrival, name, …
    │   └── InstructionError     a bad line in the instruction language (``line N: …``)
    ├── BusError                 Redis refused a command or misbehaved (mapped in galileo.bus)
    │   ├── BusUnavailable       Redis unreachable (connect, timeout, connection reset)
    │   ├── BusAuthError         Redis refused the credentials (AUTH/ACL)
    │   └── BusConflict          a WATCHed key changed before EXEC: retry the transaction
    ├── StorageError             experiment database unreachable or failing
    ├── WorkerError              a worker did not answer or refused a command
    │   └── NoWorkersError       no worker matches a placement request
    └── NotFoundError            unknown experiment, group, service, …

The CLI catches ``GalileoError`` at the edge, prints ``error: <message>`` and exits with the
code of its kind, the same for every command:

    0    done (``run``/``exp submit --wait``: every threshold passed)
    1    the operation failed: an experiment FAILED or was cancelled, a worker did not answer
    2    a mistake in what was asked: bad input or setting, unknown id or name, missing or
         unreadable file, busy port (ConfigError, ValidationError, NotFoundError)
    3    a service Galileo needs is unreachable or failing: Redis, the experiment database
    99   the experiment ran but a threshold failed
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_THRESHOLD = 99
EXIT_INTERRUPTED = 130


class GalileoError(Exception):
    """Base of every error Galileo raises on purpose."""

    exit_code: int = EXIT_FAILED


class ConfigError(GalileoError):
    exit_code = EXIT_USAGE


class ValidationError(GalileoError):
    exit_code = EXIT_USAGE


class NoRouteError(ValidationError):
    """A service is to be loaded that has no routing record (and nothing will route it)."""


class InstructionError(ValidationError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


class BusError(GalileoError):
    exit_code = EXIT_UNAVAILABLE


class BusUnavailable(BusError):
    pass


class BusAuthError(BusError):
    pass


class BusConflict(BusError):
    """A watched key changed before ``EXEC`` (optimistic transaction lost a race: retry)."""


class StorageError(GalileoError):
    exit_code = EXIT_UNAVAILABLE


class WorkerError(GalileoError):
    pass


class NoWorkersError(WorkerError):
    pass


class NotFoundError(GalileoError):
    exit_code = EXIT_USAGE
