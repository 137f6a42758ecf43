"""deploy/k8s_render.py renders the kustomization as ``kustomize build`` would (namespace, labels,
images), every rendered object is valid Kubernetes, and fields it cannot render are refused."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_spec = importlib.util.spec_from_file_location("k8s_render", DEPLOY / "k8s_render.py")
assert _spec and _spec.loader
k8s_render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(k8s_render)


def _images(docs: list[dict]) -> dict[str, str]:
    out = {}
    for d in docs:
        tpl = d.get("spec", {}).get("template")
        for c in tpl["spec"]["containers"] if tpl else []:
            out[f"{d['metadata']['name']}/{c['name']}"] = c["image"]
    return out


def test_render_sets_namespace_labels_and_fully_qualified_images() -> None:
    docs = k8s_render.render(DEPLOY / "k8s")
    sources = [d for p in sorted((DEPLOY / "k8s").glob("*.yaml")) if p.name != "kustomization.yaml"
               for d in yaml.safe_load_all(p.read_text()) if d]
    assert len(docs) == len(sources)
    for d in docs:
        kubernetes_validate.validate(d, "1.37.0", strict=True)
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "galileo"
        assert d["metadata"].get("namespace") == (None if d["kind"] == "Namespace" else "galileo")
    images = _images(docs)
    assert images["worker/worker"] == "localhost/galileo-worker:latest"
    assert images["api/api"] == images["recorder/recorder"] == "localhost/galileo:latest"
    assert images["redis/redis"] == "docker.io/library/redis:7"
    override = [{"name": "docker.io/library/redis", "newName": "localhost/galileo-redis",
                 "newTag": "7"}]
    assert _images(k8s_render.render(DEPLOY / "k8s", override))["redis/redis"] \
        == "localhost/galileo-redis:7"


def test_an_unsupported_field_is_refused_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: [{path: p.yaml}]\n")
    with pytest.raises(k8s_render.RenderError, match="unsupported fields"):
        k8s_render.render(tmp_path)
    proc = subprocess.run([sys.executable, str(DEPLOY / "k8s_render.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("k8s_render: ") and "patches" in proc.stderr
