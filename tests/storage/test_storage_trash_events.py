"""Start/stop events merge in any order (a reclaimed start applied after its stop), and the
trash: delete keeps every row until restore or purge; expired trash is purged on open. On
SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import asdict

import pytest

from galileo.errors import NotFoundError, ValidationError
from galileo.protocol import Event, EventKind, TelemetrySample, Trace
from galileo.storage import ExpDB, ExperimentStatus

START, STOP = 1000.0, 1060.0


def _start(db: ExpDB, exp_id: str) -> None:
    with db.transaction() as tx:
        tx.record_start(exp_id, at=START, name="run 1", creator="alice")


def _stop(db: ExpDB, exp_id: str) -> None:
    with db.transaction() as tx:
        tx.record_stop(exp_id, ExperimentStatus.FINISHED, at=STOP, message="done")


def test_start_and_stop_events_merge_in_either_order(db: ExpDB) -> None:
    rows = []
    for order in itertools.permutations((_start, _stop)):
        exp_id = f"exp-{order[0].__name__}"
        for apply in (*order, *order):  # and each one replayed
            apply(db, exp_id)
        row = db.get_experiment(exp_id)
        assert row is not None
        rows.append({**asdict(row), "id": None})
    assert rows[0] == rows[1]
    row = rows[0]
    assert (row["name"], row["creator"], row["created"], row["start"], row["end"]) == (
        "run 1", "alice", START, START, STOP)
    assert (row["status"], row["status_message"], row["progress"]) == (
        ExperimentStatus.FINISHED, "done", 1.0)


def test_a_later_start_begins_a_new_run_and_an_old_stop_changes_nothing(db: ExpDB) -> None:
    _start(db, "e1")
    _stop(db, "e1")
    with db.transaction() as tx:
        tx.record_stop("e1", ExperimentStatus.FAILED, at=STOP - 30)  # older stop, replayed late
        assert tx.get_experiment("e1").status == ExperimentStatus.FINISHED  # type: ignore[union-attr]
        rerun = tx.record_start("e1", at=STOP + 10)
    assert (rerun.status, rerun.start, rerun.end, rerun.name) == (
        ExperimentStatus.RUNNING, STOP + 10, None, "run 1")


def _fill(db: ExpDB, exp_id: str) -> None:
    db.insert_traces([Trace(request_id=f"{exp_id:0>32}", exp_id=exp_id, group_id="g",
                            client_id="c", worker="w", service="s", host="h:1", method="GET",
                            path="/", intended_ns=1, sent_ns=2, done_ns=3, status=200)])
    db.insert_events([Event(kind=EventKind.TRACING, ts_ns=1, exp_id=exp_id)])
    db.insert_telemetry(exp_id, [TelemetrySample(node="n", metric="cpu", subsystem="",
                                                 ts_ns=sum(map(ord, exp_id)), value=1.0,
                                                 window_ns=7)])


def _counts(db: ExpDB, exp_id: str) -> tuple[int, int, int]:
    return db.count_traces(exp_id), len(db.events(exp_id)), db.count_telemetry(exp_id)


def test_trash_hides_then_restore_brings_everything_back(db: ExpDB) -> None:
    exp = db.create_experiment("kept", exp_id="t1")
    db.create_experiment("other", exp_id="t2")
    _fill(db, exp.id)
    trashed = db.trash_experiment(exp.id, at=123.0)
    assert trashed.deleted_at == 123.0
    assert [e.id for e in db.list_experiments()] == ["t2"]
    assert [e.id for e in db.list_experiments(trash=True)] == ["t1"]
    assert _counts(db, exp.id) == (1, 1, 1)
    with pytest.raises(NotFoundError, match="already in the trash"):
        db.trash_experiment(exp.id)
    with pytest.raises(ValidationError, match=r"already exists \(in the trash"):
        db.create_experiment("again", exp_id="t1")
    restored = db.restore_experiment(exp.id)
    assert asdict(restored) == asdict(exp)
    assert {e.id for e in db.list_experiments()} == {"t1", "t2"}
    assert db.telemetry(exp.id)[0]["window_ns"] == 7
    with pytest.raises(NotFoundError, match="not in the trash"):
        db.restore_experiment(exp.id)


def test_expired_trash_is_purged_when_a_database_opens(db: ExpDB) -> None:
    for exp_id in ("old", "new", "live"):
        db.create_experiment(exp_id, exp_id=exp_id)
        _fill(db, exp_id)
    db.trash_experiment("old", at=1000.0)
    db.trash_experiment("new", at=1000.0 + 50)
    assert db.purge_expired_trash(100.0, now=1000.0 + 120) == ["old"]
    assert db.get_experiment("old") is None and _counts(db, "old") == (0, 0, 0)
    assert _counts(db, "new") == (1, 1, 1)
    with ExpDB(db.url, trash_retention_s=0.0) as other:  # a daemon opening it: due at once
        assert other.get_experiment("new") is None and _counts(other, "new") == (0, 0, 0)
        assert _counts(other, "live") == (1, 1, 1)


def test_cli_delete_list_trash_restore_purge(sqlite_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from galileo.cli.exp import exp_app

    monkeypatch.setenv("galileo_expdb_url", sqlite_url)
    db = ExpDB(sqlite_url)
    db.create_experiment("cli", exp_id="c1", status=ExperimentStatus.FINISHED)
    _fill(db, "c1")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(exp_app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    assert "moved to the trash for 7 days" in run("delete", "c1")
    assert "c1" not in run("list", "--json")
    listed = run("list", "--trash").split("\t")  # piped: tab-separated, deleted + purge times
    assert listed[0] == "c1" and listed[-1].strip() > listed[-2] > ""
    assert "restored" in run("restore", "c1")
    assert _counts(db, "c1") == (1, 1, 1)
    assert "purged" in run("delete", "c1", "--purge", "--yes")
    assert db.get_experiment("c1") is None and _counts(db, "c1") == (0, 0, 0)
    db.close()
