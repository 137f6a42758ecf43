"""The client-app format (Galileo 0.x's): a zip holding ``manifest.yml`` -- a mapping with at
least a ``name`` -- and ``generator.py``, which defines ``next_request()`` at module level
(returning ``(method, path, kwargs)`` or a request dict). Shared by the repository that stores
apps (``galileo.storage.apps``) and the workers that unpack them (``galileo.worker.apps``).

:func:`inspect_app` validates an archive without ever running it: its size, safe member paths,
the manifest, and -- with ``ast`` -- that ``next_request`` is defined. :func:`extract` unpacks
a validated archive.
"""

from __future__ import annotations

import ast
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any, Final

from galileo.errors import ValidationError
from galileo.protocol import check_name

MAX_APP_BYTES: Final = 8 * 1024 * 1024  # the zip as uploaded
MAX_UNPACKED_BYTES: Final = 64 * 1024 * 1024  # all members unpacked (no zip bombs)
MANIFEST: Final = "manifest.yml"
GENERATOR: Final = "generator.py"
ENTRY: Final = "next_request"


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Members by path; one top-level folder holding everything (``myapp/manifest.yml``, as a
    zipped folder gives) is looked through."""
    infos = [i for i in archive.infolist() if not i.is_dir()]
    for info in infos:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts:
            raise ValidationError(f"client app: unsafe path {info.filename!r} in the zip")
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise ValidationError(f"client app: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    names = {i.filename: i for i in infos}
    if MANIFEST not in names:
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            top = tops.pop() + "/"
            return {n[len(top):]: i for n, i in names.items()}
    return names


def inspect_app(data: bytes, max_bytes: int = MAX_APP_BYTES) -> tuple[dict[str, Any], str]:
    """The manifest and SHA-256 of an uploaded app; ``ValidationError`` (one sentence) if it is
    not a valid client app. Nothing in it is executed."""
    if len(data) > max_bytes:
        raise ValidationError(f"client app: {len(data)} bytes is more than the limit of "
                              f"{max_bytes} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValidationError("client app: the upload is not a zip archive") from None
    with archive:
        members = _members(archive)
        for needed in (MANIFEST, GENERATOR):
            if needed not in members:
                raise ValidationError(f"client app: the zip has no {needed} (it holds "
                                      f"{', '.join(sorted(members)) or 'nothing'})")
        manifest = _manifest(archive.read(members[MANIFEST]))
        _check_generator(archive.read(members[GENERATOR]))
    return manifest, hashlib.sha256(data).hexdigest()


def _manifest(raw: bytes) -> dict[str, Any]:
    import yaml

    try:
        manifest = yaml.safe_load(raw.decode())
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValidationError(f"client app: {MANIFEST} is not valid YAML ({e})") from None
    if not isinstance(manifest, dict) or not manifest.get("name"):
        raise ValidationError(f"client app: {MANIFEST} must be a mapping with a 'name'")
    try:
        check_name("client app name", str(manifest["name"]))
    except ValidationError as e:
        raise ValidationError(f"client app: {MANIFEST}: {e}") from None
    manifest["name"] = str(manifest["name"])
    return manifest


def _check_generator(raw: bytes) -> None:
    try:
        tree = ast.parse(raw.decode(), GENERATOR)
    except (UnicodeDecodeError, SyntaxError) as e:
        line = f" (line {e.lineno})" if isinstance(e, SyntaxError) else ""
        raise ValidationError(f"client app: {GENERATOR} is not valid Python{line}") from None
    defined = any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == ENTRY
                  for node in tree.body)
    assigned = any(isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == ENTRY for t in node.targets) for node in tree.body)
    if not (defined or assigned):
        raise ValidationError(f"client app: {GENERATOR} defines no module-level {ENTRY}()")


def extract(data: bytes, dest: Path) -> None:
    """Unpack a validated app into ``dest`` (``manifest.yml`` and ``generator.py`` at its top)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for relative, info in _members(archive).items():
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
