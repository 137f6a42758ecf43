"""One definition per record: the experiment, event and worker records drive every shape that
shows them -- SQL table, REST schema, Galileo 0.x's REST shape, gRPC message, InfluxDB line --
and a field added to a record but missing in a shape fails here."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from galileo.grpc.records import experiment_info
from galileo.grpc.stubs import pb2
from galileo.protocol import Event, Trace, WorkerInfo
from galileo.storage import schema
from galileo.storage.influx import TRACE_FIELDS, TRACE_TAGS, InfluxRuntimeStore, trace_line
from galileo.storage.records import (
    TERMINAL_STATUSES,
    Experiment,
    ExperimentStatus,
    field_names,
    record_fields,
)
from galileo.web import schemas
from galileo.web.routers import legacy

FIELDS = field_names(Experiment)


def missing(record: type, shape: list[str] | tuple[str, ...] | set[str],
            left_out: frozenset[str] = frozenset()) -> set[str]:
    """Fields of ``record`` that ``shape`` neither has nor declares as left out."""
    return set(field_names(record)) - set(shape) - left_out


def proto_fields(message: Any) -> list[str]:
    return [f.name for f in message.DESCRIPTOR.fields]


def test_the_experiments_table_is_the_record() -> None:
    assert [c.name for c in schema.experiments.columns] == list(FIELDS)
    nullable = {f.name for f in record_fields(Experiment) if "None" in repr(f.type)}
    assert {c.name for c in schema.experiments.columns if c.nullable} == nullable
    assert schema.experiments.c.id.primary_key


def test_rest_legacy_and_grpc_shapes_map_every_experiment_field() -> None:
    assert list(schemas.ExperimentPublic.model_fields) == list(FIELDS)
    legacy_fields = list(legacy.LegacyExperimentPublic.model_fields)
    assert legacy_fields == list(legacy.LEGACY_EXPERIMENT_FIELDS)
    assert not set(legacy_fields) & legacy.NOT_IN_0X
    assert missing(Experiment, legacy_fields, legacy.NOT_IN_0X) == set()
    assert missing(Experiment, proto_fields(pb2.ExperimentInfo)) == set()


def test_grpc_experiment_info_carries_each_value() -> None:
    full = Experiment(id="e1", name="n", creator="c", created=1.5, start=2.5, end=3.5,
                      status=ExperimentStatus.FAILED, status_message="m", progress=0.25,
                      stage="s", deleted_at=4.5)
    msg = experiment_info(full)
    assert {f: getattr(msg, f) for f in FIELDS} == dataclasses.asdict(full) | {
        "status": "FAILED"}
    fresh = dataclasses.replace(full, start=None, end=None, status_message=None, stage=None,
                                deleted_at=None)
    msg = experiment_info(fresh)
    assert (msg.start, msg.end, msg.status_message, msg.stage, msg.deleted_at) == (
        0.0, 0.0, "", "", 0.0)


def test_a_field_added_to_the_record_is_seen_missing_where_it_is_not_mapped() -> None:
    @dataclasses.dataclass(frozen=True)
    class Grown(Experiment):  # type: ignore[misc]
        owner: str = ""

    assert missing(Grown, proto_fields(pb2.ExperimentInfo)) == {"owner"}
    assert missing(Grown, list(legacy.LegacyExperimentPublic.model_fields),
                   legacy.NOT_IN_0X) == {"owner"}
    # the derived shapes grow with it
    assert "owner" in schemas.record_model("GrownPublic", Grown).model_fields
    assert "owner" in [c.name for c in schema.record_columns(
        Grown, {"id": sa.String(8), "name": sa.Text, "creator": sa.Text,
                "status": sa.Text, "status_message": sa.Text,
                "stage": sa.Text, "owner": sa.Text})]


def test_the_events_table_stores_every_event_field() -> None:
    assert list(schema.EVENT_COLUMNS) == list(field_names(Event))
    columns = [c.name for c in schema.events.columns]
    assert columns == ["id", *schema.EVENT_COLUMNS.values()]
    assert schema.EVENT_COLUMNS["id"] == "source_id"
    assert schema.events.c.source_id.unique


def test_worker_public_is_worker_info() -> None:
    assert list(schemas.WorkerPublic.model_fields) == list(field_names(WorkerInfo))
    info = WorkerInfo(name="w1", host="h", pid=7, processes=2, labels={"zone": "a"},
                      started_ns=1, heartbeat_ns=2, clients=3, groups=1, version="v")
    public = schemas.WorkerPublic.model_validate(info, from_attributes=True)
    assert public.model_dump() == {f: getattr(info, f) for f in field_names(WorkerInfo)}


def test_terminal_statuses_are_defined_once() -> None:
    from galileo.experiments import model
    from galileo.storage import experiments

    assert model.TERMINAL is TERMINAL_STATUSES is experiments.TERMINAL_STATUSES
    assert {s.value for s in TERMINAL_STATUSES} == {"FINISHED", "FAILED", "CANCELLED"}


class _Rows:
    """An InfluxDB answer for one trace line (the mapping back is pure logic)."""

    endpoint = "memory"

    def __init__(self, line: str) -> None:
        head, fields, ts = line.rsplit(" ", 2)
        row: dict[str, Any] = dict(kv.split("=", 1) for kv in head.split(",")[1:])
        for kv in fields.split(","):
            k, v = kv.split("=", 1)
            row[k] = v.strip('"') if v.startswith('"') else int(v[:-1]) if v.endswith("i") else v
        row["time"] = int(ts)
        self.row = row

    def query_rows(self, measurement: str, exp_id: str | None) -> list[dict[str, Any]]:
        return [self.row]


def test_influx_trace_lines_carry_every_trace_field_and_read_back() -> None:
    assert set(TRACE_TAGS) | set(TRACE_FIELDS) == set(field_names(Trace))
    assert not set(TRACE_TAGS) & set(TRACE_FIELDS)
    t = Trace(request_id="r1", exp_id="e1", group_id="g", client_id="c", worker="w",
              service="s", host="h", method="GET", path="/p", intended_ns=10, sent_ns=15,
              done_ns=40, status=200, error="", bytes_received=9)
    store = InfluxRuntimeStore(_Rows(trace_line(t)))  # type: ignore[arg-type]
    assert store.traces("e1") == [{f: getattr(t, f) for f in field_names(Trace)}]


@pytest.mark.parametrize("record", [Experiment, Trace, Event, WorkerInfo])
def test_record_fields_reads_structs_and_dataclasses(record: type) -> None:
    names = [f.name for f in record_fields(record)]
    assert names and len(names) == len(set(names))
