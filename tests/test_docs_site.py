"""The documentation site builds with ``mkdocs build --strict``: a broken link, a link to a
missing heading or a nav entry to a missing page fails it; a page not (yet) in the nav does not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site), "--config-file", str(project / "mkdocs.yml")],
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = _build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "configuration.html").is_file()


def test_a_broken_link_fails_and_a_page_outside_the_nav_does_not(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    (tmp_path / "src").symlink_to(ROOT / "src")  # the pages' links to source files
    (tmp_path / "docs" / "not-in-nav.md").write_text("# A new page\n\nSee [the CLI](cli.md).\n")
    assert _build(tmp_path, tmp_path / "site").returncode == 0

    (tmp_path / "docs" / "not-in-nav.md").write_text(
        "# A new page\n\n[gone](no-such-page.md) and [no heading](cli.md#no-such-heading)\n")
    result = _build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr
    assert "no-such-heading" in result.stderr
