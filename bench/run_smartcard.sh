#!/usr/bin/env bash
# A smartcard behind the agent: the fault-injecting module
# (tests/support/fault_pkcs11) in front of SoftHSM with sign_latency_ms =
# 50, i.e. one signature at a time, 50 ms each: the card allows 20/s. The
# agent runs with max_concurrent_signatures = 1 against the stand-in
# Maskinporten, and every request asks for a token not asked for before (a
# new consumer_org each time), so each needs its own signature and
# exchange. Prints distinct tokens per second against the card's 20/s, and
# the card's signatures per token. Called by scripts/bench.sh with the
# seconds per measurement.
set -euo pipefail
seconds="${1:-4}"
latency_ms=50
root="$(cd "$(dirname "$0")/.." && pwd)"
export MPA_SOURCE_DIR="$root" MPA_BIN="${MPA_BIN:-$root/build-release/maskinporten-agent}"
BENCH="$root/build-release/bench/bench_socket"
# The module is part of the tests build, which a Release build without
# tests does not make: build it alone beside it.
fault_build="$root/build-release/fault_pkcs11"
cmake -S "$root/tests/support/fault_pkcs11" -B "$fault_build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$fault_build" --target mpa_fault_pkcs11 >/dev/null
source "$root/tests/integration/lib.sh"
make_token
start_standin
export MPA_FAULT_DIR="$WORK/fault"
mkdir -p "$MPA_FAULT_DIR"
echo "$latency_ms" >"$MPA_FAULT_DIR/sign_latency_ms"
write_config "$WORK/agent.toml"
sed -i "s|^module = .*|module = \"$fault_build/libmpa_fault_pkcs11.so\"\nmax_concurrent_signatures = 1|" \
  "$WORK/agent.toml"
mkdir -p "$WORK/run"
start_agent "$WORK/agent.toml"

card_rate=$((1000 / latency_ms))
connections=16
echo "== smartcard (${latency_ms} ms a signature, one at a time): distinct tokens through the agent"
prefix='{"op":"token","scopes":["altinn:instances.read"]'
# Warm up: the first exchange opens the TLS connection and resolves the
# endpoints.
"$BENCH" distinct "$SOCK" 1 0.5 "$prefix" 900000000 >/dev/null
count() { cat "$MPA_FAULT_DIR/sign_count" 2>/dev/null || echo 0; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
printf '%-6s %12s %10s %8s %10s %10s %9s\n' conns tokens/s card/s ratio p50 p99 sigs/token
: >"$WORK/rows"
for round in 1 2 3; do
  before="$(count)"
  out="$("$BENCH" distinct "$SOCK" "$connections" "$seconds" "$prefix" "$((round * 10000000))")"
  signatures=$(($(count) - before))
  echo "$(field "$out" rate) $(field "$out" p50_us) $(field "$out" p99_us) $(field "$out" requests) $signatures" >>"$WORK/rows"
done
col() { awk -v k="$1" '{ print $k }' "$WORK/rows" | median; }
awk -v c="$connections" -v r="$(col 1)" -v card="$card_rate" -v p50="$(col 2)" -v p99="$(col 3)" \
    -v req="$(awk '{ s += $4 } END { print s }' "$WORK/rows")" \
    -v sigs="$(awk '{ s += $5 } END { print s }' "$WORK/rows")" \
  'BEGIN { printf "%-6s %12.1f %10d %7.0f%% %8.0fms %8.0fms %9.2f\n",
           c, r, card, 100 * r / card, p50 / 1000, p99 / 1000, (req > 0 ? sigs / req : 0) }'
