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
            assert (DEPLOY / f"{env_file}.example").exists(), env_file


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


def test_dockerfile_is_multistage_non_root_and_lean() -> None:
    stages = _stages()
    assert set(stages) == {"build", "runtime", "worker", "full"}
    assert "build-essential" in stages["build"]
    for final in ("worker", "full"):
        body = stages[final]
        assert re.search(r"^USER galileo$", body, re.M), final
        assert "HEALTHCHECK" in body, final
        assert "apt-get" not in body and "build-essential" not in body, final
        assert "--no-index" in body, final  # installs only the wheels built in `build`
    lean = "pip install --no-cache-dir --no-index --find-links /wheels galileo\n"
    assert lean in stages["worker"]  # the worker image has no extras
    ignore = (DEPLOY.parent / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!src/"]


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
        if container["image"] in GALILEO_IMAGES:
            yield f"k8s {name}", list(container["args"])
        for probe in ("readinessProbe", "livenessProbe"):
            command = container.get(probe, {}).get("exec", {}).get("command", [])
            if command[:1] == ["galileo"]:
                yield f"k8s {name} {probe}", command[1:]
    for name, service in _compose()["services"].items():
        if str(service.get("image", "")).split(":")[0] in GALILEO_IMAGES:
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
