#!/usr/bin/env bash
# Sets everything up and runs every test, in three builds:
#   1. gcc, RelWithDebInfo: all unit and integration tests;
#   2. clang, AddressSanitizer + UndefinedBehaviorSanitizer: the same tests,
#      and a short run of every libFuzzer target (fuzz.* tests; built in the
#      same tree);
#   3. gcc, ThreadSanitizer: the unit tests, built without precompiled
#      headers (so a missing #include shows).
# Exits non-zero if anything fails, and prints each stage's time. Builds use
# ccache when it is installed (scripts/setup.sh installs it).
#   MPA_TSAN_INTEGRATION=1 scripts/test.sh   also the integration tests under TSan
#   MPA_FUZZ_SECONDS=N scripts/test.sh       each fuzz target's run (default 20 s)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

MPA_SKIP_BUILD=1 scripts/setup.sh
jobs="$(nproc)"
# Integration tests spend most of their time waiting on the processes they
# start, so twice as many run as there are cores.
test_jobs=$((jobs * 2))
# Each stage's time, printed at the end, also when a stage fails.
times=()
current=""
end_stage() {
  if [[ -n "$current" ]]; then
    times+=("$(printf '%5ds  %s' $((SECONDS - stage_started)) "$current")")
  fi
  current=""
}
stage() {
  end_stage
  current="$1"
  stage_started=$SECONDS
  echo "== $1"
}
report_times() {
  local rc=$?
  if [[ -n "$current" && $rc -ne 0 ]]; then current="$current (failed)"; fi
  end_stage
  echo "== times"
  printf '%s\n' "${times[@]}"
  printf '%5ds  in all\n' "$SECONDS"
}
trap report_times EXIT

stage "build (gcc, RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
stage "tests (gcc, RelWithDebInfo)"
ctest --test-dir build --output-on-failure -j"$test_jobs"

# Debug info as line tables only: what a sanitizer's report needs, at a
# fraction of the compile time.
stage "build (clang, ASan + UBSan, fuzz targets)"
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DMPA_SANITIZE=ON -DMPA_FUZZ=ON >/dev/null
cmake --build build-asan -j"$jobs"
stage "tests (clang, ASan + UBSan; fuzz smoke)"
# The sanitizers' options are in each test's environment (tests/CMakeLists.txt):
# SoftHSM and libp11 keep some allocations until exit; tests/lsan.supp names
# them, and only them.
MPA_FUZZ_SECONDS="${MPA_FUZZ_SECONDS:-20}" ctest --test-dir build-asan --output-on-failure -j"$test_jobs"

stage "build (gcc, TSan, no precompiled headers)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
  -DMPA_TSAN=ON -DMPA_PCH=OFF >/dev/null
# Only the unit tests run under TSan (unless MPA_TSAN_INTEGRATION is set), so
# only they are built.
tsan_targets=(--target unit_tests)
[[ -n "${MPA_TSAN_INTEGRATION:-}" ]] && tsan_targets=()
cmake --build build-tsan -j"$jobs" "${tsan_targets[@]}"
stage "tests (gcc, TSan)"
# Races inside SoftHSM, libp11, OpenSSL or libcurl are not ours to fix;
# tests/tsan.supp names them, each with its reason. Every other report fails.
tsan_tests='^unit\.'
[[ -n "${MPA_TSAN_INTEGRATION:-}" ]] && tsan_tests='^(unit|integration)\.'
ctest --test-dir build-tsan --output-on-failure -j"$test_jobs" -R "$tsan_tests"
