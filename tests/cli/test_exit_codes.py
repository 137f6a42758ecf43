"""One exit code per kind of mistake, whichever command meets it (galileo.errors)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cliprocess import galileo_env
from galileo.cli import main
from galileo.errors import EXIT_USAGE
from galileo.settings import Settings


def _galileo(args: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``galileo ARGS`` in this process (as the console script does); exit code, stderr."""
    for key in list(os.environ):
        if key.lower().startswith("galileo_"):
            monkeypatch.delenv(key)
    for key, value in galileo_env(settings, COLUMNS="200").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", ["galileo", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main.run()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(("args", "says"), [
    (["exp", "show", "nosuch"], "unknown experiment 'nosuch'"),
    (["exp", "stop", "nosuch"], "unknown experiment 'nosuch'"),
    (["report", "nosuch", "-o", "{tmp}/r.html"], "unknown experiment 'nosuch'"),
    (["run", "{tmp}/missing.yaml", "--no-local"], "missing.yaml"),
    (["exp", "submit", "{tmp}/missing.yaml"], "missing.yaml"),
    (["rtbl", "--source", "{tmp}/missing.txt"], "missing.txt"),
    (["controller", "--source", "{tmp}/missing.txt"], "missing.txt"),
])
def test_unknown_ids_and_missing_files_exit_2(
        args: list[str], says: str, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _galileo([a.format(tmp=tmp_path) for a in args], settings, monkeypatch, capsys)
    assert code == EXIT_USAGE, err
    assert err.startswith("error: ") and says in err
    assert "Traceback" not in err
