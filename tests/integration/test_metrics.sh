# Metrics through the real agent (docs/OPERATIONS.md "Metrics"): the `metrics` socket
# op, `maskinporten-agent metrics` and the [metrics] HTTP listener each give
# OpenMetrics text that Debian's prometheus_client parses, and the values
# move as requests are served: a first token is a miss and an exchange, a
# second a hit, a refused exchange counts as a failure; the Altinn leg is
# counted in a family of its own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
HTTP_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
write_config "$CONF"
printf '\n[metrics]\nlisten = "127.0.0.1:%s"\n' "$HTTP_PORT" >>"$CONF"
start_agent "$CONF"
METRICS_URL="http://127.0.0.1:$HTTP_PORT/metrics"

parse() { "$PY" "$MPA_SOURCE_DIR/tests/integration/parse_metrics.py"; }
# The samples, parsed, as the CLI prints them.
cli_samples() { "$MPA_BIN" metrics --socket "$SOCK" | parse; }
# sample SAMPLES KEY: one value (0 when the sample is not there).
sample() { json_get "$1" "j.get('$2', 0)"; }

# --- the three ways in, each parsed strictly ---
op_answer="$(agent_lines '{"op":"metrics","id":1}')"
expect_eq "the socket op answers ok with the text" "$(json_get "$op_answer" '[j["ok"], j["id"], j["metrics"].endswith("# EOF\n")]')" '[true, 1, true]'
op_samples="$("$PY" -c 'import sys,json; sys.stdout.write(json.loads(sys.argv[1])["metrics"])' "$op_answer" | parse)" && rc=0 || rc=$?
expect_eq "prometheus_client parses the op's text" "$rc" 0
out="$("$MPA_BIN" metrics --socket "$SOCK")"
expect_eq "the CLI prints the text, ending in # EOF" "$(tail -1 <<<"$out")" "# EOF"
"$MPA_BIN" metrics --config "$CONF" | parse >/dev/null && rc=0 || rc=$?
expect_eq "the CLI finds the socket with --config too, and its text parses" "$rc" 0
http="$(curl -sS -D "$WORK/headers" "$METRICS_URL")"
expect_contains "the listener answers GET /metrics as OpenMetrics" "$(cat "$WORK/headers")" \
  "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"
http_samples="$(parse <<<"$http")" && rc=0 || rc=$?
expect_eq "prometheus_client parses the listener's text" "$rc" 0
expect_eq "any other path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/")" 404
expect_eq "and another method 405" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$METRICS_URL")" 405

expect_eq "the certificate's expiry is in the future" \
  "$(json_get "$http_samples" 'j["maskinporten_agent_certificate_expiry_seconds{client=default}"] > 86400')" True
