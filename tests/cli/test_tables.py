"""Tables are never cut: plain tab-separated lines when piped, wrapped cells on a narrow
terminal (galileo.tables, used by every table Galileo prints)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console

from galileo.storage import ExpDB, ExperimentStatus
from galileo.tables import Table, live_view

MESSAGE = "every threshold passed; the run recorded 12345 traces on 3 workers"


def _holds_all_of(rendered: str, *cells: str) -> bool:
    """Every letter and digit of ``cells`` is in ``rendered`` (wrapped anywhere, never cut)."""
    have = Counter(c for c in re.sub(r"\x1b\[[0-9;]*m", "", rendered) if c.isalnum())
    return not Counter(c for cell in cells for c in cell if c.isalnum()) - have


def _table() -> Table:
    table = Table(title="experiments")
    for header in ("id", "status", "message"):
        table.add_column(header)
    table.add_row("202601010000-abcd", "[bold]FINISHED[/]", MESSAGE)
    return table


def test_piped_table_is_plain_lines() -> None:
    out = io.StringIO()
    Console(file=out, width=10_000).print(_table())
    assert out.getvalue().splitlines() == ["id\tstatus\tmessage",
                                           f"202601010000-abcd\tFINISHED\t{MESSAGE}"]


def test_narrow_terminal_wraps_and_never_cuts() -> None:
    out = io.StringIO()
    Console(file=out, width=40, force_terminal=True, color_system=None).print(_table())
    text = out.getvalue()
    assert "…" not in text
    assert _holds_all_of(text, "experiments", "id", "status", "message",
                         "202601010000-abcd", "FINISHED", MESSAGE)


def _exp_show(tmp_path: Path, **env: str) -> str:
    sqlite = tmp_path / "x.sqlite"
    if not sqlite.exists():
        with ExpDB(f"sqlite:///{sqlite}") as db:
            db.create_experiment("a-rather-long-experiment-name", "tester", exp_id="e1",
                                 status=ExperimentStatus.RUNNING)
            db.finish("e1", ExperimentStatus.FINISHED, MESSAGE)
    clean = {k: v for k, v in os.environ.items()
             if not k.lower().startswith("galileo_") and k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "galileo", "exp", "show", "e1"],
                          capture_output=True, text=True, timeout=60,
                          env={**clean, "galileo_expdb_sqlite_path": str(sqlite),
                               "galileo_data_dir": str(tmp_path), **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_exp_show_piped_and_narrow(tmp_path: Path) -> None:
    piped = _exp_show(tmp_path).splitlines()
    assert piped[0].split("\t")[:2] == ["id", "name"]
    assert piped[1].split("\t")[-3:] == ["FINISHED", "100%", MESSAGE]
    narrow = _exp_show(tmp_path, COLUMNS="60", FORCE_COLOR="1", NO_COLOR="1")
    assert "…" not in narrow
    assert _holds_all_of(narrow, "a-rather-long-experiment-name", "FINISHED", MESSAGE)


def test_a_piped_live_view_ends_its_last_line() -> None:
    """Into a pipe a live table's one frame ends with a newline, so what follows starts on a
    line of its own (the demo's summary header ran on after the last row)."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    table = Table()
    table.add_column("service")
    table.add_column("sent")
    table.add_row("echo", "20")
    with live_view(console) as live:
        live.update(table)
    console.print("next line")
    assert out.getvalue().splitlines()[-2:] == ["echo\t20", "next line"]
