#!/usr/bin/env bash
# Start a local PostgreSQL with a `switchboard` role for the test suite, installing it if
# missing. Prints the URL to export as SWITCHBOARD_TEST_POSTGRES_URL. Safe to run again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/system-packages.sh" postgresql >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=""; as_pg() { runuser -u postgres -- "$@"; }
else
  sudo="sudo"; as_pg() { sudo -u postgres "$@"; }
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  $sudo pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | grep -q "^$version main .* online"; then
  $sudo pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 60); do
  as_pg pg_isready -q -h 127.0.0.1 && break
  sleep 0.5
done
as_postgres() { (cd / && as_pg psql -v ON_ERROR_STOP=1 -qtA "$@"); }
if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname='switchboard'")" != "1" ]; then
  as_postgres -c "CREATE ROLE switchboard LOGIN CREATEDB PASSWORD 'switchboard'" >&2
fi
# Dropping a test database WITH (FORCE) must also end an autovacuum worker that is visiting it.
as_postgres -c "GRANT pg_signal_backend TO switchboard" >&2 2>/dev/null || true
if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname='switchboard'")" != "1" ]; then
  as_postgres -c "CREATE DATABASE switchboard OWNER switchboard" >&2
fi
echo "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard"
