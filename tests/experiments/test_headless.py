"""``galileo run`` as a subprocess: exit 0 when thresholds pass, 99 when one fails, 2 for
invalid input; then ``exp export`` and ``exp delete`` on the stored experiment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from jobhelpers import scenario

from galileo.experiments.service import ExperimentService
from galileo.localenv import ProcessGroup, settings_env
from galileo.settings import Settings


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "galileo", *args], env=settings_env(settings),
                          capture_output=True, text=True, timeout=90)


def test_run_exit_codes_export_delete(settings: Settings, service: ExperimentService,
                                      cluster: ProcessGroup, app_host: str,
                                      tmp_path: Path) -> None:
    ok, bad, invalid = tmp_path / "ok.yaml", tmp_path / "bad.yaml", tmp_path / "invalid.yaml"
    ok.write_text(yaml.safe_dump(scenario(app_host, rps=20, seconds=2, thresholds=[
        "p99_ms < 2000", "achieved_rate > 0.8 * target"], name="ok")))
    bad.write_text(yaml.safe_dump(scenario(app_host, rps=20, seconds=2, thresholds=[
        "p99_ms < 0.0001"], name="bad")))
    invalid.write_text("workloads:\n  - service: echo\n    clients: 0\n    profile: {type: x}\n")

    passed = _run(settings, "run", str(ok), "--id", "run-ok")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "PASS" in passed.stdout and "FAIL" not in passed.stdout
    failed = _run(settings, "run", str(bad), "--id", "run-bad")
    assert failed.returncode == 99, failed.stdout + failed.stderr
    assert "FAIL  [echo] p99_ms < 0.0001" in failed.stdout
    rejected = _run(settings, "run", str(invalid))
    assert rejected.returncode == 2
    assert "workloads[0].clients" in rejected.stderr
    assert "workloads[0].profile" in rejected.stderr

    assert service.db.count_traces("run-ok") >= 30
    exported = _run(settings, "exp", "export", "run-ok", "--format", "parquet", "--out",
                    str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    table = pq.read_table(tmp_path / "run-ok-traces.parquet")
    assert table.num_rows == service.db.count_traces("run-ok")
    assert _run(settings, "exp", "export", "run-ok", "-o", str(tmp_path)).returncode == 0
    assert len((tmp_path / "run-ok-traces.csv").read_text().splitlines()) == table.num_rows + 1

    trashed = _run(settings, "exp", "delete", "run-ok")  # to the trash: nothing lost yet
    assert trashed.returncode == 0, trashed.stderr
    assert service.db.count_traces("run-ok") > 0
    assert "run-ok" not in {e.id for e in service.list()}
    deleted = _run(settings, "exp", "delete", "run-ok", "--purge", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert service.db.get_experiment("run-ok") is None
    assert service.db.count_traces("run-ok") == 0 and service.db.events("run-ok") == []
    from galileo.experiments import store

    assert store.get_metadata(service.db, "run-ok") == {}
    assert service.db.count_traces("run-bad") > 0  # the other experiment is untouched
