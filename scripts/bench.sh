#!/usr/bin/env bash
# Benchmarks (not part of the tests): builds Release, makes a throwaway
# SoftHSM token, and prints each benchmark's ratio against its baseline
# measured in the same run.
#   scripts/bench.sh [SECONDS_PER_MEASUREMENT]   (default 4)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-4}"
MPA_SKIP_BUILD=1 "$root/scripts/setup.sh"
cmake -S "$root" -B "$root/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DMPA_BENCH=ON >/dev/null
cmake --build "$root/build-release" -j"$(nproc)"

export MPA_SOURCE_DIR="$root" MPA_BIN="$root/build-release/maskinporten-agent"
source "$root/tests/integration/lib.sh"
make_token
STANDIN_ISSUER="https://localhost:1/" STANDIN_CA="/dev/null"
write_config "$WORK/agent.toml"
sed -i '/^ca_file/d' "$WORK/agent.toml"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== grant signing"
"$root/build-release/bench/bench_signing" "$WORK/agent.toml" "$seconds"
echo "== grant signing through the signer helper process (as in \`run\`)"
"$root/build-release/bench/bench_helper" "$WORK/agent.toml" "$seconds" "$MPA_BIN"
shopt -s nullglob
for extra in "$root"/bench/run_*.sh; do
  "$extra" "$seconds"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
