"""The CLI's command index (fast start: ``galileo worker`` imports only the worker's CLI)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import typer

from galileo.cli import main


def _names(module: str) -> set[str]:
    app = typer.Typer()
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as e:  # an optional part that is not installed registers nothing
        if e.name and module.startswith(e.name):
            return set()
        raise
    imported.register(app)
    names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    for group in app.registered_groups:
        name = group.name or (group.typer_instance.info.name if group.typer_instance else None)
        names.add(str(name))
    return names


def test_index_lists_exactly_what_each_module_registers() -> None:
    for module in main.COMMAND_MODULES:
        indexed = {cmd for cmd, mod in main.COMMAND_INDEX.items() if mod == module}
        registered = _names(module)
        if registered:
            assert indexed == registered, module


def test_worker_help_imports_only_the_worker_cli() -> None:
    code = ("import sys; sys.argv = ['galileo', 'worker', '--help']\n"
            "from galileo.cli import main\n"
            "try:\n    main.run()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('galileo.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1]
    assert "galileo.cli.worker" in loaded
    for heavy in ("galileo.control", "galileo.experiments", "galileo.storage", "galileo.web",
                  "galileo.settings"):
        assert f"'{heavy}" not in loaded, heavy
    assert "--processes" in out.stdout
