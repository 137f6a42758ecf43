#!/usr/bin/env bash
# Re-resolves every dependency of galileo[all] on PyPI and writes deploy/constraints.txt, the pins
# every image build installs from (commit the result; tests/deploy checks it covers pyproject.toml).
#
#   deploy/lock.sh            # needs python3 >= 3.11 and PyPI; the machine's pip settings are ignored
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"; trap 'rm -rf "${tmp}"' EXIT
python3 -m venv "${tmp}/venv"
export PIP_CONFIG_FILE=/dev/null PIP_CONSTRAINT= PIP_FIND_LINKS= PIP_DISABLE_PIP_VERSION_CHECK=1
"${tmp}/venv/bin/pip" install -q --upgrade pip
"${tmp}/venv/bin/pip" install -q --dry-run --ignore-installed --report "${tmp}/report.json" ".[all]"
"${tmp}/venv/bin/python" - "${tmp}/report.json" > deploy/constraints.txt <<'PY'
import json, re, sys
items = json.load(open(sys.argv[1]))["install"]
names = ((re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(), i["metadata"]["version"])
         for i in items)
pins = sorted((n, v) for n, v in names if n != "galileo")
print("# Every dependency of galileo[all], pinned: each image build installs with -c this file.")
print("# Made by deploy/lock.sh from a resolved install; re-run it to move the pins, then commit.")
for name, version in pins:
    print(f"{name}=={version}")
PY
# Pins the resolution above cannot see: it runs on this machine's python3, the images on Debian's
# 3.11.2, where redis also needs async-timeout (python_full_version < "3.11.3").
printf '%s\n' "async-timeout==5.0.1" >> deploy/constraints.txt
echo "deploy/constraints.txt: $(grep -c '==' deploy/constraints.txt) pins"
