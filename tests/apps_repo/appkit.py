"""Client-app test helpers (a module with a unique name: every test directory has a conftest)."""

from __future__ import annotations

import io
import zipfile

TOKEN = "s3cret-token"

GENERATOR = """\
import itertools

_counter = itertools.count()
_size = 3


def configure(size=3):
    global _size
    _size = size


def next_request():
    n = next(_counter)
    return "post", "/echo", {"data": "x" * _size, "params": {"n": n},
                             "headers": {"X-App": "hello"}}
"""


def make_zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def hello_app(name: str = "hello") -> dict[str, str]:
    return {"manifest.yml": f"name: {name}\nversion: 1\n", "generator.py": GENERATOR}
