#!/usr/bin/env bash
# Builds exo in Release and runs every benchmark side by side in one run.
#   bench/run.sh [--quick]
# Prints a table and writes bench/results/<timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DEXO_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)"
exec python3 bench/bench.py --build build-bench "$@"
