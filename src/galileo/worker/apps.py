"""Client apps on a worker: fetch a missing app from the repository, check its hash, cache it,
load it -- only when the worker's operator allowed apps (``apps`` in
``galileo_worker_generators``; see :mod:`galileo.worker.generators`).

A spawn names an app as the generator ``app:NAME``. The worker asks the repository
(``galileo_apps_repository``, default ``http://localhost:<galileo_api_port>``) for the app's
SHA-256, downloads ``/api/apps/NAME/download`` unless ``<galileo_apps_dir>/NAME/<sha256>/`` is
already there, refuses a download whose hash differs, unpacks it and imports its
``generator.py`` from that folder. A new upload under the same name has a new hash, so a
worker picks it up at the next spawn. :class:`AppRepositoryClient` is also what ``galileo apps``
uses.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from galileo.client_apps import ENTRY, GENERATOR, extract
from galileo.errors import GalileoError, NotFoundError, ValidationError
from galileo.load.requests import GeneratorFactory
from galileo.settings import Settings

APP_PREFIX: Final = "app:"
SHA_HEADER: Final = "X-Galileo-App-Sha256"
TIMEOUT_S: Final = 30.0


class RepositoryError(GalileoError):
    """The client-app repository cannot be reached or answered oddly."""

    exit_code = 3


def repository_url(settings: Settings) -> str:
    return (settings.apps_repository or f"http://localhost:{settings.api_port}").rstrip("/")


def cache_dir(settings: Settings) -> Path:
    return settings.apps_dir if settings.apps_dir is not None else settings.data_dir / "apps"


class AppRepositoryClient:
    """The repository's REST API (``/api/apps``), with the API token when one is set."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> AppRepositoryClient:
        token = settings.api_token.get_secret_value() if settings.api_token else None
        return cls(repository_url(settings), token)

    def _call(self, method: str, path: str, data: bytes | None = None) -> tuple[bytes, Any]:
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/zip")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                return reply.read(), reply.headers
        except urllib.error.HTTPError as e:
            raise _answer_error(e) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RepositoryError(f"cannot reach the client-app repository at {self.url}: "
                                  f"{reason}") from None

    def list(self) -> list[dict[str, Any]]:
        body, _ = self._call("GET", "/api/apps")
        apps: list[dict[str, Any]] = json.loads(body)
        return apps

    def info(self, name: str) -> dict[str, Any]:
        body, _ = self._call("GET", f"/api/apps/{urllib.parse.quote(name, safe='')}")
        info: dict[str, Any] = json.loads(body)
        return info

    def upload(self, data: bytes) -> dict[str, Any]:
        body, _ = self._call("POST", "/api/apps", data)
        info: dict[str, Any] = json.loads(body)
        return info

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/api/apps/{urllib.parse.quote(name, safe='')}")

    def download(self, name: str) -> tuple[bytes, str]:
        """The app's zip and the hash the repository announced for it."""
        body, headers = self._call("GET",
                                   f"/api/apps/{urllib.parse.quote(name, safe='')}/download")
        return body, str(headers.get(SHA_HEADER, ""))


def _answer_error(e: urllib.error.HTTPError) -> GalileoError:
    try:
        detail = json.loads(e.read()).get("detail", "")
    except (ValueError, AttributeError, OSError):
        detail = ""
    message = str(detail) if detail else f"HTTP {e.code} {e.reason}"
    if e.code == 404:
        return NotFoundError(message)
    if e.code in (400, 401, 403, 413, 422):
        return ValidationError(f"client-app repository: {message}")
    return RepositoryError(f"client-app repository: {message}")


class ClientAppCache:
    """Apps fetched from a repository into ``directory`` and imported from there."""

    def __init__(self, client: AppRepositoryClient, directory: Path) -> None:
        self.client = client
        self.directory = directory
        self._lock = threading.Lock()

    def factory(self, name: str) -> GeneratorFactory:
        """A generator factory for the app ``name`` (fetched first when not cached)."""
        with self._lock:
            sha = str(self.client.info(name)["sha256"])
            folder = self.directory / name / sha
            if not (folder / GENERATOR).is_file():
                self._fetch(name, sha, folder)
            module = _import(name, sha, folder)
        return lambda **args: AppGenerator(name, module, args)

    def _fetch(self, name: str, sha: str, folder: Path) -> None:
        data, announced = self.client.download(name)
        got = hashlib.sha256(data).hexdigest()
        if got != sha or (announced and announced != sha):
            raise ValidationError(f"client app {name}: the download's SHA-256 {got[:12]}… is "
                                  f"not the repository's {sha[:12]}…; not loaded")
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=folder.parent))
        try:
            extract(data, staging)
            staging.rename(folder)  # complete or absent, never half-written
        except OSError:
            if not (folder / GENERATOR).is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _import(name: str, sha: str, folder: Path) -> ModuleType:
    module_name = f"galileo_client_app_{name.replace('-', '_').replace('.', '_')}_{sha[:12]}"
    cached = sys.modules.get(module_name)
    if cached is not None:
        return cached
    spec = importlib.util.spec_from_file_location(module_name, folder / GENERATOR)
    if spec is None or spec.loader is None:
        raise ValidationError(f"client app {name}: cannot load {folder / GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))  # the app may import its own helper modules
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise ValidationError(f"client app {name}: {GENERATOR} failed to load: "
                              f"{type(e).__name__}: {e}") from None
    finally:
        sys.path.remove(str(folder))
    if not callable(getattr(module, ENTRY, None)):
        raise ValidationError(f"client app {name}: {GENERATOR} defines no {ENTRY}()")
    sys.modules[module_name] = module
    return module


class AppGenerator:
    """Adapts an app's module-level ``next_request()`` to Galileo's request dicts. Arguments
    (0.x's ``client_parameters``) go to the app's ``configure(**args)`` when it has one."""

    def __init__(self, name: str, module: ModuleType, args: dict[str, Any]) -> None:
        self.name = name
        self._next = getattr(module, ENTRY)
        if args:
            configure = getattr(module, "configure", None)
            if not callable(configure):
                raise ValidationError(f"client app {name} takes no parameters (its "
                                      f"{GENERATOR} has no configure()); got {sorted(args)}")
            try:
                configure(**args)
            except TypeError as e:
                raise ValidationError(f"client app {name}: bad parameters {sorted(args)}: "
                                      f"{e}") from None

    def next_request(self) -> dict[str, Any]:
        return as_request(self._next(), self.name)


def as_request(value: Any, name: str) -> dict[str, Any]:
    """``(method, path, kwargs)`` as 0.x's apps return it (``kwargs`` in requests' style:
    ``headers``, ``params``, ``data``, ``json``) or a request dict, as a request dict."""
    if isinstance(value, dict):
        return value
    if not (isinstance(value, tuple | list) and len(value) in (2, 3)):
        raise ValidationError(f"client app {name}: next_request() must return (method, path, "
                              f"kwargs) or a dict, got {type(value).__name__}")
    method, path = str(value[0]), str(value[1])
    kwargs: dict[str, Any] = dict(value[2]) if len(value) == 3 and value[2] else {}
    if kwargs.get("params"):
        path += ("&" if "?" in path else "?") + urllib.parse.urlencode(kwargs["params"])
    out: dict[str, Any] = {"method": method.upper(), "path": path,
                           "headers": dict(kwargs.get("headers") or {})}
    data = kwargs.get("data")
    if data is not None:
        out["body"] = data.encode() if isinstance(data, str) else bytes(data)
    if kwargs.get("json") is not None:
        out["json"] = kwargs["json"]
    return out
