#!/usr/bin/env bash
# Keep-fresh soak (not part of scripts/bench.sh; it runs for minutes):
# 1,000 keys on 60 s tokens, each asked for every few seconds, for
# MINUTES (default 5) after a warm-up. Passes when no request in that time
# was a miss (so none waited for an exchange, and none got an expired
# token: a hit is always valid for its min_ttl). Prints exchanges/s, the
# agent's CPU, and its RSS and open descriptors at the start and the end.
#   bench/soak_keepfresh.sh [MINUTES]   (after scripts/bench.sh has built build-release;
#   MPA_BIN and BENCH choose other builds)
set -euo pipefail
minutes="${1:-5}"
keys=1000
root="$(cd "$(dirname "$0")/.." && pwd)"
export MPA_SOURCE_DIR="$root" MPA_BIN="${MPA_BIN:-$root/build-release/maskinporten-agent}"
BENCH="${BENCH:-$root/build-release/bench/bench_socket}"
source "$root/tests/integration/lib.sh"
make_token
start_standin
standin_control settings '{"token_lifetime": 60}' >/dev/null
write_config "$WORK/agent.toml"
mkdir -p "$WORK/run"
start_agent "$WORK/agent.toml"

prefix='{"op":"token","scopes":["altinn:instances.read"]'
status_field() { json_get "$("$MPA_BIN" status --socket "$SOCK" --json)" "$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status"; }
fds() { ls "/proc/$AGENT_PID/fd" | wc -l; }

echo "== keep-fresh soak: $keys keys, 60 s tokens, each asked every few seconds, $minutes min"
"$BENCH" fill "$SOCK" "$keys" "$prefix" >/dev/null   # warm-up: every key fetched once
# One more pass so every entry has been used since its fetch.
"$BENCH" fill "$SOCK" "$keys" "$prefix" >/dev/null
misses0="$(status_field 'j["cache"]["misses"]')"
exchanges0="$(status_field 'j["cache"]["exchanges"]')"
cpu0="$(cpu_ticks)" rss0="$(rss_kib)" fds0="$(fds)" start=$SECONDS passes=0 failed=0
while (( SECONDS - start < minutes * 60 )); do
  "$BENCH" fill "$SOCK" "$keys" "$prefix" >/dev/null || failed=$((failed + 1))
  passes=$((passes + 1))
  sleep 2  # pacing: each key is asked for every ~2-3 s
done
elapsed=$((SECONDS - start))
misses=$(($(status_field 'j["cache"]["misses"]') - misses0))
exchanges=$(($(status_field 'j["cache"]["exchanges"]') - exchanges0))
cpu=$(($(cpu_ticks) - cpu0))
hz="$(getconf CLK_TCK)"
awk -v p="$passes" -v k="$keys" -v m="$misses" -v f="$failed" -v x="$exchanges" -v e="$elapsed" \
    -v c="$cpu" -v hz="$hz" -v r0="$rss0" -v r1="$(rss_kib)" -v d0="$fds0" -v d1="$(fds)" \
  'BEGIN { printf "requests %d, misses (waited for an exchange) %d, failed passes %d\n", p * k, m, f;
           printf "exchanges %.1f/s for %d keys\n", x / e, k;
           printf "agent CPU %.1f %% of one core\n", 100 * c / hz / e;
           printf "RSS %.1f -> %.1f MiB, open descriptors %d -> %d\n", r0 / 1024, r1 / 1024, d0, d1 }'
[[ "$misses" -eq 0 && "$failed" -eq 0 ]]
