"""Image instances run with podman (skipped where podman or the test image is absent): limits
passed to the container, a missing image fails once with podman's reason, the host's image
prefixes decide what may run. podman 4.3 here needs runc, cgroupfs, a file events logger and
capped ulimits: configured in a containers.conf of the test's own (CONTAINERS_CONF)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from svchelpers import AgentStarter, wait_until

from galileo.control.galileo import Galileo
from galileo.errors import ValidationError
from galileo.protocol import EventField, decode_event
from galileo.services.reconciler import Reconciler

IMAGE = "localhost/galileo-redis:7"  # built by the images work (deploy/); redis-server inside
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


@pytest.fixture
def podman_env(tmp_path: Path) -> dict[str, str]:
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman is not installed (.ci/packages.txt installs it)")
    conf = tmp_path / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    env = {"CONTAINERS_CONF": str(conf)}
    found = subprocess.run([podman, "image", "exists", IMAGE], env={**env, "PATH": "/usr/bin:/bin"},
                           capture_output=True, check=False)
    if found.returncode != 0:
        pytest.skip(f"the test image {IMAGE} is not built on this machine")
    return env


def test_an_image_instance_runs_with_its_limits_and_a_missing_image_fails_once(
        g: Galileo, start_agent: AgentStarter, reconciler: Reconciler,
        podman_env: dict[str, str]) -> None:
    start_agent("n1", "--allow-image", "localhost/galileo-", env=podman_env)
    with pytest.raises(ValidationError, match=r"no node allows image 'docker\.io/library/x'"):
        g.services.run("other", image="docker.io/library/x")
    g.services.run("cache", image=IMAGE, args=["redis-server", "--port", "{port}"], cpus=0.5,
                   memory="128M", health="")
    [endpoint] = g.services.wait("cache", 60)
    host, _, port = endpoint.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(16).startswith(b"+PONG")
    [inst] = g.services.instances("cache")
    inspect = subprocess.run(["podman", "inspect", f"galileo-{inst.id}"], env={
        **podman_env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    host_config = json.loads(inspect.stdout)[0]["HostConfig"]
    assert host_config["NanoCpus"] == 500_000_000 and host_config["Memory"] == 128 << 20
    g.services.remove("cache")
    wait_until(lambda: not g.services.instances("cache"), 20, "the instance stopped")
    gone = subprocess.run(["podman", "container", "exists", f"galileo-{inst.id}"], env={
        **podman_env, "PATH": "/usr/bin:/bin"}, capture_output=True, check=False)
    assert gone.returncode == 1, "the container was removed with the instance"

    g.services.run("ghost", image="localhost/galileo-does-not-exist:1", health="")
    def failures() -> list[dict[str, object]]:  # the report goes once it is retired: events
        out = []
        for _id, fields in g.redis.xrange(g.keys.events):
            event = decode_event(fields[EventField])
            if event.kind == "instance_state" and event.data.get("state") == "failed":
                out.append(event.data)
        return out

    wait_until(failures, 60, "the missing image to fail")
    failed = failures()[0]
    assert "exited 4 times" in str(failed["reason"]) and failed["exit_code"] not in (None, 0)
    assert "image not known" in " ".join(failed["log_tail"])  # type: ignore[arg-type]
    g.services.remove("ghost")
