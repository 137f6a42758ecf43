"""gRPC shapes of Galileo's records: ``ExperimentInfo`` is a mapping of
:class:`~galileo.storage.records.Experiment`, field by field (same names), with proto3's zero
value for ``None`` (``""``, ``0``) and enum members as their text."""

from __future__ import annotations

from enum import Enum
from typing import Any

from galileo.grpc.stubs import pb2
from galileo.storage.records import Experiment, field_names

EXPERIMENT_FIELDS = field_names(Experiment)


def _zero(message: Any, name: str) -> Any:
    """proto3's default of field ``name`` of ``message`` (what ``None`` is sent as)."""
    return message.DESCRIPTOR.fields_by_name[name].default_value


def experiment_info(exp: Experiment) -> Any:
    """``exp`` as an ``ExperimentInfo`` message."""
    values: dict[str, Any] = {}
    for name in EXPERIMENT_FIELDS:
        value = getattr(exp, name)
        if value is None:
            value = _zero(pb2.ExperimentInfo, name)
        elif isinstance(value, Enum):
            value = value.value
        values[name] = value
    return pb2.ExperimentInfo(**values)
