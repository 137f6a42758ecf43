"""``make k8s-smoke``: render ``deploy/k8s`` and run what ``podman kube play`` (4.3) supports.

Renders the kustomization with ``deploy/k8s_render.py`` (Debian 12 packages neither kubectl nor
kustomize), then runs Redis, the recorder, the API (with its gRPC container) and one worker as
pods on a podman network of their own, and checks: every pod runs, each role's ``galileo health``
passes, and the API lists the worker. Then ``podman kube down`` and the network is removed.

What ``podman kube play`` 4.3 cannot take is adapted here, each said in the JSON line:
Services do not resolve (only pod names: the bus URL names the Redis pod), a DaemonSet is not
supported (the worker's pod template runs as a Pod), ``fieldRef: spec.nodeName`` is refused (the
worker gets a fixed name), ``envFrom`` a ConfigMap/Secret is inlined as ``env``, probes are left
to this script (no systemd runs them; an ``httpGet`` probe would need curl in the image), container
ports are dropped (kube play 4.3 publishes each on the host, where 6379 is taken), and the
database is SQLite in the recorder's pod (the MariaDB StatefulSet is schema-checked only:
``tests/deploy/test_deploy_files.py`` validates every kind against the Kubernetes schemas).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from k8s_render import render

DEPLOY = Path(__file__).resolve().parent
PLAYED = ("redis", "recorder", "api", "worker")
STANDINS = [{"name": "docker.io/library/redis", "newName": "localhost/galileo-redis",
             "newTag": "7"}]


def engine_env() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f". {DEPLOY}/engine.sh && env -0"], check=True,
                         capture_output=True, text=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def to_pods(docs: list[dict[str, Any]], prefix: str, token: str) -> tuple[list[dict[str, Any]],
                                                                          list[str]]:
    """Pods for the played roles, adapted to podman kube play 4.3; the adaptations made."""
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    secret = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    values = {**config, **secret, "galileo_api_token": token,
              "galileo_redis_url": f"redis://{prefix}-redis:6379/0",
              "galileo_expdb_driver": "sqlite"}
    values = {k: v for k, v in values.items() if not k.startswith("galileo_expdb_mysql")}
    notes = {"Service: not resolved by podman, the bus URL names the redis pod",
             "envFrom ConfigMap/Secret: inlined as env",
             "probes: run by this script (no systemd)",
             "expdb: SQLite in the recorder's and the API's pods (MariaDB StatefulSet "
             "schema-checked only)"}
    pods = []
    for doc in docs:
        name = doc["metadata"]["name"]
        if name not in PLAYED or doc["kind"] not in ("Deployment", "DaemonSet"):
            continue
        if doc["kind"] == "DaemonSet":
            notes.add("DaemonSet: its pod template runs as one Pod")
        spec = doc["spec"]["template"]["spec"]
        spec.pop("nodeSelector", None)
        spec.pop("tolerations", None)
        for c in spec["containers"]:
            c.pop("readinessProbe", None)
            c.pop("livenessProbe", None)
            env = []
            for var in c.get("env", []):
                ref = var.get("valueFrom", {})
                if "fieldRef" in ref:
                    notes.add(f"fieldRef {ref['fieldRef']['fieldPath']}: a fixed value")
                    env.append({"name": var["name"], "value": f"{prefix}-{name}"})
                elif "configMapKeyRef" in ref or "secretKeyRef" in ref:
                    key = (ref.get("configMapKeyRef") or ref["secretKeyRef"])["key"]
                    env.append({"name": var["name"], "value": values[key]})
                else:
                    env.append(var)
            if c.pop("envFrom", None):
                env += [{"name": k, "value": v} for k, v in values.items()
                        if k.startswith("galileo_")]
            have = {v["name"] for v in env}
            env += [{"name": k, "value": values[k]} for k in ("galileo_redis_url",)
                    if k not in have]
            c["env"] = env
            if c.pop("ports", None):  # kube play 4.3 publishes every containerPort on the host
                notes.add("ports: dropped (podman 4.3 publishes containerPorts on the host)")
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"{prefix}-{name}",
                                  "labels": doc["spec"]["template"]["metadata"]["labels"]},
                     "spec": spec})
    return pods, sorted(notes)


def main() -> int:
    env = {**os.environ, **engine_env()}
    engine = env["ENGINE"]
    prefix = f"gk8s{os.getpid()}"
    token = secrets.token_hex(12)
    docs = render(DEPLOY / "k8s", STANDINS)
    pods, notes = to_pods(docs, prefix, token)
    kinds = sorted({d["kind"] for d in docs})
    summary: dict[str, Any] = {"bench": "k8s-smoke", "ok": False, "rendered": len(docs),
                               "kinds": kinds, "played": [p["metadata"]["name"] for p in pods],
                               "adapted": notes,
                               "schema_checked_only": sorted(
                                   {d["kind"] for d in docs} - {"Deployment", "ConfigMap",
                                                                 "Secret"} | {"DaemonSet"})}
    t0 = time.monotonic()

    def podman(*argv: str, check: bool = True) -> str:
        proc = subprocess.run([engine, *argv], env=env, capture_output=True, text=True,
                              timeout=300)
        if check and proc.returncode:
            raise RuntimeError(f"{engine} {' '.join(argv[:3])}: {proc.stderr.strip()[-300:]}")
        return proc.stdout

    with tempfile.TemporaryDirectory() as tmp:
        played = Path(tmp) / "pods.yaml"
        played.write_text(yaml.safe_dump_all(pods, sort_keys=False))
        try:
            podman("network", "create", prefix)
            podman("kube", "play", "--network", prefix, str(played))
            deadline = time.monotonic() + 120
            checks = {"recorder": ["recorder"], "worker": ["worker"],
                      "api": ["api", "--port", "5001"]}
            pending = dict(checks)
            while pending and time.monotonic() < deadline:
                for role, args in list(pending.items()):
                    proc = subprocess.run([engine, "exec", f"{prefix}-{role}-{role}", "galileo",
                                           "health", *args], env=env, capture_output=True)
                    if proc.returncode == 0:
                        del pending[role]
                time.sleep(1)
            summary["unhealthy"] = sorted(pending)
            workers = podman("exec", f"{prefix}-api-api", "galileo", "workers")
            summary["worker_listed"] = f"{prefix}-worker" in workers
            summary["ok"] = not pending and summary["worker_listed"]
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            summary["error"] = str(e)
        finally:
            podman("kube", "down", str(played), check=False)
            podman("network", "rm", "-f", prefix, check=False)
            left = podman("pod", "ps", "--format", "{{.Name}}", check=False).split()
            summary["left_over"] = [p for p in left if p.startswith(prefix)]
    summary["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(summary, sort_keys=True))
    return 0 if summary["ok"] and not summary["left_over"] else 1


if __name__ == "__main__":
    sys.exit(main())
