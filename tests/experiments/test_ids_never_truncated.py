"""Ids are never cut (issue 13): ``galileo exp list`` piped prints plain lines with whole ids,
``--json`` gives every field, and rich tables keep id columns whole at any width."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from rich.console import Console
from rich.table import Table

from galileo.control.render import add_id_column
from galileo.experiments.service import ExperimentService
from galileo.localenv import settings_env
from galileo.settings import Settings

LONG_ID = "202612011200-a-rather-long-experiment-identifier-x"


def test_exp_list_piped_and_json(settings: Settings) -> None:
    with ExperimentService(settings) as svc:
        svc.create(script="sleep 1\n", exp_id=LONG_ID, name="n" * 70, creator="someone")
    env = settings_env(settings, COLUMNS="60")
    plain = subprocess.run([sys.executable, "-m", "galileo", "exp", "list"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[0].split("\t")[:2] == [LONG_ID, "n" * 70]
    as_json = subprocess.run([sys.executable, "-m", "galileo", "exp", "list", "--json"],
                             env=env, capture_output=True, text=True, timeout=60)
    rows = json.loads(as_json.stdout)
    assert [(r["id"], r["status"], r["creator"]) for r in rows] == [
        (LONG_ID, "QUEUED", "someone")]


def test_id_column_survives_a_narrow_terminal() -> None:
    table = Table()
    add_id_column(table, "id", [LONG_ID])
    for col in ("name", "message"):
        table.add_column(col)
    table.add_row(LONG_ID, "a long name " * 4, "a long status message " * 4)
    out = io.StringIO()
    Console(file=out, width=70, color_system=None).print(table)
    assert LONG_ID in out.getvalue()
