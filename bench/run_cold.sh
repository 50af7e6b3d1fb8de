#!/usr/bin/env bash
# The cold path: distinct tokens per second through the agent (every
# request a consumer_org not asked for before, so each needs a signature
# and an exchange), against the stand-in's own capacity from a plain client
# posting ready-made grants over reused connections (bench_cold direct),
# both at 64 in flight, measured in the same run, rounds alternating. Once
# with the stand-in answering at once, once with 200 ms added to every
# answer. Then the fault module's smartcard (50 ms a signature, one at a
# time): distinct tokens per second against the card's 20/s. Called by
# scripts/bench.sh with the seconds per measurement.
set -euo pipefail
seconds="${1:-4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export MPA_SOURCE_DIR="$root" MPA_BIN="${MPA_BIN:-$root/build-release/maskinporten-agent}"
SOCKET_BENCH="$root/build-release/bench/bench_socket"
COLD_BENCH="$root/build-release/bench/bench_cold"
source "$root/tests/integration/lib.sh"
make_token
start_standin
# 3600 s tokens: no entry expires, and so none is refreshed, during the run.
standin_control settings '{"token_lifetime": 3600}' >/dev/null
write_config "$WORK/agent.toml"
mkdir -p "$WORK/run"
start_agent "$WORK/agent.toml"

connections=64
prefix='{"op":"token","scopes":["altinn:instances.read"]'
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
# Warm up both: TLS connections, discovery.
"$COLD_BENCH" direct "$WORK/agent.toml" 64 16 >/dev/null
"$SOCKET_BENCH" distinct "$SOCK" 16 0.5 "$prefix" 900000000 >/dev/null

org=100000000
for delay in 0 0.2; do
  standin_control settings "{\"delay\": $delay}" >/dev/null
  echo "== cold path, stand-in answering after ${delay} s: distinct tokens/s at $connections in flight"
  : >"$WORK/rows"
  for round in 1 2 3; do
    # As many grants as the agent made in the round before, at least 300.
    count="${made:-300}"
    [[ "$count" -ge 300 ]] || count=300
    d="$("$COLD_BENCH" direct "$WORK/agent.toml" "$count" "$connections")"
    a="$("$SOCKET_BENCH" distinct "$SOCK" "$connections" "$seconds" "$prefix" "$org")"
    org=$((org + 10000000))
    made="$(field "$a" requests)"
    echo "$(field "$a" rate) $(field "$d" rate) $(field "$a" p50_us) $(field "$a" p99_us)" >>"$WORK/rows"
  done
  col() { awk -v k="$1" '{ print $k }' "$WORK/rows" | median; }
  printf '%-12s %12s %9s %10s %10s\n' agent/s direct/s ratio p50 p99
  awk -v a="$(col 1)" -v d="$(col 2)" -v p50="$(col 3)" -v p99="$(col 4)" \
    'BEGIN { printf "%-12.1f %12.1f %8.0f%% %8.0fms %8.0fms\n", a, d, 100 * a / d, p50 / 1000, p99 / 1000 }'
done
standin_control settings '{"delay": 0}' >/dev/null
