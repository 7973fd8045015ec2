#!/usr/bin/env bash
# Start a throw-away PostgreSQL on a loopback port, run the given command with DATABASE_URL
# pointing at it, then stop it. initdb refuses root, so the server runs as the postgres user.
set -euo pipefail
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
port=${LIANFANG_PG_PORT:-55432}
data=$(mktemp -d /tmp/lianfang-pg.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$data"; fi
as_pg "$pg_bin/initdb -D $data/db -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null"
as_pg "$pg_bin/pg_ctl -D $data/db -o '-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off' -l $data/log -w start >/dev/null"
cleanup() { as_pg "$pg_bin/pg_ctl -D $data/db -m fast stop >/dev/null" || true; rm -rf "$data"; }
trap cleanup EXIT
as_pg "$pg_bin/createdb -h 127.0.0.1 -p $port -U postgres lianfang"
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/lianfang"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
