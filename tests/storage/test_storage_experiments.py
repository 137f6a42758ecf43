"""Experiment rows: lifecycle, listing, deletion with every row they own."""

from __future__ import annotations

import re
import time

import pytest

from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import Event, EventKind, Trace
from galileo.storage import ExpDB, ExperimentStatus, new_experiment_id
from galileo.storage.schema import nodeinfo, telemetry


def _trace(rid: str, exp_id: str) -> Trace:
    return Trace(request_id=rid, exp_id=exp_id, group_id="g", client_id="c", worker="w",
                 service="s", host="h:1", method="GET", path="/", intended_ns=1, sent_ns=2,
                 done_ns=3, status=200)


def test_new_id_format() -> None:
    assert re.fullmatch(r"\d{12}-[a-z0-9]{4}", new_experiment_id())


def test_lifecycle_queued_running_finished(db: ExpDB) -> None:
    exp = db.create_experiment("load test", "alice")
    assert (exp.status, exp.name, exp.creator, exp.start, exp.end) == (
        ExperimentStatus.QUEUED, "load test", "alice", None, None)
    running = db.start(exp.id, at=1000.5)
    assert (running.status, running.start) == (ExperimentStatus.RUNNING, 1000.5)
    done = db.finish(exp.id, ExperimentStatus.FAILED, "worker w1 lost", at=1010.25)
    assert (done.status, done.status_message, done.end) == (
        ExperimentStatus.FAILED, "worker w1 lost", 1010.25)
    assert db.get_experiment(exp.id) == done


def test_errors_name_the_experiment(db: ExpDB) -> None:
    exp = db.create_experiment(exp_id="202401010000-abcd")
    with pytest.raises(ValidationError, match="'202401010000-abcd' already exists"):
        db.create_experiment(exp_id="202401010000-abcd")
    with pytest.raises(NotFoundError, match="unknown experiment 'nope'"):
        db.start("nope")
    with pytest.raises(NotFoundError, match="unknown experiment 'nope'"):
        db.finish("nope")
    with pytest.raises(ValidationError, match="status RUNNING"):
        db.finish(exp.id, ExperimentStatus.RUNNING)
    assert db.get_experiment("nope") is None


def test_list_newest_first_and_by_status(db: ExpDB) -> None:
    ids = []
    for name in ("a", "b", "c"):
        ids.append(db.create_experiment(name).id)
        time.sleep(0.002)  # distinct created timestamps
    db.start(ids[1])
    assert [e.id for e in db.list_experiments()] == ids[::-1]
    assert [e.id for e in db.list_experiments(status=ExperimentStatus.RUNNING)] == [ids[1]]
    assert [e.id for e in db.list_experiments(limit=1, offset=1)] == [ids[1]]


def test_delete_removes_every_row_of_the_experiment(db: ExpDB) -> None:
    keep, drop = db.create_experiment("keep").id, db.create_experiment("drop").id
    db.insert_traces([_trace("a" * 32, keep), _trace("b" * 32, drop), _trace("c" * 32, drop)])
    db.insert_events([Event(kind=EventKind.TRACING, ts_ns=1, exp_id=drop)])
    with db.transaction() as tx:
        tx.conn.execute(telemetry.insert(), [
            dict(exp_id=drop, node="n", metric="cpu", subsystem="", ts_ns=1, value=0.5)])
        tx.conn.execute(nodeinfo.insert(), [dict(exp_id=drop, node="n", key="cpus", value="4")])
    assert db.purge_experiment(drop) is True
    assert db.get_experiment(drop) is None and db.get_experiment(keep) is not None
    assert (db.count_traces(drop), db.count_traces(keep), db.events(drop)) == (0, 1, [])
    with db.transaction() as tx:
        for table in (telemetry, nodeinfo):
            assert tx.conn.execute(table.select()).all() == []
    assert db.purge_experiment(drop) is False


def test_transaction_rolls_back_everything_on_error(db: ExpDB) -> None:
    with pytest.raises(NotFoundError), db.transaction() as tx:
        tx.insert_traces([_trace("d" * 32, "x")])
        tx.start("missing")
    assert db.count_traces() == 0
