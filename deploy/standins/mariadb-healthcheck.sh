#!/bin/bash
# Stand-in for the official image's healthcheck.sh: --connect (the server answers on its socket)
# and --innodb_initialized (InnoDB is up); as the container's user (mysql, unix_socket account).
set -euo pipefail
for arg in "$@"; do
  case "${arg}" in
    --connect) mariadb-admin ping --silent >/dev/null ;;
    --innodb_initialized)
      [[ "$(mariadb -N -e "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' \
          AND SUPPORT IN ('YES','DEFAULT')")" == 1 ]] ;;
    *) echo "healthcheck.sh: unknown check ${arg}" >&2; exit 2 ;;
  esac
done
