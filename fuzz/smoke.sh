#!/usr/bin/env bash
# Runs the libFuzzer targets briefly on their seed corpora (fuzz/corpus/<target>/).
#
#   fuzz/smoke.sh                      build the targets (clang, ASan + UBSan,
#                                      ./build-fuzz) and run each for 20 s
#   MPA_FUZZ_SECONDS=600 fuzz/smoke.sh a long run
#   fuzz/smoke.sh --run BINARY         run one built target (CTest's fuzz.* tests
#                                      in the sanitizer build of scripts/test.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${MPA_FUZZ_SECONDS:-20}"

run_one() {
  local binary="$1" name corpus work rc=0
  name="$(basename "$binary")"
  corpus="$root/fuzz/corpus/$name"
  work="$(mktemp -d)"
  [[ -d "$corpus" ]] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${seconds}s"
  "$binary" -max_total_time="$seconds" -max_len=70000 "$work" >"$work.log" 2>&1 || rc=$?
  tail -3 "$work.log"
  ((rc == 0)) || cat "$work.log" >&2
  rm -rf "$work" "$work.log"
  return $rc
}

if [[ "${1:-}" == "--run" ]]; then
  run_one "$2"
  exit
fi

shopt -s nullglob
targets=("$root"/fuzz/fuzz_*.cpp)
if ((${#targets[@]} == 0)); then
  echo "fuzz: no targets"
  exit 0
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMPA_FUZZ=ON -DBUILD_TESTING=OFF -DMPA_SANITIZE=ON >/dev/null
cmake --build "$root/build-fuzz" -j"$(nproc)" --target fuzz_targets
for source in "${targets[@]}"; do
  run_one "$root/build-fuzz/fuzz/$(basename "$source" .cpp)"
done
echo "fuzz: all targets ran without a crash"
