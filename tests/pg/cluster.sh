#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `cluster.sh start DIR` creates and
# starts one in DIR (data, unix socket and log inside it, no TCP listener) and
# prints the socket directory; `cluster.sh stop DIR` stops it and removes DIR.
# PostgreSQL refuses to run as root: as root the server runs as the `postgres`
# user (or EXO_PG_USER), which then owns DIR.  `cluster.sh pause DIR` stops the
# server keeping its data, `cluster.sh resume DIR` starts it again (outage tests).
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop DIR}
dir=${2:?usage: cluster.sh start|stop DIR}
bindir=${EXO_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$bindir/initdb" ] || { echo "cluster.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

# Stops a server left running in DIR (a test run that was killed) and removes DIR.
remove_cluster() {
  [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "${EXO_PG_USER:-postgres}" -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  if [ -e "$dir" ]; then
    echo "cluster.sh: removing the cluster a previous run left in $dir" >&2
    remove_cluster
  fi
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown "${EXO_PG_USER:-postgres}" "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # unix socket in DIR only; fsync off: a throwaway cluster, speed over durability
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 400
CONF
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "$dir"
  ;;
stop)
  remove_cluster
  ;;
pause)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  ;;
resume)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
  ;;
*)
  echo "cluster.sh: unknown command $cmd (start, stop, pause, resume)" >&2; exit 2 ;;
esac
