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
