"""The deployment files are checked without a cluster or a Docker engine: every Kubernetes
manifest against the Kubernetes schemas, the compose file's structure, every ``galileo_*``
variable against the real settings, and every ``galileo`` command line in them against the CLI
(parsed by the real command, so unknown commands, options and choices fail)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from galileo.cli.main import register_commands
from galileo.settings import LABEL_PREFIX, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSIONS = ("1.29.0", "1.37.0")  # the oldest and newest Kubernetes these files target
GALILEO_IMAGES = {"galileo", "galileo-worker"}
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet"}


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in _manifests():
        if doc["kind"] in WORKLOADS:
            for c in doc["spec"]["template"]["spec"]["containers"]:
                yield doc["metadata"]["name"], c


# --------------------------------------------------------------------- Kubernetes
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_valid_kubernetes(version: str) -> None:
    docs = _manifests()
    assert len(docs) >= 12
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert {i["name"] for i in kustomization["images"]} == GALILEO_IMAGES


def test_workloads_have_resources_probes_and_placement() -> None:
    for name, container in _containers():
        resources = container.get("resources", {})
        assert resources.get("requests") and resources.get("limits"), name
        assert "livenessProbe" in container, name
    by_name = {d["metadata"]["name"]: d for d in _manifests() if d["kind"] in WORKLOADS}
    worker = by_name["worker"]
    assert worker["kind"] == "DaemonSet"
    assert worker["spec"]["template"]["spec"]["nodeSelector"] == {
        "node-role.kubernetes.io/client": "true"}
    telemd = by_name["telemd"]
    assert telemd["kind"] == "DaemonSet"
    assert {"operator": "Exists"} in telemd["spec"]["template"]["spec"]["tolerations"]
    for role in ("recorder", "api", "runner"):
        assert by_name[role]["kind"] == "Deployment"


def test_configuration_comes_from_the_configmap_and_secret_only() -> None:
    docs = _manifests()
    defined = {(d["kind"], d["metadata"]["name"]) for d in docs}
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert not [k for k in config["data"] if re.search("password|token", k, re.I)]
    for name, container in _containers():
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert ("ConfigMap", source["configMapRef"]["name"]) in defined, name
            if "secretRef" in source:
                assert ("Secret", source["secretRef"]["name"]) in defined, name
        for var in container.get("env", []):
            assert "value" not in var or not re.search("password|token", var["name"], re.I)


# --------------------------------------------------------------------- compose
_DEFAULT = re.compile(r"^\$\{[A-Z_]+:-([^}]+)\}$")


def _image(service: dict[str, Any]) -> str:
    """A service's image as it runs by default (``${VAR:-default}`` resolved)."""
    image = str(service.get("image", ""))
    m = _DEFAULT.match(image)
    return m.group(1) if m else image


def _fully_qualified(image: str) -> bool:
    """``host/name:tag`` with a registry host (a dot, a port or ``localhost``) and a tag."""
    host, _, rest = image.partition("/")
    return bool(rest) and ("." in host or ":" in host or host == "localhost") \
        and ":" in rest.rsplit("/", 1)[-1]


def test_compose_has_every_role_and_scalable_workers() -> None:
    services = _compose()["services"]
    assert {"redis", "mariadb", "recorder", "api", "runner", "worker", "telemd"} <= set(services)
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    assert worker["build"]["target"] == "worker"
    for name, service in services.items():
        assert "healthcheck" in service, name
        for key in service.get("environment", {}):
            assert not re.search("password|token", key, re.I), f"{name}: {key} inline"
        assert not service.get("labels"), name
        for env_file in service.get("env_file", []):
            m = re.match(r"^\$\{GALILEO_ENV_FILE:-([^}]+)\}$", env_file)
            assert m, f"{name}: env_file {env_file} cannot be chosen by GALILEO_ENV_FILE"
            assert (DEPLOY / f"{m.group(1)}.example").exists(), env_file


def test_compose_images_are_fully_qualified_and_nothing_is_published() -> None:
    """podman refuses short names without a registry alias, and a port published on the host
    also captures the host's own loopback traffic to it: neither is in the compose file."""
    services = _compose()["services"]
    for name, service in services.items():
        assert _fully_qualified(_image(service)), f"{name}: {_image(service)}"
        assert "ports" not in service, f"{name} publishes {service['ports']}"
    assert _image(services["worker"]) == "localhost/galileo-worker:latest"
    assert _image(services["api"]) == "localhost/galileo:latest"
    publish = yaml.safe_load((DEPLOY / "compose.publish.yml").read_text())
    (port,) = publish["services"]["api"]["ports"]
    assert port.startswith("${GALILEO_API_PUBLISH:?"), port  # no default: an address is chosen


def test_compose_builds_targets_that_exist() -> None:
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", (DEPLOY / "Dockerfile").read_text(), re.M))
    for name, service in _compose()["services"].items():
        if "build" in service:
            assert service["build"]["target"] in stages, name
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"


# --------------------------------------------------------------------- Dockerfile
def _stages() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text()
    parts = re.split(r"^FROM ", text, flags=re.M)[1:]
    return {re.match(r"\S+ AS (\S+)", p).group(1): p for p in parts}  # type: ignore[union-attr]


