"""Galileo 0.x's variable names still work, with a one-line note."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from galileo.settings import Settings, load_settings


def test_logging_level_is_read_as_log_level() -> None:
    s = Settings.from_env({"galileo_logging_level": "warning"})
    assert s.log_level == "WARNING"
    assert s.legacy_notes == ["note: galileo_logging_level is Galileo 0.x's name; Galileo "
                              "reads it as galileo_log_level"]


def test_the_current_name_wins() -> None:
    s = Settings.from_env({"GALILEO_LOGGING_LEVEL": "warning", "galileo_log_level": "error"})
    assert s.log_level == "ERROR"
    assert s.legacy_notes == ["note: GALILEO_LOGGING_LEVEL (Galileo 0.x's name) is ignored: "
                              "galileo_log_level is set"]
    assert Settings.from_env({"galileo_log_level": "error"}).legacy_notes == []


def test_load_settings_prints_the_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    for key in list(os.environ):
        if key.lower().startswith("galileo_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("galileo_logging_level", "debug")
    assert load_settings().log_level == "DEBUG"
    assert capsys.readouterr().err == ("note: galileo_logging_level is Galileo 0.x's name; "
                                       "Galileo reads it as galileo_log_level\n")
