#!/usr/bin/env bash
# Makes the images Galileo's build and stack test start from, on a machine that reaches no
# container registry, from the machine's own Debian mirror (mmdebstrap):
#
#   localhost/galileo-base:bookworm       Debian 12 minbase + python3 (venv) + ca-certificates
#   localhost/galileo-redis:7             Debian's redis-server on that base     (stand-in for redis:7)
#   localhost/galileo-mariadb:10.11       Debian's mariadb-server on that base   (stand-in for mariadb)
#
#   deploy/base-images.sh [--arch amd64|arm64] [--force]
#
# An image that already exists is kept (--force makes it again). With --arch arm64 only the base
# is made (tagged …:bookworm-arm64), for the Raspberry Pi worker image (`make images-arm64`).
set -euo pipefail
. "$(dirname "$0")/engine.sh"
ARCH=amd64 FORCE=0
while (($#)); do
  case "$1" in
    --arch) ARCH="${2:?--arch needs amd64 or arm64}"; shift 2 ;;
    --force) FORCE=1; shift ;;
    *) echo "base-images.sh: unknown argument ${1} (use --arch amd64|arm64, --force)" >&2; exit 2 ;;
  esac
done
case "${ARCH}" in amd64|arm64) ;; *) echo "base-images.sh: --arch must be amd64 or arm64, not ${ARCH}" >&2; exit 2 ;; esac
SUITE=bookworm
MIRROR="${GALILEO_APT_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
BASE="localhost/galileo-base:${SUITE}"; [[ "${ARCH}" != amd64 ]] && BASE+="-${ARCH}"

have() { "${ENGINE}" image exists "$1" 2>/dev/null || "${ENGINE}" image inspect "$1" >/dev/null 2>&1; }

make_base() {
  local tar="${GALILEO_BUILD_DIR}/base-${SUITE}-${ARCH}.tar"
  echo "Galileo images: making ${BASE} from ${MIRROR} (mmdebstrap, ${ARCH})"
  # no documentation, manual pages or translations: only their copyright files stay
  mmdebstrap --quiet --variant=minbase --arch="${ARCH}" \
    --include=python3,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "${SUITE}" "${tar}" "${MIRROR}"
  "${ENGINE}" import --arch "${ARCH}" --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    "${tar}" "${BASE}" >/dev/null
  rm -f "${tar}"
}

make_standin() {  # name tag
  echo "Galileo images: making localhost/galileo-$1:$2 from Debian packages"
  "${ENGINE}" build --quiet --pull=never --network host --format docker --build-arg "BASE=${BASE}" \
    -t "localhost/galileo-$1:$2" -f "$(dirname "$0")/standins/$1.Containerfile" \
    "$(dirname "$0")/standins" >/dev/null
}

{ ((FORCE)) || ! have "${BASE}"; } && make_base
[[ "${ARCH}" != amd64 ]] && exit 0
{ ((FORCE)) || ! have localhost/galileo-redis:7; } && make_standin redis 7
{ ((FORCE)) || ! have localhost/galileo-mariadb:10.11; } && make_standin mariadb 10.11
exit 0
