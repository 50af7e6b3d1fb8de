#!/usr/bin/env bash
# The agent's socket under load, against a bare JSON-lines echo server
# driven by the same load generator in the same run (bench_socket.cpp):
# cached-token requests per second and p50/p99 latency at 1, 16 and 64
# connections; time from start to socket ready; RSS with 10,000 cached
# entries. Called by scripts/bench.sh with the seconds per measurement.
set -euo pipefail
seconds="${1:-4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export MPA_SOURCE_DIR="$root" MPA_BIN="${MPA_BIN:-$root/build-release/maskinporten-agent}"
BENCH="$root/build-release/bench/bench_socket"
source "$root/tests/integration/lib.sh"
make_token
start_standin
write_config "$WORK/agent.toml"

echo "== agent socket: cached token requests vs bare echo server"
mkdir -p "$WORK/run"
"$MPA_BIN" run --config "$WORK/agent.toml" 2>"$WORK/agent.log" & agent=$!; track_pid $agent
ready_ms="$("$BENCH" wait "$WORK/run/agent.sock" 20)"
request='{"op":"token","scopes":["altinn:instances.read"]}'
# Warm the cache: the first request makes the one exchange.
"$BENCH" load "$WORK/run/agent.sock" 1 0.5 "$request" >/dev/null

# The echo server answers every line with the agent's own answer, so both
# move the same bytes.
sample="$(printf '%s\n' "$request" | socat - "UNIX-CONNECT:$WORK/run/agent.sock")"
"$BENCH" echo "$WORK/echo.sock" "$sample" & track_pid $!
"$BENCH" wait "$WORK/echo.sock" 5 >/dev/null

printf '%-6s %12s %12s %9s %9s %9s %9s %8s %8s\n' conns agent/s echo/s ratio \
  agent_p50 echo_p50 agent_p99 echo_p99 p99x
# Three rounds per row, agent and echo alternating, so that a burst of
# load from elsewhere on the machine hits both; the row shows medians.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
for c in 1 16 64; do
  : >"$WORK/rows"
  for round in 1 2 3; do
    a="$("$BENCH" load "$WORK/run/agent.sock" "$c" "$seconds" "$request")"
    e="$("$BENCH" load "$WORK/echo.sock" "$c" "$seconds" "$request")"
    echo "$(field "$a" rate) $(field "$e" rate) $(field "$a" p50_us) $(field "$e" p50_us) $(field "$a" p99_us) $(field "$e" p99_us)" >>"$WORK/rows"
  done
  col() { awk -v k="$1" '{ print $k }' "$WORK/rows" | median; }
  awk -v c="$c" -v ar="$(col 1)" -v er="$(col 2)" -v a50="$(col 3)" -v e50="$(col 4)" \
      -v a99="$(col 5)" -v e99="$(col 6)" \
      'BEGIN { printf "%-6s %12.0f %12.0f %8.0f%% %7dus %7dus %7dus %7dus %7.2fx\n",
               c, ar, er, 100*ar/er, a50, e50, a99, e99, (e99 > 0 ? a99/e99 : 0) }'
done
echo "start to socket ready: ${ready_ms} ms"

prefix='{"op":"token","scopes":["altinn:instances.read"]'
# 3600 s tokens, so no entry expires (and is swept) while 10,000 are filled.
standin_control settings '{"token_lifetime": 3600}' >/dev/null
# Eight fillers at once, each its own consumer_org, 1,250 entries each.
fillers=()
for k in 1 2 3 4 5 6 7 8; do
  "$BENCH" fill "$WORK/run/agent.sock" 1250 "$prefix,\"consumer_org\":\"91000000$k\"" >/dev/null &
  fillers+=($!)
done
for pid in "${fillers[@]}"; do wait "$pid"; done
rss_kib="$(awk '/^VmRSS/ {print $2}' "/proc/$agent/status")"
echo "RSS with $(printf '%s\n' '{"op":"status"}' | socat - "UNIX-CONNECT:$WORK/run/agent.sock" | sed -n 's/.*"entries":\([0-9]*\).*/\1/p') cached entries: $(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB (${rss_kib} KiB)"
