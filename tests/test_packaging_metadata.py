"""Installing Galileo prints no packaging warning (issue 13): ``project.license`` is an SPDX
string (setuptools deprecates the table form and warns on every install), no ``License ::``
classifier duplicates it, and the Galileo 0.x ``symmetry`` package is shipped."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_and_symmetry_is_packaged() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    license_ = project["project"]["license"]
    assert isinstance(license_, str) and license_ == "Apache-2.0"
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    find = project["tool"]["setuptools"]["packages"]["find"]
    assert find["where"] == ["src"]
    assert "symmetry*" in find.get("include", ["symmetry*"])
