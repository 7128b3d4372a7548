#!/usr/bin/env bash
# Builds exo in Release and runs every benchmark side by side in one run.
#   bench/run.sh [--quick] [--only chain,fanout,floors,sm,growth,pg,sandbox]
#   bench/run.sh --compare OTHER_BUILD_DIR [--rounds N] [--quick] [--only ...]
#       every workload for this tree's build and for OTHER_BUILD_DIR (an already
#       built tree, e.g. a Release build of an older commit), interleaved round by
#       round in one run; prints each metric for both and the ratios A/B.
# Prints a table and writes bench/results/<timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DEXO_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)"
exec python3 bench/bench.py --build build-bench "$@"
