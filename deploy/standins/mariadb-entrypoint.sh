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
  db="${MARIADB_DATABASE:-galileo}" user="${MARIADB_USER:-galileo}"
  mariadb --socket=/run/mysqld/init.sock <<SQL
CREATE DATABASE IF NOT EXISTS \`${db}\`;
CREATE USER '${user}'@'%' IDENTIFIED BY '${MARIADB_PASSWORD//\'/\'\'}';
GRANT ALL ON \`${db}\`.* TO '${user}'@'%';
${MARIADB_ROOT_PASSWORD:+ALTER USER 'root'@'localhost' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD//\'/\'\'}';}
FLUSH PRIVILEGES;
SQL
  kill -TERM "${pid}"; wait "${pid}" || true
fi
exec "$@" --datadir="${DATADIR}" --bind-address=0.0.0.0 --skip-name-resolve
