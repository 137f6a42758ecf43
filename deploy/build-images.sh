#!/usr/bin/env bash
# Builds Galileo's images with podman or docker (`make images`, `make images-arm64`):
#
#   localhost/galileo-worker:latest   target worker (lean: bus, load engine, worker, telemd)
#   localhost/galileo:latest          target full (every role)
#
#   deploy/build-images.sh [--arch amd64|arm64] [--base IMAGE]
#
# Without --base the image deploy/base-images.sh makes from the apt mirror is used (and made when
# missing, with the Redis and MariaDB stand-ins); --base docker.io/library/python:3.11-slim-bookworm
# uses the official image where a registry is reachable. With --arch arm64 only the worker is
# built (…:latest-arm64, under qemu-user-static: deploy/binfmt.sh). The machine's CA bundle and a
# pip.conf naming its package index are passed as build secrets, never stored in an image.
set -euo pipefail
. "$(dirname "$0")/engine.sh"
ARCH=amd64 BASE=""
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:?--arch needs amd64 or arm64}"; shift 2 ;;
    --base) BASE="${2:?--base needs an image name}"; shift 2 ;;
    *) echo "build-images.sh: unknown argument ${1} (use --arch amd64|arm64, --base IMAGE)" >&2; exit 2 ;;
  esac
done
case "${ARCH}" in amd64|arm64) ;; *) echo "build-images.sh: --arch must be amd64 or arm64, not ${ARCH}" >&2; exit 2 ;; esac
cd "${GALILEO_ROOT}"
if [[ -z "${BASE}" ]]; then
  [[ "${ARCH}" == arm64 ]] && bash deploy/binfmt.sh
  bash deploy/base-images.sh --arch "${ARCH}"
  BASE="localhost/galileo-base:bookworm"; [[ "${ARCH}" != amd64 ]] && BASE+="-${ARCH}"
fi

# build secrets: the CA bundle the host trusts and the index it installs from
secrets=()
ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
[[ -s "${ca}" ]] && secrets+=(--secret "id=ca,src=${ca}")
index="$(pip3 config get global.index-url 2>/dev/null || true)"
printf '[global]\nindex-url = %s\ntimeout = 60\n' "${PIP_INDEX_URL:-${index:-https://pypi.org/simple}}" \
  > "${GALILEO_BUILD_DIR}/pip.conf"
secrets+=(--secret "id=pipconf,src=${GALILEO_BUILD_DIR}/pip.conf")

build() {  # target tag
  # the host's network: the build only fetches packages, and needs no NAT of its own
  local args=(build --pull=never --network host --target "$1" -t "$2" -f deploy/Dockerfile
              --build-arg "BASE=${BASE}" "${secrets[@]}")
  [[ "${ENGINE}" == podman ]] && args+=(--format docker --layers)  # docker format keeps HEALTHCHECK
  # arm64: hdrhistogram has no aarch64 wheel, so the build stage gets a compiler
  [[ "${ARCH}" != amd64 ]] && args+=(--arch "${ARCH}"
                                     --build-arg "BUILD_PACKAGES=binutils gcc libc6-dev python3-dev")
  local log="${GALILEO_BUILD_DIR}/build-$1-${ARCH}.log"
  if ! "${ENGINE}" "${args[@]}" . >"${log}" 2>&1; then
    tail -30 "${log}" >&2
    echo "Galileo images: building target $1 failed (full log: ${log})" >&2
    return 1
  fi
  echo "Galileo images: built $2 ($(size "$2"))"
}
size() { "${ENGINE}" image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }

start=${SECONDS}
if [[ "${ARCH}" == arm64 ]]; then
  build worker localhost/galileo-worker:latest-arm64
else
  # the two targets share only the small build stage: build them side by side
  build worker localhost/galileo-worker:latest & w=$!
  build full localhost/galileo:latest & f=$!
  wait "${w}"; wait "${f}"
fi
echo "Galileo images: ${ARCH} built in $((SECONDS - start)) s (base ${BASE}, $(size "${BASE}"))"
