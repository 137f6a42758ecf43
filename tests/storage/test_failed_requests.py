"""One definition of a failed request (``protocol.request_failed``): the same answer for one
trace, a pandas column and the SQL condition on the three databases; no module restates it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from galileo.protocol import Trace, request_failed
from galileo.storage import ExpDB
from galileo.storage.schema import trace_failed, traces

SRC = Path(__file__).resolve().parents[2] / "src" / "galileo"
# (status, error) -> failed
CASES = [(200, "", False), (204, "", False), (302, "", False), (399, "", False),
         (400, "", True), (404, "", True), (503, "", True), (199, "", True), (100, "", True),
         (0, "timeout", True), (0, "", True), (200, "closed", True)]


def test_one_trace() -> None:
    assert [bool(request_failed(s, e)) for s, e, _ in CASES] == [f for _, _, f in CASES]


def test_pandas_columns() -> None:
    df = pd.DataFrame({"status": [s for s, _, _ in CASES], "error": [e for _, e, _ in CASES]})
    assert list(request_failed(df["status"], df["error"])) == [f for _, _, f in CASES]


def test_sql_condition_agrees(db: ExpDB) -> None:
    db.insert_traces([Trace(request_id=f"r{i:031d}", exp_id="e", group_id="g", client_id="c",
                            worker="w", service="s", host="h:1", method="GET", path="/",
                            intended_ns=i, sent_ns=i, done_ns=i, status=s, error=e)
                      for i, (s, e, _) in enumerate(CASES)])
    with db.engine.connect() as conn:
        failed = set(conn.execute(sa.select(traces.c.request_id).where(trace_failed())).scalars())
    assert failed == {f"r{i:031d}" for i, (_, _, f) in enumerate(CASES) if f}


def test_no_module_restates_it() -> None:
    """A status range spelled outside galileo.protocol (``200 <= status < 400``, ``status < 400``,
    ``status >= 400``) is a second definition waiting to drift."""
    pattern = re.compile(r"status\"?\]?\)?\s*(<|>=)\s*[34]00\b|\b200\s*<=\s*\S*status")
    allowed = {"records.py", "health.py"}  # health.py checks an HTTP endpoint, not a trace
    offenders = [f"{p.relative_to(SRC)}:{n}" for p in sorted(SRC.rglob("*.py"))
                 if p.name not in allowed
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []
