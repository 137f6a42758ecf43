"""Render ``deploy/k8s`` the way ``kustomize build`` does, for the subset its kustomization uses.

Neither kubectl nor kustomize is packaged for Debian 12, and no registry is reachable here, so the
Kubernetes smoke (``deploy/k8s_smoke.py``) renders with this instead. Supported fields:
``resources`` (files, in order), ``namespace`` (set on every namespaced object), ``labels``
(``pairs`` added to every object's metadata, and with ``includeSelectors: true`` also to
selectors and pod templates) and ``images`` (``name`` → ``newName``/``newTag``). Any other field is
an error, so a kustomization this cannot render faithfully fails loudly.

    python deploy/k8s_render.py [deploy/k8s] > rendered.yaml
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition"}


class RenderError(Exception):
    """What in the kustomization cannot be rendered, in one sentence."""


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj.get("kind") == "Pod":
        return [obj["spec"]]
    template = obj.get("spec", {}).get("template")
    return [template["spec"]] if template else []


def _set_image(image: str, rules: list[dict[str, str]]) -> str:
    name, tag = image, ""
    if "@" not in image and ":" in image.rsplit("/", 1)[-1]:
        name, tag = image.rsplit(":", 1)
    for rule in rules:
        if rule["name"] == name:
            name = rule.get("newName", name)
            tag = rule.get("newTag", tag)
            break
    return f"{name}:{tag}" if tag else name


def render(directory: Path, image_overrides: list[dict[str, str]] | None = None
           ) -> list[dict[str, Any]]:
    """The objects ``kustomize build DIRECTORY`` would print, in resource order."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kust) - SUPPORTED
    if unknown:
        raise RenderError(f"{directory}/kustomization.yaml: unsupported fields {sorted(unknown)}")
    rules = list(image_overrides or []) + list(kust.get("images", []))
    out: list[dict[str, Any]] = []
    for resource in kust.get("resources", []):
        path = directory / resource
        if not path.is_file():
            raise RenderError(f"{path}: resource not found (only files are supported)")
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            obj = copy.deepcopy(doc)
            meta = obj.setdefault("metadata", {})
            if kust.get("namespace") and obj["kind"] not in CLUSTER_SCOPED:
                meta["namespace"] = kust["namespace"]
            for group in kust.get("labels", []):
                pairs = group.get("pairs", {})
                meta.setdefault("labels", {}).update(pairs)
                if group.get("includeSelectors"):
                    spec = obj.get("spec", {})
                    if "selector" in spec:
                        sel = spec["selector"]
                        (sel.setdefault("matchLabels", {}) if "matchLabels" in sel
                         or obj["kind"] != "Service" else sel).update(pairs)
                    if "template" in spec:
                        spec["template"].setdefault("metadata", {}).setdefault(
                            "labels", {}).update(pairs)
            for spec in _pod_specs(obj):
                for c in spec.get("containers", []) + spec.get("initContainers", []):
                    c["image"] = _set_image(c["image"], rules)
            out.append(obj)
    return out


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Path(__file__).resolve().parent / "k8s"
    try:
        docs = render(directory)
    except (RenderError, OSError, yaml.YAMLError) as e:
        print(f"k8s_render: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
