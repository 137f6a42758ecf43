#!/bin/bash
# Stand-in mariadb entrypoint: on an empty data directory, make the system tables and the
# MARIADB_DATABASE / MARIADB_USER / MARIADB_PASSWORD account (as the official image does), then
# run the server as PID 1 (SIGTERM shuts it down cleanly).
set -euo pipefail
DATADIR=/var/lib/mysql
if [[ ! -d "${DATADIR}/mysql" ]]; then
  : "${MARIADB_PASSWORD:?MARIADB_PASSWORD is not set}"
  mariadb-install-db --user=mysql --datadir="${DATADIR}" --skip-test-db >/dev/null
  mariadbd --datadir="${DATADIR}" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 100); do
    mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break
    sleep 0.2
  done
  # a failed initialisation leaves an empty data directory: the next start tries again
  trap 'kill -TERM "${pid}" 2>/dev/null; wait "${pid}" || true; rm -rf "${DATADIR:?}"/*' ERR
  q="'" qq="''"
  db="${MARIADB_DATABASE:-galileo}" user="${MARIADB_USER:-galileo}"
  password="${MARIADB_PASSWORD//${q}/${qq}}" root="${MARIADB_ROOT_PASSWORD:-}"
  root="${root//${q}/${qq}}"
  {
    echo "CREATE DATABASE IF NOT EXISTS \`${db}\`;"
    echo "CREATE USER '${user}'@'%' IDENTIFIED BY '${password}';"
    echo "GRANT ALL ON \`${db}\`.* TO '${user}'@'%';"
    [[ -n "${root}" ]] && echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '${root}';"
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/run/mysqld/init.sock
  trap - ERR
  kill -TERM "${pid}"; wait "${pid}" || true
fi
exec "$@" --datadir="${DATADIR}" --bind-address=0.0.0.0 --skip-name-resolve