expect_eq "the version is there" \
  "$(json_get "$http_samples" 'any(k.startswith("maskinporten_agent_build_info{") for k in j)')" True

# --- values move ---
before="$(cli_samples)"
"$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser >/dev/null
first="$(cli_samples)"
"$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser >/dev/null
second="$(cli_samples)"
miss=maskinporten_agent_cache_misses_total{}
hit=maskinporten_agent_cache_hits_total{}
ok_exchange='maskinporten_agent_exchanges_total{outcome=ok}'
expect_eq "a first token is a miss" "$(( $(sample "$first" "$miss") - $(sample "$before" "$miss") ))" 1
expect_eq "and one exchange that succeeded" "$(( $(sample "$first" "$ok_exchange") - $(sample "$before" "$ok_exchange") ))" 1
expect_eq "not a hit" "$(( $(sample "$first" "$hit") - $(sample "$before" "$hit") ))" 0
expect_eq "the second is a hit" "$(( $(sample "$second" "$hit") - $(sample "$first" "$hit") ))" 1
expect_eq "and no exchange" "$(( $(sample "$second" "$ok_exchange") - $(sample "$first" "$ok_exchange") ))" 0
expect_eq "token requests are counted by op and result" \
  "$(( $(sample "$second" 'maskinporten_agent_requests_total{op=token,result=ok}') - $(sample "$before" 'maskinporten_agent_requests_total{op=token,result=ok}') ))" 2
expect_eq "so is each metrics request" \
  "$(( $(sample "$second" 'maskinporten_agent_requests_total{op=metrics,result=ok}') - $(sample "$first" 'maskinporten_agent_requests_total{op=metrics,result=ok}') ))" 1
expect_eq "the exchange was timed" \
  "$(( $(sample "$first" 'maskinporten_agent_exchange_duration_seconds_count{}') - $(sample "$before" 'maskinporten_agent_exchange_duration_seconds_count{}') ))" 1
expect_eq "and its grant's signature" \
  "$(( $(sample "$first" 'maskinporten_agent_signature_duration_seconds_count{}') - $(sample "$before" 'maskinporten_agent_signature_duration_seconds_count{}') ))" 1
now="$(date +%s)"
last="$(sample "$first" 'maskinporten_agent_last_successful_exchange_timestamp_seconds{client=default}')"
expect_eq "the client's last successful exchange is now" "$("$PY" -c "print(abs($last - $now) < 60)")" True
expect_eq "one token cached" "$(sample "$second" 'maskinporten_agent_cache_entries{}')" 1.0

standin_control fail '{"mode":"400","count":1}' >/dev/null
"$MPA_BIN" token --socket "$SOCK" --scope skatteetaten:test >/dev/null 2>&1 && rc=0 || rc=$?
expect_eq "a token Maskinporten refuses fails" "$rc" 1
failed="$(curl -sS "$METRICS_URL" | parse)"
expect_eq "the refused exchange counts as invalid_grant" \
  "$(( $(sample "$failed" 'maskinporten_agent_exchanges_total{outcome=invalid_grant}') - $(sample "$second" 'maskinporten_agent_exchanges_total{outcome=invalid_grant}') ))" 1
expect_eq "and its request by its code" \
  "$(( $(sample "$failed" 'maskinporten_agent_requests_total{op=token,result=invalid_grant}') - $(sample "$second" 'maskinporten_agent_requests_total{op=token,result=invalid_grant}') ))" 1
expect_eq "no success was noted for it" "$(sample "$failed" "$ok_exchange")" "$(sample "$second" "$ok_exchange")"

agent_lines '{"op":"metrics","client":"x"}' >/dev/null
agent_lines 'not json' >/dev/null || true
bad="$(cli_samples)"
expect_eq "a request that cannot be decoded counts as invalid" \
  "$(( $(sample "$bad" 'maskinporten_agent_requests_total{op=invalid,result=invalid_request}') - $(sample "$failed" 'maskinporten_agent_requests_total{op=invalid,result=invalid_request}') ))" 2

# --- the Altinn leg: a family of its own; the Maskinporten leg counts as before ---
altinn_ok='maskinporten_agent_altinn_exchanges_total{outcome=ok}'
altinn_forbidden='maskinporten_agent_altinn_exchanges_total{outcome=forbidden}'
delta() { echo $(( $(sample "$2" "$3") - $(sample "$1" "$3") )); }
"$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --exchange altinn >/dev/null
altinn_first="$(cli_samples)"
expect_eq "an Altinn token is one Altinn exchange that succeeded" "$(delta "$bad" "$altinn_first" "$altinn_ok")" 1
expect_eq "made from one Maskinporten exchange, counted as before" \
  "$(delta "$bad" "$altinn_first" "$ok_exchange")" 1
expect_eq "the Altinn exchange was timed" \
  "$(delta "$bad" "$altinn_first" 'maskinporten_agent_altinn_exchange_duration_seconds_count{}')" 1
expect_eq "apart from the Maskinporten exchanges' histogram" \
  "$(delta "$bad" "$altinn_first" 'maskinporten_agent_exchange_duration_seconds_count{}')" 1
standin_control fail '{"mode":"403","count":1,"path":"/authentication/api/v1/exchange/maskinporten"}' >/dev/null
"$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser --exchange altinn >/dev/null 2>&1 && rc=0 || rc=$?
expect_eq "an Altinn exchange that Altinn refuses fails" "$rc" 1
altinn_refused="$(cli_samples)"
expect_eq "and counts as a forbidden Altinn exchange" "$(delta "$altinn_first" "$altinn_refused" "$altinn_forbidden")" 1
expect_eq "not as a success" "$(delta "$altinn_first" "$altinn_refused" "$altinn_ok")" 0
expect_eq "nor as a refused Maskinporten exchange" \
  "$(delta "$altinn_first" "$altinn_refused" 'maskinporten_agent_exchanges_total{outcome=forbidden}')" 0

# --- the listener stops with the agent ---
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && rc=0 || rc=$?
expect_eq "the agent stops on SIGTERM with its listener" "$rc" 0
expect_eq "and the port is closed" "$(curl -s -o /dev/null -w '%{http_code}' "$METRICS_URL" || true)" 000

finish
