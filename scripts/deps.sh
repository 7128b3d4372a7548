#!/usr/bin/env bash
# Installs the Debian packages exo needs to build, test and run (only the missing ones).
set -euo pipefail
packages=(build-essential clang cmake pkg-config python3 sqlite3 curl
          libconfig-dev libjson-c-dev libcurl4-openssl-dev libmicrohttpd-dev
          libsqlite3-dev libpq-dev libssl-dev libseccomp-dev uuid-dev libcmocka-dev
          postgresql   # postgresql: the throwaway cluster of the *_pg tests (tests/pg/cluster.sh)
          bubblewrap   # bench/: the sandbox measured against bwrap --unshare-all
          prometheus   # promtool: test_sm_metrics.py and test_host_metrics.py check both /metrics with it
          chromium)
# The dashboard's browser test (tests/browser/) drives chromium with playwright-core
# from npm; a node/npm installed otherwise (e.g. a newer Node.js) is kept.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
