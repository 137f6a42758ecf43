"""What the README, docs and examples say matches the code (issue 13): every generator they
name exists, and the example scenario's description promises nothing the scenario lacks."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATOR = re.compile(r"(galileo\.apps(?:\.workloads)?\.generators):([A-Za-z_]\w*)")


def test_every_named_generator_exists() -> None:
    named = {(path.name, m.group(1), m.group(2)) for path in DOCS
             for m in GENERATOR.finditer(path.read_text())}
    assert named, "the docs name no generator any more: update this test"
    missing = [f"{doc}: {mod}:{attr}" for doc, mod, attr in sorted(named)
               if not callable(getattr(importlib.import_module(mod), attr, None))]
    assert not missing, "docs name generators that do not exist: " + "; ".join(missing)


def test_example_scenario_description_matches_its_content() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        scenario = yaml.safe_load(path.read_text())
        text = str(scenario.get("description", "")).lower()
        assert text, f"{path.name} has no description"
        if "routing" in text or "move traffic" in text or "traffic" in text:
            assert scenario.get("routing_changes"), (
                f"{path.name}: the description mentions a routing change it does not contain")


def test_docs_index_is_the_readme() -> None:
    """The site's home page is the README with its links relative to ``docs/``."""
    readme = (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "index.md").read_text() == readme.replace("](docs/", "]("), (
        "docs/index.md differs from README.md: regenerate it with "
        "python -c \"p=open('README.md').read().replace('](docs/', ']('); "
        "open('docs/index.md','w').write(p)\"")


VARIABLE = re.compile(r"`(galileo_[a-z0-9_<>]+|_[a-z0-9_]+)`")


def _documented_variables(text: str) -> set[str]:
    """``galileo_*`` names in the first column of the tables; ``_x`` after ``galileo_a_b``
    stands for ``galileo_a_x`` (the last part replaced)."""
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        last = ""
        for m in VARIABLE.finditer(line.split(" | ")[0]):
            name = m.group(1)
            if name.startswith("_"):
                assert last, f"{name} follows no full variable name in: {line}"
                name = last.rsplit("_", name.count("_"))[0] + name
            else:
                last = name
            names.add(name)
    return names


def test_configuration_page_documents_every_setting_and_only_settings() -> None:
    from galileo.settings import (
        ENV_PREFIX,
        LABEL_PREFIX,
        LEGACY_NAMES,
        SEED_LABEL_ALLOW_LIST,
        Settings,
    )

    documented = _documented_variables((ROOT / "docs" / "configuration.md").read_text())
    fields = {ENV_PREFIX + f for f in Settings.model_fields if f != "labels"}
    labels = {LABEL_PREFIX + "<name>"} | {ENV_PREFIX + n for n in SEED_LABEL_ALLOW_LIST}
    labels |= {ENV_PREFIX + old for old in LEGACY_NAMES}  # Galileo 0.x's names, still read
    assert not fields - documented, f"settings missing in docs/configuration.md: " \
                                    f"{sorted(fields - documented)}"
    assert not documented - fields - labels, f"docs/configuration.md names variables that are " \
                                             f"no setting: {sorted(documented - fields - labels)}"


def _cli_tree() -> dict[str, set[str]]:
    import click
    import typer

    from galileo.cli.main import app

    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    return {name: set(cmd.commands) if isinstance(cmd, click.Group) else set()
            for name, cmd in root.commands.items() if not cmd.hidden}


def test_cli_page_names_every_command_and_only_real_ones() -> None:
    tree = _cli_tree()
    named: dict[str, set[str]] = {}
    for line in (ROOT / "docs" / "cli.md").read_text().splitlines():
        if line.startswith("| `galileo "):
            for usage in re.findall(r"`galileo ([^`]+)`", line.split(" | ")[0].replace("\\|", "|")):
                command, *rest = usage.split()
                subs = named.setdefault(command, set())
                if rest and tree.get(command) and not rest[0].startswith("-"):
                    subs.update(s for s in rest[0].split("|") if s.isidentifier()
                                or s.replace("-", "_").isidentifier())
    assert not set(tree) - set(named), f"commands missing in docs/cli.md: " \
                                       f"{sorted(set(tree) - set(named))}"
    assert not set(named) - set(tree), f"docs/cli.md names no such command: " \
                                       f"{sorted(set(named) - set(tree))}"
    wrong = sorted(f"{c} {s}" for c, subs in named.items() for s in subs - tree[c])
    assert not wrong, f"docs/cli.md names no such subcommand: {wrong}"


def test_nothing_points_outside_the_repository() -> None:
    """The repository stands on its own: no path to a sibling directory or this machine."""
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml", ROOT / "mkdocs.yml"]
    for folder, pattern in (("src", "*.py"), ("benchmarks", "*.py"), ("scripts", "*.py"),
                            ("docs", "*.md"), ("examples", "*")):
        files += sorted((ROOT / folder).rglob(pattern))
    outside = [f"{path.relative_to(ROOT)}: {needle}" for path in files if path.is_file()
               for needle in ("../shared", "/work/") if needle in path.read_text(errors="ignore")]
    assert not outside, "paths outside the repository: " + "; ".join(outside)
