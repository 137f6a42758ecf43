"""Users never meet "seed" meaning the older project (it is "Galileo 0.x"): not in a message, a
log line, help text, the gRPC definition or an example. The random-number seed of the scheduling
lab, the profiler and the workload generators is another word and stays."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "galileo"
WORD = re.compile(r"\bseed", re.IGNORECASE)
# the random-number seed: "with this seed", "Seed for …", "seeded", a parameter named seed
RNG = re.compile(r"^seeds?$|\bseeds? (for|must)\b|\bthis seed\b|\bseeded\b|\bfixed seed\b",
                 re.IGNORECASE)
# directories whose functions' docstrings are shown to users (--help, OpenAPI descriptions)
USER_DOCSTRINGS = ("cli", "web")


def _doc_constants(tree: ast.AST) -> set[int]:
    """Ids of the bare string statements (docstrings, attribute docs): developer text."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}


def user_strings(path: Path) -> Iterator[tuple[int, str]]:
    """String literals of ``path`` a user can read (docstrings only in cli/ and web/)."""
    tree = ast.parse(path.read_text())
    docs = set() if path.relative_to(SRC).parts[0] in USER_DOCSTRINGS else _doc_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def offending(text: str) -> bool:
    return bool(WORD.search(RNG.sub("", text)))


def test_the_rule_tells_the_two_meanings_apart() -> None:
    assert offending("malformed seed entry: no instructions")
    assert offending("seed telemetry topics not bridged")
    assert offending("# An example instruction script (the seed's language)")
    assert not offending("Use the seeded synthetic interference model with this seed.")
    assert not offending("Seed for the learning schedulers.")
    assert not offending("seed")


def test_no_user_facing_seed_in_src_and_examples() -> None:
    found = [f"{p.relative_to(ROOT)}:{line}: {text[:80]!r}"
             for p in sorted(SRC.rglob("*.py")) for line, text in user_strings(p)
             if offending(text)]
    for path in [*sorted((ROOT / "examples").iterdir()), *sorted(SRC.rglob("*.proto"))]:
        if path.is_file():
            found += [f"{path.relative_to(ROOT)}:{n}: {line[:80]!r}"
                      for n, line in enumerate(path.read_text().splitlines(), 1)
                      if offending(line)]
    assert not found, "\n".join(found)
