"""``galileo report A B`` prints the comparison's verdicts on the terminal, as in the HTML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from galileo.storage import ExpDB
from reportdata import make_run


def test_comparison_verdict_on_the_terminal(tmp_path: Path) -> None:
    sqlite = tmp_path / "cmp.sqlite"
    with ExpDB(f"sqlite:///{sqlite}") as db:
        make_run(db, "base", seconds=3, rps=50, scale_ms=5.0, seed=1)
        make_run(db, "slow", seconds=3, rps=50, scale_ms=10.0, seed=2)
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update(galileo_expdb_sqlite_path=str(sqlite), galileo_data_dir=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "galileo", "report", "base", "slow", "-o",
                           str(tmp_path / "r.html")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "slow vs base:"
    p99 = next(line for line in lines if line.startswith("  echo: p99"))
    assert "higher in slow" in p99
    html = (tmp_path / "r.html").read_text()
    assert p99.strip() in html.replace("&#39;", "'")  # the HTML says the same
