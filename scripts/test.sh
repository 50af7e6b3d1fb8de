#!/usr/bin/env bash
# Sets everything up and runs every test: the normal build, then the
# AddressSanitizer + UndefinedBehaviorSanitizer build, then a short fuzz
# smoke run. Exits non-zero if anything fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

MPA_SKIP_BUILD=1 scripts/setup.sh
jobs="$(nproc)"

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests (RelWithDebInfo)"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (Debug, ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMPA_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests (Debug, ASan + UBSan)"
# SoftHSM and libp11 keep some allocations until exit; leaks in them are
# not ours, so only LeakSanitizer's suppressions file names them.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure -j"$jobs"

if [[ -x fuzz/smoke.sh ]]; then
  echo "== fuzz smoke"
  fuzz/smoke.sh
fi
