#!/usr/bin/env bash
# Registers qemu-user-static's aarch64 handler with the kernel (binfmt_misc) so that arm64
# images build and run here under emulation. Without systemd nothing reads /usr/lib/binfmt.d, so
# this writes Debian's qemu-aarch64.conf into /proc/sys/fs/binfmt_misc/register itself (mounting
# binfmt_misc first when needed). Needs root; does nothing when the handler is already there.
set -euo pipefail
BINFMT=/proc/sys/fs/binfmt_misc
CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
[[ -e "${BINFMT}/qemu-aarch64" ]] && exit 0
if [[ ! -f "${CONF}" ]]; then
  echo "binfmt.sh: ${CONF} is missing (apt-get install qemu-user-static)" >&2
  exit 2
fi
[[ -e "${BINFMT}/register" ]] || mount -t binfmt_misc binfmt_misc "${BINFMT}"
grep -v '^#' "${CONF}" | grep . > "${BINFMT}/register"
[[ -e "${BINFMT}/qemu-aarch64" ]] || { echo "binfmt.sh: the kernel did not register qemu-aarch64" >&2; exit 1; }
echo "binfmt.sh: qemu-aarch64 registered ($(head -1 "${BINFMT}/qemu-aarch64"))"
