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

The CLI catches ``GalileoError`` at the edge, prints ``error: <message>`` and exits non-zero.
"""

from __future__ import annotations


class GalileoError(Exception):
    """Base of every error Galileo raises on purpose."""

    exit_code: int = 1


class ConfigError(GalileoError):
    exit_code = 2


class ValidationError(GalileoError):
    exit_code = 2


class InstructionError(ValidationError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


class BusError(GalileoError):
    exit_code = 3


class BusUnavailable(BusError):
    pass


class BusAuthError(BusError):
    pass


class BusConflict(BusError):
    """A watched key changed before ``EXEC`` (optimistic transaction lost a race: retry)."""


class StorageError(GalileoError):
    exit_code = 3


class WorkerError(GalileoError):
    pass


class NoWorkersError(WorkerError):
    pass


class NotFoundError(GalileoError):
    exit_code = 2
