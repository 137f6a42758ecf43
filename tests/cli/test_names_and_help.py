"""One list of workload names for ``app serve`` and ``profile``; help texts that tell the
truth."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from galileo.apps.registry import list_services
from galileo.cli import main
from galileo.errors import ValidationError
from galileo.profiling import parse_apps
from galileo.profiling.apps import PROFILE_APPS


def test_profile_takes_the_service_names_of_app_serve() -> None:
    served = {s.name for s in list_services()}
    assert {a.service for a in PROFILE_APPS.values()} <= served
    assert [a.name for a in parse_apps(["ycsb"])] == ["ycsb-a", "ycsb-b"]
    assert [a.name for a in parse_apps(["ycsb-b", "kv"])] == ["kv", "ycsb-b"]
    with pytest.raises(ValidationError, match="service 'echo' has no Metis column to profile"):
        parse_apps(["echo"])
    with pytest.raises(ValidationError, match="application 'ycsb-a' is named twice"):
        parse_apps(["ycsb", "ycsb-a"])


def _help(*args: str) -> str:
    result = CliRunner().invoke(main.register_commands(args[0]), [*args, "--help"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_testbed_down_help_says_what_stays() -> None:
    text = _help("testbed", "down")
    assert "logs, experiment database and reports stay" in text
    assert "every namespace, link and file" not in text
