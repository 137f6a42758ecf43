"""``galileo exp list`` and ``exp show`` mark a run whose every request failed as FAILED, as the
dashboard's list and run page do, whatever status its runner recorded (issue 20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from galileo.storage import ExpDB
from reportdata import make_run


def _galileo(tmp_path: Path, sqlite: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update(galileo_expdb_sqlite_path=str(sqlite), galileo_data_dir=str(tmp_path),
               galileo_redis_url="redis://127.0.0.1:1/0")  # never reached: the expdb only
    return subprocess.run([sys.executable, "-m", "galileo", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_an_all_failed_run_is_failed_in_exp_list_and_show(tmp_path: Path) -> None:
    sqlite = tmp_path / "runs.sqlite"
    with ExpDB(f"sqlite:///{sqlite}") as db:
        make_run(db, "good", seconds=2, rps=20, error_every=10)
        make_run(db, "allbad", seconds=2, rps=20, unsent_every=1)  # nothing ever left
    listed = _galileo(tmp_path, sqlite, "exp", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows["allbad"]["status"] == "FINISHED" and rows["allbad"]["outcome"] == "FAILED"
    assert rows["good"]["outcome"] == "FINISHED"
    piped = _galileo(tmp_path, sqlite, "exp", "list")
    line = next(ln for ln in piped.stdout.splitlines() if ln.startswith("allbad\t"))
    assert line.split("\t")[4] == "FAILED" and "all 40 requests failed" in line
    shown = _galileo(tmp_path, sqlite, "exp", "show", "allbad")
    assert shown.returncode == 0 and "FAILED" in shown.stdout, shown.stderr