def test_dockerfile_copies_venvs_runs_non_root_and_mounts_nothing_between_stages() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = _stages()
    assert set(stages) == {"build", "venv-worker", "venv-full", "runtime", "worker", "full"}
    # podman's layer cache serves stale code through bind mounts between stages
    assert "type=bind" not in text and "from=" not in text.replace("COPY --from=", "")
    assert re.search(r"^ARG BASE=docker\.io/library/python:3\.11-slim", text, re.M)
    for target, venv in (("worker", "venv-worker"), ("full", "venv-full")):
        body = stages[target]
        assert f"COPY --from={venv} /opt/galileo /opt/galileo" in body, target
        assert re.search(r"^USER galileo$", body, re.M), target
        assert "HEALTHCHECK" in body, target
        assert "RUN" not in body and "pip" not in body, target  # nothing is installed here
    assert 'galileo-pip-install deps ""' in stages["venv-worker"]  # the worker: no extras
    assert 'galileo-pip-install deps "[all]"' in stages["venv-full"]
    for venv in ("venv-worker", "venv-full"):  # secrets mounted for pip, never copied
        for line in re.findall(r"^RUN .*galileo-pip-install.*$", stages[venv], re.M):
            assert "--mount=type=secret,id=ca" in line and "--mount=type=secret,id=pipconf" in line
    assert "secret" not in stages["runtime"] + stages["worker"] + stages["full"]
    ignore = (DEPLOY.parent / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!src/"]
    assert {"!deploy/constraints.txt", "!deploy/pip-install.sh"} <= set(ignore)


def test_every_pip_install_in_the_build_uses_the_constraints() -> None:
    script = (DEPLOY / "pip-install.sh").read_text()
    installs = re.findall(r'"\$pip" install [^\n]+', script)
    assert len(installs) == 2
    deps, own = installs
    assert "-c /constraints.txt" in deps
    assert "--no-deps" in own  # galileo itself: nothing resolved beyond the pins


def _requirement_names() -> set[str]:
    """Every distribution the images may install: the lean set and every extra but the test
    tools (``dev``), the benchmark anchors (``bench``) and the balancer's compiler (``native``:
    mypy, for ``galileo lb build`` on a host with a C compiler), which no image carries."""
    import tomllib

    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for name, extra in project["optional-dependencies"].items():
        if name not in ("dev", "bench", "native"):
            reqs += extra
    names = set()
    for req in reqs:
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0)  # type: ignore[union-attr]
        if name.lower() != "galileo":
            names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_constraints_pin_every_dependency_exactly() -> None:
    lines = [ln for ln in (DEPLOY / "constraints.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    pins = dict(ln.split("==") for ln in lines)
    assert all(re.fullmatch(r"[a-z0-9-]+", n) and re.fullmatch(r"[0-9][0-9a-z.+]*", v)
               for n, v in pins.items()), lines
    assert len(pins) == len(lines)  # no name twice
    assert "galileo" not in pins
    missing = _requirement_names() - set(pins)
    assert not missing, f"deploy/constraints.txt lacks {sorted(missing)}: run deploy/lock.sh"


# --------------------------------------------------------------------- variables and commands
def _deploy_texts() -> dict[str, str]:
    files = [DEPLOY / "Dockerfile", DEPLOY / "docker-compose.yml", DEPLOY / "galileo.env.example",
             *K8S.glob("*.yaml")]
    return {str(p.relative_to(DEPLOY)): p.read_text() for p in files}


def test_every_galileo_variable_is_a_real_setting() -> None:
    fields = {f"galileo_{name}" for name in Settings.model_fields}
    seen = 0
    for name, text in _deploy_texts().items():
        for var in re.findall(r"\bgalileo_[a-z0-9_]+", text):
            if var.startswith(LABEL_PREFIX) and len(var) > len(LABEL_PREFIX):
                continue
            assert var in fields, f"{name}: {var} is not a Galileo setting"
            seen += 1
    assert seen >= 20


def _command_lines() -> Iterator[tuple[str, list[str]]]:
    """Every argument list handed to the ``galileo`` entry point in the deploy files."""
    for name, container in _containers():
        if container["image"] in GALILEO_IMAGES:  # before kustomize sets localhost/…
            yield f"k8s {name}", list(container["args"])
        for probe in ("readinessProbe", "livenessProbe"):
            command = container.get(probe, {}).get("exec", {}).get("command", [])
            if command[:1] == ["galileo"]:
                yield f"k8s {name} {probe}", command[1:]
    for name, service in _compose()["services"].items():
        if _image(service).split(":")[0].removeprefix("localhost/") in GALILEO_IMAGES:
            yield f"compose {name}", list(service["command"])
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "galileo"]:
            yield f"compose {name} healthcheck", test[2:]
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    role = re.search(r"^ENV HEALTH_ROLE=(\S+)", dockerfile, re.M)
    for line in re.findall(r"^(?:CMD|\s*CMD) (.+)$", dockerfile, re.M):
        argv = yaml.safe_load(line) if line.startswith("[") else shlex.split(line)
        if argv[:1] == ["galileo"]:
            argv = argv[1:]
        yield "Dockerfile", [role.group(1) if a == "$HEALTH_ROLE" and role else a for a in argv]


def test_every_command_in_the_deploy_files_exists() -> None:
    root = typer.main.get_command(register_commands())
    seen = 0
    for where, argv in _command_lines():
        if argv == ["--help"]:
            continue
        command: Any = root
        args = list(argv)
        # typer vendors its own click: walk groups by their ``commands`` table, not by type
        while hasattr(command, "commands") and args and not args[0].startswith("-"):
            sub = command.commands.get(args[0])
            assert sub is not None, f"{where}: galileo {' '.join(argv)}: no command {args[0]!r}"
            command, args = sub, args[1:]
        assert not hasattr(command, "commands"), f"{where}: {argv} names no command"
        command.make_context("galileo", args)  # raises on unknown options and bad values
        seen += 1
    assert seen >= 25
