#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each briefly on its seed
# corpus (fuzz/corpus/<target>/). For a long run:
#   MPA_FUZZ_SECONDS=600 fuzz/smoke.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${MPA_FUZZ_SECONDS:-20}"
shopt -s nullglob
targets=("$root"/fuzz/fuzz_*.cpp)
if ((${#targets[@]} == 0)); then
  echo "fuzz: no targets"
  exit 0
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMPA_FUZZ=ON -DBUILD_TESTING=OFF -DMPA_SANITIZE=ON >/dev/null
# Only the fuzz targets (and the libraries they link) are built.
names=()
for source in "${targets[@]}"; do names+=("$(basename "$source" .cpp)"); done
cmake --build "$root/build-fuzz" -j"$(nproc)" --target "${names[@]}"
for source in "${targets[@]}"; do
  name="$(basename "$source" .cpp)"
  corpus="$root/fuzz/corpus/$name"
  work="$(mktemp -d)"
  [[ -d "$corpus" ]] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${seconds}s"
  "$root/build-fuzz/fuzz/$name" -max_total_time="$seconds" -max_len=70000 "$work" 2>&1 | tail -3
  rm -rf "$work"
done
echo "fuzz: all targets ran without a crash"
