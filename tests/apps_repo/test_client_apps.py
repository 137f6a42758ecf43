"""The client-app repository (issue 13): uploads validated without running them, the REST
routes and ``galileo apps`` against a real API with a token, and a worker's cache that checks
the hash before loading."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from appkit import TOKEN, hello_app, make_zip

from galileo.client_apps import inspect_app
from galileo.errors import NotFoundError, ValidationError
from galileo.settings import Settings
from galileo.worker.apps import AppRepositoryClient, ClientAppCache


@pytest.mark.parametrize(("files", "message"), [
    ({"generator.py": "def next_request(): pass"}, "the zip has no manifest.yml"),
    ({"manifest.yml": "name: a", "other.py": ""}, "the zip has no generator.py"),
    ({"manifest.yml": "version: 1", "generator.py": "def next_request(): pass"},
     "manifest.yml must be a mapping with a 'name'"),
    ({"manifest.yml": "name: [a", "generator.py": "def next_request(): pass"},
     "manifest.yml is not valid YAML"),
    ({"manifest.yml": "name: a", "generator.py": "def nxt(): pass\n"},
     "generator.py defines no module-level next_request()"),
    ({"manifest.yml": "name: a", "generator.py": "def next_request(:\n"},
     "generator.py is not valid Python (line 1)"),
    ({"manifest.yml": "name: a", "generator.py": "def next_request(): pass",
      "../evil.py": ""}, "unsafe path '../evil.py'"),
    ({"manifest.yml": "name: 'a b/c'", "generator.py": "def next_request(): pass"},
     "manifest.yml: "),
])
def test_uploads_are_validated_without_running_them(files: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        inspect_app(make_zip(files))


def test_limits_and_layouts() -> None:
    with pytest.raises(ValidationError, match="not a zip archive"):
        inspect_app(b"PK not really")
    with pytest.raises(ValidationError, match="more than the limit of 100 bytes"):
        inspect_app(make_zip(hello_app()), max_bytes=100)
    nested = make_zip({f"hello/{k}": v for k, v in hello_app().items()})  # a zipped folder
    manifest, sha = inspect_app(nested)
    assert manifest == {"name": "hello", "version": 1}
    assert sha == hashlib.sha256(nested).hexdigest()
    # never executed: a generator that would raise at import still passes validation
    inspect_app(make_zip({"manifest.yml": "name: boom",
                          "generator.py": "raise SystemExit(1)\ndef next_request(): pass\n"}))


def _cli(settings: Settings, url: str, *args: str, token: str = TOKEN
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("galileo_")}
    env.update({"galileo_apps_repository": url, "galileo_api_token": token,
                "galileo_data_dir": str(settings.data_dir), "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "galileo", "apps", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_and_rest_round_trip(settings: Settings, api_url: str, app_folder: Path) -> None:
    deployed = _cli(settings, api_url, "deploy", "--path", str(app_folder))
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed client app hello" in deployed.stdout
    listed = json.loads(_cli(settings, api_url, "ls", "--json").stdout)
    assert [(a["name"], a["manifest"]) for a in listed] == [("hello", {"name": "hello",
                                                                      "version": 1})]
    request = urllib.request.Request(f"{api_url}/api/apps/hello/download",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request) as reply:
        content = reply.read()
        assert reply.headers["X-Galileo-App-Sha256"] == listed[0]["sha256"]
    assert hashlib.sha256(content).hexdigest() == listed[0]["sha256"]
    assert len(content) == listed[0]["size"]

    refused = _cli(settings, api_url, "rm", "hello", token="wrong")
    assert refused.returncode == 2 and "missing or wrong bearer token" in refused.stderr
    bad = _cli(settings, api_url, "deploy", "--path", str(app_folder / "generator.py"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("error: client-app repository: client app: the upload is "
                                  "not a zip archive")
    assert _cli(settings, api_url, "rm", "hello").returncode == 0
    gone = _cli(settings, api_url, "show", "hello")
    assert gone.returncode == 2 and gone.stderr.strip() == "error: no client app named 'hello'"
    down = _cli(settings, "http://127.0.0.1:1", "ls")
    assert down.returncode == 3
    assert "cannot reach the client-app repository at http://127.0.0.1:1" in down.stderr


def test_worker_cache_fetches_checks_and_loads(api_url: str, tmp_path: Path) -> None:
    client = AppRepositoryClient(api_url, TOKEN)
    client.upload(make_zip(hello_app()))
    cache = ClientAppCache(client, tmp_path / "apps")
    gen = cache.factory("hello")(size=5)
    assert gen.next_request() == {"method": "POST", "path": "/echo?n=0", "body": b"xxxxx",
                                  "headers": {"X-App": "hello"}}
    sha = client.info("hello")["sha256"]
    assert (tmp_path / "apps" / "hello" / sha / "generator.py").is_file()

    class Offline(AppRepositoryClient):  # a cached app is not downloaded again
        def download(self, name: str) -> tuple[bytes, str]:
            raise AssertionError("downloaded again")

    ClientAppCache(Offline(api_url, TOKEN), tmp_path / "apps").factory("hello")()

    class Tampered(AppRepositoryClient):  # bytes changed on the way
        def download(self, name: str) -> tuple[bytes, str]:
            data, sha = super().download(name)
            return data[:-1] + bytes([data[-1] ^ 1]), sha

    with pytest.raises(ValidationError, match="is not the repository's"):
        ClientAppCache(Tampered(api_url, TOKEN), tmp_path / "other").factory("hello")
    assert not (tmp_path / "other" / "hello" / sha).exists()
    with pytest.raises(ValidationError, match=r"takes no parameters|bad parameters"):
        cache.factory("hello")(nope=1)
    with pytest.raises(NotFoundError, match="no client app named 'missing'"):
        cache.factory("missing")
