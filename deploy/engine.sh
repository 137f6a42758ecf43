# Sourced by the deploy scripts: picks the container engine and, for podman, writes and selects
# the configuration this checkout owns (build/podman/*.conf, never /etc/containers by hand).
#
#   . deploy/engine.sh        # sets ENGINE (podman|docker), COMPOSE (argv), GALILEO_BUILD_DIR
#
# Podman 4.3 on Debian 12 hosts with hybrid cgroups needs runc (crun refuses), the cgroupfs
# manager and the file events logger (no systemd), and ulimits no higher than the host allows.
# No container registry is reachable here: short names are never resolved (unqualified-search
# is empty), every image is named in full (localhost/galileo-…).
GALILEO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GALILEO_BUILD_DIR="${GALILEO_BUILD_DIR:-${GALILEO_ROOT}/build/images}"
mkdir -p "${GALILEO_BUILD_DIR}/podman"

galileo_podman_config() {
  local dir="${GALILEO_BUILD_DIR}/podman" nofile nproc
  nofile="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"
  [[ "${nofile}" == unlimited || "${nofile}" -gt 20000 ]] && nofile=20000
  [[ "${nproc}" == unlimited || "${nproc}" -gt 32768 ]] && nproc=32768
  cat > "${dir}/containers.conf" <<CONF
# written by deploy/engine.sh: do not edit (re-written on every run)
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
CONF
  cat > "${dir}/registries.conf" <<CONF
# written by deploy/engine.sh: no registry is searched for short names; images are fully qualified
unqualified-search-registries = []
short-name-mode = "enforcing"
CONF
  export CONTAINERS_CONF="${dir}/containers.conf"
  export CONTAINERS_REGISTRIES_CONF="${dir}/registries.conf"
  # GALILEO_PODMAN_ROOT: an image store of its own (a bare machine's run, `stack_test.py --bare`)
  if [[ -n "${GALILEO_PODMAN_ROOT:-}" ]]; then
    mkdir -p "${GALILEO_PODMAN_ROOT}"
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' \
      "${GALILEO_PODMAN_ROOT}" "${GALILEO_PODMAN_ROOT}" > "${dir}/storage.conf"
    export CONTAINERS_STORAGE_CONF="${dir}/storage.conf"
  fi
}

if [[ -z "${ENGINE:-}" ]]; then
  if command -v podman >/dev/null; then ENGINE=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
  else
    echo "Galileo images: neither podman nor a running docker engine was found (install podman)" >&2
    exit 2
  fi
fi
if [[ "${ENGINE}" == podman ]]; then
  galileo_podman_config
  COMPOSE=(podman-compose)
else
  COMPOSE=(docker compose)
fi
export ENGINE GALILEO_BUILD_DIR
