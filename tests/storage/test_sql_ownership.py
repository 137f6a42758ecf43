"""Storage owns SQL: no module outside ``galileo.storage`` imports SQLAlchemy or Alembic, reaches
into a private storage module (``galileo.storage._…``), runs statements on a connection, or spells
an SQL statement; and a database that goes away under the report, analysis and export paths
gives Galileo's ``StorageError``, never a raw SQLAlchemy or driver error."""

from __future__ import annotations

import ast
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from galileo.errors import StorageError
from galileo.storage import ExpDB, reads
from galileo.storage.scratch import scratch_database

SRC = Path(__file__).resolve().parents[2] / "src" / "galileo"
FOREIGN = ("sqlalchemy", "alembic")
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(?:IGNORE\s+)?INTO\b|\bUPDATE\s+\S+\s+SET\b"
                 r"|\bDELETE\s+FROM\b|\b(?:CREATE|DROP|ALTER|TRUNCATE)\s+(?:TEMP\w*\s+)?"
                 r"(?:TABLE|DATABASE|SCHEMA|INDEX)\b|\bSELECT\s+1\b")
# statements run on a connection or engine: ``x.conn.execute``, ``x.engine.connect`` …
CONNECTION_CALLS = {("conn", "execute"), ("conn", "exec_driver_sql"), ("engine", "connect"),
                    ("engine", "begin"), ("connection", "cursor"), ("conn", "connection")}
# the SQLAlchemy handles behind storage's objects: ``tx.conn``, ``db.engine``, ``self.expdb.engine``
HANDLES = {"conn": ("tx",), "engine": ("db", "expdb", "_expdb")}


def _holder(node: ast.expr) -> str:
    """The name an attribute is read from: ``tx`` in ``tx.conn``, ``db`` in ``self.db.x``."""
    return node.id if isinstance(node, ast.Name) else \
        node.attr if isinstance(node, ast.Attribute) else ""


def violations(source: str, where: str) -> list[str]:
    """What in ``source`` (a module outside storage) breaks storage's ownership of SQL."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, where)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] in FOREIGN:
                found.append(f"{where}:{node.lineno} imports {name}")
            elif name.startswith("galileo.storage.") and any(
                    part.startswith("_") for part in name.split(".")[2:]):
                found.append(f"{where}:{node.lineno} imports the private {name}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SQL.search(node.value):
            found.append(f"{where}:{node.lineno} spells SQL: {node.value[:60]!r}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                and (node.value.attr, node.attr) in CONNECTION_CALLS:
            found.append(f"{where}:{node.lineno} uses .{node.value.attr}.{node.attr}")
        elif isinstance(node, ast.Attribute) and _holder(node.value) in HANDLES.get(node.attr, ()):
            found.append(f"{where}:{node.lineno} uses {_holder(node.value)}.{node.attr}")
    return found


def test_no_module_outside_storage_speaks_sql() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "storage":
            continue
        bad += violations(path.read_text(), str(rel))
    assert not bad, "SQL outside galileo.storage: " + "; ".join(bad)


@pytest.mark.parametrize(("source", "what"), [
    ("import sqlalchemy as sa\n", "imports sqlalchemy"),
    ("from sqlalchemy.engine import make_url\n", "imports sqlalchemy.engine"),
    ("from alembic import command\n", "imports alembic"),
    ("from galileo.storage._engine import storage_errors\n", "private galileo.storage._engine"),
    ("from galileo.storage import _bulk\n", "private galileo.storage._bulk"),
    ("q = 'SELECT id FROM traces WHERE exp_id = 1'\n", "spells SQL"),
    ("q = f'DELETE FROM {table}'\n", "spells SQL"),
    ("q = 'INSERT IGNORE INTO traces (a) VALUES (1)'\n", "spells SQL"),
    ("def f(db):\n    with db.engine.connect() as c:\n        pass\n", "uses .engine.connect"),
    ("def f(tx):\n    tx.conn.execute(None)\n", "uses .conn.execute"),
    ("def f(tx):\n    insert(tx.conn, 1)\n", "uses tx.conn"),
    ("def f(self):\n    self.db.engine.dispose()\n", "uses db.engine"),
])
def test_the_check_sees_each_kind_of_violation(source: str, what: str) -> None:
    found = violations(source, "mod.py")
    assert found and what in found[0], found


def test_the_check_leaves_ordinary_code_alone() -> None:
    source = ('"""Select the rows you want from the list."""\nfrom galileo.storage import ExpDB\n'
              'from galileo.storage.reads import trace_columns\n'
              'METHODS = ("GET", "DELETE")\nmsg = "update the routing table"\n')
    assert violations(source, "mod.py") == []


# ---------------------------------------------------------------------- errors are mapped
@pytest.fixture
def scratch_db(expdb_url: str) -> Iterator[ExpDB]:
    with scratch_database(expdb_url, prefix="gsqlown") as url, ExpDB(url) as db:
        yield db


def _record_a_run(db: ExpDB) -> None:
    from tests.storage.test_storage_traces import make_trace

    from galileo.storage.schema import metadata

    metadata.create_all(db.engine)
    db.create_experiment("run", exp_id="exp-1")
    db.insert_traces([make_trace(i) for i in range(20)])


def _drop_everything(db: ExpDB) -> None:
    """The tables go away under a running reader (another process dropped them)."""
    from galileo.storage.schema import metadata

    metadata.drop_all(db.engine)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _readers(out: Path = Path()) -> dict[str, Callable[[ExpDB], Any]]:
    """The entry points the dashboard, REST, notebooks and the CLI read a run through."""
    from galileo.analysis import data
    from galileo.analysis.report import runs
    from galileo.experiments import export

    return {
        "load_run": lambda db: runs.load_run(db, "exp-1"),
        "recent_errors": lambda db: runs.recent_errors(db, "exp-1", 0),
        "telemetry_series": lambda db: runs.telemetry_series(db, "exp-1", 0),
        "run_totals": lambda db: runs.run_totals(db, ["exp-1"]),
        "packed_traces": lambda db: list(reads.packed_traces(
            db, "exp-1", 0, {"service": ["svc"], "worker": ["w1"], "host": ["h"]}, 10)),
        "analysis.load": lambda db: data.load("exp-1", db=db),
        "export": lambda db: export.export(db, "exp-1", out),
    }


def test_tables_gone_under_each_reader_give_storage_error(scratch_db: ExpDB,
                                                          tmp_path: Path) -> None:
    for name, read in sorted(_readers(tmp_path).items()):
        _record_a_run(scratch_db)
        read(scratch_db)  # works while the database is there
        _drop_everything(scratch_db)
        with pytest.raises(StorageError, match="experiment database at"):
            read(scratch_db)
            pytest.fail(f"{name} read a database without tables")


@pytest.mark.parametrize("backend", ["mysql+pymysql", "postgresql+psycopg"])
def test_an_unreachable_server_gives_storage_error_on_the_report_path(backend: str) -> None:

    url = f"{backend}://galileo:secret@127.0.0.1:{_closed_port()}/none"
    with ExpDB(url, create_tables=False) as db:
        for name in ("load_run", "run_totals", "recent_errors"):
            with pytest.raises(StorageError, match=r"cannot reach .*\*\*\*@127\.0\.0\.1"):
                _readers()[name](db)


def test_health_ping_maps_errors() -> None:
    from galileo.storage.expdb import ping

    with pytest.raises(StorageError, match="cannot reach the experiment database"):
        ping(f"postgresql+psycopg://u:p@127.0.0.1:{_closed_port()}/x")
