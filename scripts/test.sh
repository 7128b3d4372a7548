#!/usr/bin/env bash
# Installs dependencies, builds exo three times with warnings as errors and runs the
# tests with ctest: gcc RelWithDebInfo (every test, on SQLite and, as *_pg, on a
# throwaway PostgreSQL cluster that ctest starts and stops), gcc Debug with
# ASan+UBSan (every test that can run under it; of the PostgreSQL variants all but
# the long multi-replica and cron ones, label pg_long), clang Release (the unit
# tests: the build itself checks clang's and the optimiser's warnings).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEXO_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# The sanitizer build skips tests labelled no_asan (they enforce address-space
# limits that AddressSanitizer's shadow memory cannot live under) and pg_long (they
# wait for minute boundaries or drive 20,000 states: the first build runs them).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEXO_SANITIZE=ON -DEXO_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs" -LE "no_asan|pg_long")

CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DEXO_WERROR=ON >/dev/null
cmake --build build-clang -j"$jobs"
(cd build-clang && ctest --output-on-failure -j"$jobs" -L unit)
