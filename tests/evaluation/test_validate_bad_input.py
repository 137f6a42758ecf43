"""Bad input to ``galileo sched validate``: one line naming the problem, exit 2, nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest
from evalhelpers import cli, write_table


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_table(tmp_path / "t" / "profile.npz", [({2: 1}, {2: 1.0}), ({2: 2}, {2: 0.5})])


@pytest.mark.parametrize(("args", "says"), [
    (["--schedulers", "greedy,best-fit"], "unknown scheduler 'best-fit'"),
    (["--batch", "kv=x"], "needs a count >= 1"),
    (["--batch", "nginx=2"], "unknown app 'nginx'"),
    (["--prefix", "gnone"], "no testbed 'gnone' is up"),
])
def test_bad_arguments_are_one_line(tmp_path: Path, table: Path, args: list[str],
                                    says: str) -> None:
    done = cli(tmp_path, "sched", "validate", "--table", str(table), "--batch", "checksum=2",
               "--prefix", "gnone", *args, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_bad_tables_are_one_line(tmp_path: Path) -> None:
    missing = cli(tmp_path, "sched", "validate", "--table", str(tmp_path / "none.npz"),
                  timeout=60)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a table")
    broken = cli(tmp_path, "sched", "validate", "--table", str(garbage), timeout=60)
    for done, says in ((missing, "does not exist"), (broken, str(garbage))):
        assert done.returncode == 2, done.stdout + done.stderr
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and says in lines[0], done.stderr


def test_app_not_in_the_table(tmp_path: Path, table: Path) -> None:
    done = cli(tmp_path, "sched", "validate", "--table", str(table), "--batch", "kv=1",
               "--prefix", "gnone", timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'kv' is not in the interference table" in \
        done.stderr and "(its apps: checksum)" in done.stderr, done.stderr


def test_profile_on_a_testbed_that_is_not_up(tmp_path: Path) -> None:
    done = cli(tmp_path, "profile", "checksum", "--testbed", "gnone", timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "no testbed 'gnone' is up" in lines[0], done.stderr
