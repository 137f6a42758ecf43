"""The compiled balancer (``galileo lb build``: the hot path through mypyc): built once per
source, used by ``galileo lb serve`` in every process, never when the source has changed since,
refused cleanly when required but missing; and the proxy's own tests pass on it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.lb.http import backend_of

from galileo.lb import native
from galileo.localenv import stop_children

ROOT = Path(__file__).resolve().parents[2]
# the tests of proxy behaviour that run in this process (heads, framing, bad input, policies,
# routing changes, retries): run again on the compiled modules
PROXY_TESTS = ["tests/lb/test_lb_proxy.py", "tests/lb/test_lb_heads.py",
               "tests/lb/test_lb_bad_input.py", "tests/lb/test_lb_policies.py",
               "tests/lb/test_lb_routing.py"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding a build for this source, made by the CLI as users make it."""
    data = tmp_path_factory.mktemp("native-data")
    done = subprocess.run([sys.executable, "-m", "galileo", "lb", "build"],
                          env={**os.environ, "galileo_data_dir": str(data)},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "compiled balancer built in" in done.stdout
    return data


def _serve(settings, data_dir: Path, mode: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "galileo_redis_url": str(settings.redis_url),
           "galileo_namespace": settings.namespace, "galileo_log_level": "WARNING",
           "galileo_data_dir": str(data_dir), "galileo_lb_native": mode}
    return subprocess.Popen([sys.executable, "-m", "galileo", "lb", "serve", "--port", "0",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


@pytest.fixture
def serving(settings) -> Iterator:
    procs: list[subprocess.Popen[str]] = []

    def start(data_dir: Path, mode: str, *args: str) -> subprocess.Popen[str]:
        procs.append(_serve(settings, data_dir, mode, *args))
        return procs[-1]

    yield start
    stop_children(procs, timeout_s=5)  # type: ignore[arg-type]  (SIGTERM, then SIGKILL)
    for proc in procs:
        if proc.stderr is not None:
            proc.stderr.close()


def test_every_process_serves_compiled(built, serving, backends, routing):
    assert subprocess.run([sys.executable, "-m", "galileo", "lb", "build", "--check"],
                          env={**os.environ, "galileo_data_dir": str(built)},
                          capture_output=True).returncode == 0
    a = backends("a")
    routing.set("svc", [a.address])
    # require: a process that could not use the build would exit, and so would the parent
    proc = serving(built, "require", "--processes", "2")
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+) \(2 processes, .*, compiled with mypyc\)", line)
    assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
    assert {backend_of(int(match.group(1))) for _ in range(20)} == {"a"}


def test_off_and_a_missing_build(built, serving, tmp_path):
    proc = serving(built, "off")
    assert proc.stdout.readline().rstrip().endswith(", pure Python)")
    # auto without a build for this source: pure Python, and it says why
    proc = serving(tmp_path, "auto")
    assert proc.stdout.readline().rstrip().endswith(", pure Python)")
    # require without one: one line saying what to do, no traceback, a non-zero exit
    proc = serving(tmp_path, "require")
    assert proc.wait(timeout=30) != 0
    err = proc.stderr.read()
    assert "galileo_lb_native=require" in err and "galileo lb build" in err, err
    assert "Traceback" not in err


def test_a_damaged_build_is_not_used(built, serving, tmp_path):
    build = native.build_dir(built)
    copy = tmp_path / "lb-native" / build.name
    shutil.copytree(build, copy)
    compiled = copy / "galileo" / "lb" / next(p.name for p in (build / "galileo" / "lb").iterdir()
                                              if p.name.startswith("exchange."))
    compiled.write_bytes(b"\x7fELF damaged")  # an extension the loader rejects
    proc = serving(tmp_path, "auto")
    line = proc.stdout.readline()
    assert line.rstrip().endswith(", pure Python)"), line + proc.stderr.read()
    proc = serving(tmp_path, "require")
    assert proc.wait(timeout=30) != 0
    err = proc.stderr.read()
    assert "galileo_lb_native=require" in err and "does not load" in err, err
    assert "Traceback" not in err


def test_a_build_for_other_source_is_never_used(tmp_path, monkeypatch):
    package = Path(native.__file__).parents[1]
    copy = tmp_path / "galileo"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    here = native.digest()
    monkeypatch.setattr(native, "_source_dir", lambda: copy / "lb")
    assert native.digest() == here  # the same source, the same build
    (copy / "lb" / "exchange.py").write_text((package / "lb" / "exchange.py").read_text()
                                            + "\n# edited\n")
    edited = native.digest()
    assert edited != here  # a compiled module edited: the old build no longer matches
    shutil.copy(package / "lb" / "exchange.py", copy / "lb" / "exchange.py")
    assert native.digest() == here
    (copy / "protocol" / "__init__.py").write_text("# edited\n")
    assert native.digest() not in (here, edited)  # so does a module they import
    assert native.build_dir(tmp_path).name == native.digest()
    assert native.status(tmp_path)[0] is False


def test_proxy_tests_pass_on_the_compiled_modules(built):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *PROXY_TESTS],
        cwd=ROOT, env={**os.environ, "GALILEO_TEST_LB_NATIVE_DATA_DIR": str(built)},
        capture_output=True, text=True, timeout=900)
    tail = (done.stdout + done.stderr)[-3000:]
    assert done.returncode == 0, tail
    assert re.search(r"\d+ passed", done.stdout) and " failed" not in done.stdout, tail
