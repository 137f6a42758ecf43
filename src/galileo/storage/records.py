"""The experiment record, its statuses, and the field view every derived shape is built from.

``Experiment`` is the one definition of an experiment: the ``experiments`` table
(:mod:`galileo.storage.schema`), the REST schema (``web.schemas.ExperimentPublic``), Galileo
0.x's REST shape (``web.routers.legacy``) and gRPC's ``ExperimentInfo`` are derived from its
fields (:func:`record_fields`), and ``tests/storage/test_record_drift.py`` fails when a mapping
misses one. No SQL here: the REST and gRPC layers import this module without the database.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

import msgspec


class ExperimentStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# the statuses an experiment ends in (the only ones ``finish`` accepts; nothing leaves them
# except a new start after the end)
TERMINAL_STATUSES: Final = frozenset(
    {ExperimentStatus.FINISHED, ExperimentStatus.FAILED, ExperimentStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class Experiment:
    """One experiment. Times are unix seconds (``None`` until it happens)."""

    id: str
    name: str
    creator: str
    created: float = field(metadata={"doc": "unix seconds"})
    start: float | None = field(metadata={"doc": "unix seconds; None until started"})
    end: float | None = field(metadata={"doc": "unix seconds; None until ended"})
    status: ExperimentStatus
    status_message: str | None = field(metadata={"doc": "why it ended, or what it is doing"})
    progress: float = field(metadata={"doc": "0..1"})
    # the stage a running experiment is in (scenario stage or script line), for status views
    stage: str | None = field(default=None, metadata={"doc": "current stage of a run"})
    # moved to the trash at (unix s); None: not deleted (purged after the retention)
    deleted_at: float | None = field(default=None,
                                     metadata={"doc": "moved to the trash at (unix s)"})

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Experiment:
        values: dict[str, Any] = dict(row)
        values["status"] = ExperimentStatus(values["status"])
        return cls(**values)


class RecordField(NamedTuple):
    """One field of a record: name, resolved type, default (``msgspec.NODEFAULT``: none; a
    fresh value for a field with a default factory) and description ("" when none)."""

    name: str
    type: Any
    default: Any
    doc: str


def record_fields(record: type) -> list[RecordField]:
    """The fields of a ``msgspec.Struct`` or dataclass ``record``, in declaration order."""
    if isinstance(record, type) and issubclass(record, msgspec.Struct):
        return [RecordField(f.name, f.type, f.default if f.default_factory is msgspec.NODEFAULT
                            else f.default_factory(), "")
                for f in msgspec.structs.fields(record)]
    if dataclasses.is_dataclass(record):
        hints = typing.get_type_hints(record)
        out = []
        for f in dataclasses.fields(record):
            default = f.default if f.default is not dataclasses.MISSING else msgspec.NODEFAULT
            out.append(RecordField(f.name, hints[f.name], default, str(f.metadata.get("doc", ""))))
        return out
    raise TypeError(f"{record!r} is neither a msgspec.Struct nor a dataclass")


def field_names(record: type) -> tuple[str, ...]:
    """The names of ``record``'s fields, in order."""
    return tuple(f.name for f in record_fields(record))
