"""MkDocs hook (``hooks:`` in ``mkdocs.yml``): a link from a page to a repository file outside
``docs/`` (``[balancing.py](../src/galileo/balancing.py)``) works on GitHub but has no page on the
site. When the file exists the link becomes its path in code; when it does not, the link is left
as it is, so the strict build reports it like any other broken link."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

LINK = re.compile(r"\[([^\]\n]+)\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    root = Path(os.path.normpath(config["docs_dir"])).parent
    here = Path(page.file.abs_src_path).parent

    def replace(m: re.Match[str]) -> str:
        target = Path(os.path.normpath(here / m.group(2)))
        if not target.exists() or root not in target.parents:
            return m.group(0)
        path = target.relative_to(root).as_posix()
        text = m.group(1).strip("`")
        return f"`{path}`" if text in (path, target.name) else f"{m.group(1)} (`{path}`)"

    return LINK.sub(replace, markdown)
