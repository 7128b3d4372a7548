#!/usr/bin/env bash
# End-to-end demo: installs missing packages, builds exo, starts exo-state-manager
# (SQLite in a temporary directory) and exo-host with the example plugins, puts a
# 3-node graph with exoctl, triggers it, waits for the run and prints every state.
# Everything started here is stopped on exit.
#
# Environment: EXO_BUILD_DIR (default: build) selects the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build_dir=${EXO_BUILD_DIR:-build}
graph_name=demo-chain
namespace=demo

say() { printf '\n==> %s\n' "$*"; }

work=""
sm_pid=""
host_pid=""

show_logs() {
  for log in "$work/state-manager.log" "$work/host.log"; do
    if [ -s "$log" ]; then
      printf '\n--- last lines of %s ---\n' "$(basename "$log")" >&2
      tail -n 25 "$log" >&2
    fi
  done
}

fail() {
  printf '\ndemo: FAILED: %s\n' "$*" >&2
  [ -n "$work" ] && show_logs
  exit 1
}

stop_process() { # pid name
  local pid=$1 name=$2
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "demo: $name did not stop within 5 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_process "$host_pid" exo-host
  stop_process "$sm_pid" exo-state-manager
  [ -n "$work" ] && rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls "$@" every 0.2 s for up to $timeout seconds; fails when $watch_pid dies.
wait_for() { # timeout watch_pid watch_name description command...
  local timeout=$1 watch_pid=$2 watch_name=$3 what=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$watch_pid" 2>/dev/null || fail "$watch_name exited while waiting for $what"
    [ $SECONDS -lt $deadline ] || fail "timed out after ${timeout} s waiting for $what"
    sleep 0.2
  done
}

say "installing missing packages"
scripts/deps.sh

say "building in $build_dir"
cmake -S . -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
bin="$repo/$build_dir/bin"
[[ "$build_dir" = /* ]] && bin="$build_dir/bin"
plugin_dir="$(dirname "$bin")/plugins"
for program in exo-state-manager exo-host exoctl; do
  [ -x "$bin/$program" ] || fail "$bin/$program was not built"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/exo-demo.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
uri="http://127.0.0.1:$port"
api_key=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
encryption_key=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')

say "starting exo-state-manager on $uri (database $work/exo.db)"
STATE_MANAGER_SECRET=$api_key SECRETS_ENCRYPTION_KEY=$encryption_key \
  "$bin/exo-state-manager" --listen "127.0.0.1:$port" --db "$work/exo.db" \
  >"$work/state-manager.log" 2>&1 &
sm_pid=$!
wait_for 20 "$sm_pid" exo-state-manager "$uri/health" curl -fsS "$uri/health"

export EXOSPHERE_STATE_MANAGER_URI=$uri EXOSPHERE_API_KEY=$api_key EXOSPHERE_NAMESPACE=$namespace
exoctl() { "$bin/exoctl" "$@"; }

say "starting exo-host with the example plugins"
sed -e "s|^\( *state_manager *= *{ *uri *= *\)\"[^\"]*\"|\1\"$uri\"|" \
    -e "s|^\( *plugin_dir *= *\)\"[^\"]*\"|\1\"$plugin_dir\"|" \
    -e "s|^\( *state_dir *= *\)\"[^\"]*\"|\1\"$work/host-state\"|" \
    conf/demo/host.conf >"$work/host.conf"
grep -q "\"$uri\"" "$work/host.conf" || fail "could not set the state manager URI in host.conf"
"$bin/exo-host" -c "$work/host.conf" >"$work/host.log" 2>&1 &
host_pid=$!
nodes_registered() {
  local listing
  listing=$(exoctl nodes list) || return 1
  for node in SampleNode TextTransform Summarize; do
    grep -q "^$node " <<<"$listing" || return 1
  done
}
wait_for 20 "$host_pid" exo-host "the host to register its nodes" nodes_registered
exoctl nodes list

say "putting graph $graph_name (conf/demo/graph.json)"
exoctl graph put "$graph_name" -f conf/demo/graph.json --wait --timeout 30 \
  || fail "the graph was not accepted as VALID"
exoctl graph get "$graph_name"

say "triggering $graph_name and waiting for the run"
set +e
run_id=$(exoctl trigger "$graph_name" --input "data=hello from exo" --store user=alice \
           --wait --timeout 60 --quiet)
run_rc=$?
set -e
[ -n "$run_id" ] || fail "the trigger was refused"

say "states of run $run_id"
exoctl run show "$run_id" || fail "cannot show run $run_id"
case $run_rc in
  0) ;;
  3) fail "run $run_id did not finish within 60 s" ;;
  *) fail "run $run_id did not succeed" ;;
esac

exoctl run list --size 5
printf '\ndemo: SUCCESS: run %s of graph %s finished; every state printed above.\n' \
  "$run_id" "$graph_name"
