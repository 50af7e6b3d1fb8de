# The cold path through the real agent: prefetched tokens before any
# request, refreshes ahead without a request in the window, a min_ttl
# longer than Maskinporten's tokens live, a certificate that does not
# verify (not retried), and status showing exchanges and signing queues.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
# 20 s tokens with a 10 s margin: a refresh ahead is due 10-12 s after a fetch.
standin_control settings '{"token_lifetime": 20}' >/dev/null
CONF="$WORK/agent.toml"
write_config "$CONF" 'prefetch = [["skatteetaten:test"]]'
sed -i 's/^refresh_margin_seconds = 30/refresh_margin_seconds = 10/' "$CONF"
# A client whose ca_file does not hold the stand-in's CA.
{ echo; client_table untrusting | sed "s|^ca_file = .*|ca_file = \"$HSM/pki/root-ca.pem\"|"
  echo 'scopes = ["altinn:enduser"]'; } >>"$CONF"
mkdir -p "$WORK/run"
start_agent "$CONF"

token_requests() { json_get "$(standin_control stats)" 'j["token_requests"]'; }
received_for() {  # how many grants the stand-in got asking for scope $1
  json_get "$(standin_control received)" \
    "len([e for e in j if e['path'] == '/token' and ((e.get('claims') or {}).get('scope') == '$1')])"
}
status_json() { "$MPA_BIN" status --socket "$SOCK" --json; }
ask() { agent_lines "{\"op\":\"token\",\"client\":\"default\",\"scopes\":[\"$1\"]${2:-}}"; }

# --- prefetch: fetched at start, the first request is a hit ---
prefetched() { [[ "$(received_for skatteetaten:test)" -ge 1 ]]; }
wait_for prefetched && ok "a prefetch token is fetched at start, before any request" \
  || not_ok "a prefetch token is fetched at start, before any request"
answer="$(ask skatteetaten:test)"
expect_contains "the first request for it gets a token" "$answer" '"access_token"'
expect_eq "from the cache: no miss" "$(json_get "$(status_json)" '[j["cache"]["hits"], j["cache"]["misses"]]')" "[1, 0]"

# --- refresh ahead in the background ---
first="$(json_get "$(ask altinn:instances.read)" 'j["access_token"]')"
expect_eq "a token for a second key: one grant" "$(received_for altinn:instances.read)" 1
# No request for it from here on: the agent refreshes it by itself, as it
# keeps the prefetched one fresh.
refreshed() { [[ "$(received_for altinn:instances.read)" -ge 2 && "$(received_for skatteetaten:test)" -ge 2 ]]; }
wait_for_seconds 30 refreshed && ok "entries in use are refreshed ahead without a request in their window" \
  || not_ok "entries in use are refreshed ahead without a request in their window"
second="$(json_get "$(ask altinn:instances.read)" 'j["access_token"]')"
[[ -n "$second" && "$second" != "$first" ]] && ok "the next request gets the refreshed token at once" \
  || not_ok "the next request gets the refreshed token at once"

# --- a min_ttl longer than the tokens live: one exchange, not one per request ---
before="$(received_for nav:test/api)"
for i in 1 2 3 4 5 6 7 8 9 10; do ask nav:test/api ',"min_ttl":60' >"$WORK/long.$i"; done
expect_eq "ten requests for min_ttl 60 on 20 s tokens: one grant" "$(($(received_for nav:test/api) - before))" 1
expect_contains "each answered unavailable" "$(cat "$WORK"/long.*)" '"error":"unavailable"'
expect_contains "saying what min_ttl can be met" "$(cat "$WORK/long.10")" "ask with a min_ttl of at most 20"

# --- a certificate that does not verify: not retried, and says where trust comes from ---
before="$(token_requests)"
retries_before="$(grep -c retrying "$AGENT_LOG" || true)"
start=$SECONDS
answer="$(agent_lines '{"op":"token","client":"untrusting","scopes":["altinn:enduser"]}')"
expect_contains "an untrusted certificate: unavailable" "$answer" '"error":"unavailable"'
expect_contains "naming ca_file" "$answer" "ca_file"
expect_eq "answered without the retry deadline's wait" "$(( SECONDS - start < 10 ))" 1
expect_eq "no grant reached the stand-in" "$(token_requests)" "$before"
expect_eq "and no retry was logged" "$(grep -c retrying "$AGENT_LOG" || true)" "$retries_before"

# --- status: exchanges in flight and the signing queue ---
status="$(status_json)"
expect_eq "status shows the exchange slots" "$(json_get "$status" 'j["workers"]["size"]')" 64
expect_eq "and one signing queue for the one token, with its threads" \
  "$(json_get "$status" '[len(j["signing"]), j["signing"][0]["threads"]]')" "[1, 4]"
expect_contains "the CLI shows the signing queue" "$("$MPA_BIN" status --socket "$SOCK")" "signing "

finish
