# Altinn end to end (issue 4): the Altinn token exchange through `fetch` and
# through a running agent (caching, reuse of the cached Maskinporten token,
# Altinn's errors in words, 5xx retried), and the socket op verify_altinn
# with the [altinn] certificates of the configuration. Real binary, real
# SoftHSM token, the stand-in Maskinporten (which plays Altinn's exchange)
# over real TLS; consent tokens made by PyJWT.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALTINN_ISSUER="https://platform.tt02.altinn.no/authentication/api/v1/openid/"
EXCHANGE_PATH="/authentication/api/v1/exchange/maskinporten"

make_token
start_standin
V="$WORK/vectors"
"$PY" "$MPA_SOURCE_DIR/tests/vectors/make_altinn_vectors.py" "$V"
CONF="$WORK/agent.toml"
write_config "$CONF" "" "[altinn]" "certificates = [\"$V/altinn.pem\"]"
sed -i 's/^retry_deadline_seconds = 20/retry_deadline_seconds = 10/' "$CONF"

stat_of() { json_get "$(standin_control stats)" "j[\"$1\"]"; }
claim() { json_get "$(jwt_part "$1" 1)" "j[\"$2\"]"; }
vector() {
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$V/tokens.json" "$1"
}
# fail_exchange MODE COUNT: the next COUNT exchange requests fail with MODE.
fail_exchange() {
  standin_control fail "{\"mode\":\"$1\",\"count\":$2,\"path\":\"$EXCHANGE_PATH\"}" >/dev/null
}
# token_cli ARGS...: `token` against the agent; sets OUT, ERR, RC.
token_cli() { capture "$MPA_BIN" token --socket "$SOCK" "$@"; }
still_serves() {
  expect_contains "$1: the agent keeps serving" "$(agent_lines '{"op":"ping"}')" '"ok":true'
}

# --- fetch, no agent ---
altinn="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:instances.read --exchange altinn)"
expect_eq "fetch --exchange altinn prints an Altinn token" "$(claim "$altinn" iss)" "$ALTINN_ISSUER"
expect_eq "made from a Maskinporten token with the scope asked for" \
  "$(claim "$altinn" scope)" "altinn:instances.read"
expect_eq "fetch made one Maskinporten token and one exchange" \
  "$(json_get "$(standin_control stats)" '[j["tokens_issued"], j["exchanges"]]')" '[1, 1]'

start_agent "$CONF"
standin_control reset '{}' >/dev/null

# --- the exchange through the agent, and its cache ---
token_cli --scope altinn:instances.read --exchange altinn
altinn1="$OUT"
expect_eq "token --exchange altinn exits 0" "$RC" 0
expect_eq "and prints an Altinn token" "$(claim "$altinn1" iss)" "$ALTINN_ISSUER"
expect_eq "one Maskinporten token and one exchange behind it" \
  "$(json_get "$(standin_control stats)" '[j["token_requests"], j["exchanges"]]')" '[1, 1]'

token_cli --scope altinn:instances.read --exchange altinn --json
expect_eq "a second request is served from the cache" "$(json_get "$OUT" 'j["access_token"]')" "$altinn1"
expect_eq "without another exchange" "$(stat_of exchanges)" 1
expect_eq "expires_at is the Altinn token's exp" \
  "$(json_get "$OUT" 'j["expires_at"]')" "$(claim "$altinn1" exp)"

token_cli --scope altinn:instances.read
plain="$OUT"
expect_eq "a plain request for the same scopes gets the Maskinporten token" \
  "$(claim "$plain" iss)" "$STANDIN_ISSUER"
expect_eq "the one cached by the exchange: no new grant" "$(stat_of token_requests)" 1
expect_eq "it is the token the Altinn token was made from" \
  "$(json_get "$(standin_control received)" 'j[-1]["jti"]')" "$(claim "$plain" jti)"
[[ "$(claim "$altinn1" exp)" -le "$(claim "$plain" exp)" ]] && ok "the Altinn token does not outlive it" ||
  not_ok "the Altinn token outlives its Maskinporten token"

token_cli --scope altinn:enduser
enduser="$OUT"
token_cli --scope altinn:enduser --exchange altinn
expect_eq "an exchange after a plain request reuses its cached token" \
  "$(json_get "$(standin_control stats)" '[j["token_requests"], j["exchanges"]]')" '[2, 2]'
expect_eq "the exchange was given that token" \
  "$(json_get "$(standin_control received)" 'j[-1]["jti"]')" "$(claim "$enduser" jti)"

token_cli --scope altinn:enduser --exchange altinn --consumer-org 999888777
expect_eq "another grant field is another Maskinporten token" "$(stat_of token_requests)" 3
expect_eq "and another Altinn token" "$(claim "$OUT" "urn:altinn:orgNumber")" 999888777

# A cached Maskinporten token close to expiry (under twice the refresh
# margin of 30 s, plus 15 s) is not made into an Altinn token: a fresh one
# is, and is cached.
standin_control settings '{"token_lifetime": 50}' >/dev/null
token_cli --scope nav:test/api
short="$OUT"
standin_control settings '{"token_lifetime": 120}' >/dev/null
token_cli --scope nav:test/api --exchange altinn
expect_eq "a Maskinporten token with 50 s left is not reused for an exchange" \
  "$(stat_of token_requests)" 5
expect_not_contains "the exchange was given a fresh one" \
  "$(json_get "$(standin_control received)" 'j[-1]["jti"]')" "$(claim "$short" jti)"
fresh_jti="$(json_get "$(standin_control received)" 'j[-1]["jti"]')"
token_cli --scope nav:test/api
expect_eq "which replaced the shorter-lived one in the cache" "$(claim "$OUT" jti)" "$fresh_jti"

# --- Altinn's errors, in words ---
fail_exchange 401 1
token_cli --scope skatteetaten:test --exchange altinn
expect_eq "401 from Altinn exits 1" "$RC" 1
expect_eq "401 is invalid_grant with Altinn's words" "$ERR" \
  'error: invalid_grant: Altinn token exchange: Altinn refused the Maskinporten token (401): WWW-Authenticate: Bearer error="invalid_token"'
still_serves "after 401"
expect_eq "a fresh Maskinporten token refused by Altinn is not tried again" \
  "$(stat_of token_requests)" 6

exchanges_before="$(stat_of exchanges)"
token_cli --scope skatteetaten:test --exchange altinn
expect_contains "asked again at once: the same error, held by the agent" "$ERR" "asks again in"
expect_eq "without another exchange" "$(stat_of exchanges)" "$exchanges_before"
# forget_altinn SCOPE: invalidate the Altinn token's entry (ends a held failure).
forget_altinn() {
  expect_contains "invalidate ends the hold" "$(agent_lines \
    "{\"op\":\"invalidate\",\"scopes\":[\"$1\"],\"exchange\":\"altinn\"}")" '"invalidated":true'
}
forget_altinn skatteetaten:test

fail_exchange 403 1
answer="$(agent_lines '{"op":"token","scopes":["skatteetaten:test"],"exchange":"altinn"}')"
expect_eq "403 from Altinn is forbidden" "$(json_get "$answer" 'j["error"]')" forbidden
expect_eq "with Altinn's words" "$(json_get "$answer" 'j["message"]')" \
  "Altinn token exchange: Altinn refused access for this Maskinporten token (403): Forbidden"
still_serves "after 403"
expect_eq "failed exchanges reused the one Maskinporten token" "$(stat_of token_requests)" 6

# Altinn refusing the cached Maskinporten token: the agent drops it and
# tries once more with a fresh one.
forget_altinn skatteetaten:test
fail_exchange 401 1
token_cli --scope skatteetaten:test --exchange altinn
expect_eq "401 for a cached Maskinporten token, then a fresh one: exits 0" "$RC" 0
expect_eq "with an Altinn token" "$(claim "$OUT" scope)" "skatteetaten:test"
expect_eq "made from a fresh Maskinporten token" "$(stat_of token_requests)" 7
expect_eq "the exchange was tried twice" \
  "$(json_get "$(standin_control received)" '[e["status"] for e in j if e["path"] != "/token"][-2:]')" \
  '[401, 200]'
given="$(json_get "$(standin_control received)" 'j[-1]["jti"]')"
token_cli --scope skatteetaten:test
expect_eq "the fresh one replaced the refused one in the cache" "$(stat_of token_requests)" 7
expect_eq "and is the one the successful exchange was given" "$(claim "$OUT" jti)" "$given"

forget_altinn skatteetaten:test
exchanges_before="$(stat_of exchanges)"
fail_exchange 503 2
token_cli --scope skatteetaten:test --exchange altinn
expect_eq "503 twice, then success: exits 0" "$RC" 0
expect_eq "with an Altinn token" "$(claim "$OUT" scope)" "skatteetaten:test"
expect_eq "the exchange was tried three times" \
  "$(json_get "$(standin_control received)" '[e["status"] for e in j if e["path"] != "/token"][-3:]')" \
  '[503, 503, 200]'
expect_eq "one exchange succeeded" "$(( $(stat_of exchanges) - exchanges_before ))" 1
still_serves "after 503"

# --- many Altinn tokens at once: none waits for another's exchange ---
# The stand-in holds every exchange until released; 32 distinct Altinn
# tokens (one consumer_org each) asked at once must all be waiting there
# together, not 4 at a time on worker threads.
standin_control hold "{\"path\":\"$EXCHANGE_PATH\"}" >/dev/null
exchanges_before="$(stat_of exchanges)"
pids=()
for i in $(seq 10 41); do
  "$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --exchange altinn \
    --consumer-org "9998887$i" >"$WORK/many.$i.out" 2>&1 &
  pids+=("$!")
done
# (A deadline on the clock: each check starts two processes, slow on a busy machine.)
deadline=$((SECONDS + 30))
until standin_held 32 || ((SECONDS > deadline)); do sleep 0.2; done
if standin_held 32; then
  ok "32 Altinn exchanges wait at Altinn at once"
else
  not_ok "32 Altinn exchanges wait at Altinn at once (held: $(stat_of held))"
fi
expect_contains "meanwhile the agent answers others" "$(agent_lines '{"op":"ping"}')" '"ok":true'
standin_control release "{\"path\":\"$EXCHANGE_PATH\"}" >/dev/null
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
expect_eq "all 32 get their token once released" "$failed" 0
expect_eq "each its own Altinn token" \
  "$(for i in $(seq 10 41); do claim "$(cat "$WORK/many.$i.out")" "urn:altinn:orgNumber"; done | sort -u | wc -l)" 32
expect_eq "one exchange each" "$(( $(stat_of exchanges) - exchanges_before ))" 32

# --- verify_altinn over the socket ---
answer="$(agent_lines "{\"op\":\"verify_altinn\",\"token\":\"$(vector valid)\",\"id\":1}")"
expect_eq "a valid consent token is ok" "$(json_get "$answer" '[j["ok"], j["id"]]')" '[true, 1]'
expect_eq "its claims come back" "$(json_get "$answer" 'j["claims"]["iss"]')" "altinn.no"
expect_eq "with Services parsed" \
  "$(json_get "$answer" '[(s["code"], s["edition"]) for s in j["claims"]["services"]]')" \
  '[["4629", "2"], ["4630", "2"]]'

answer="$(agent_lines "{\"op\":\"verify_altinn\",\"token\":\"$(vector expired)\"}")"
expect_eq "an expired consent token is invalid_token" "$(json_get "$answer" 'j["error"]')" invalid_token
expect_contains "with the reason" "$(json_get "$answer" 'j["message"]')" "token expired at 20"
expect_contains "and the leeway" "$(json_get "$answer" 'j["message"]')" "(leeway 60 s)"

answer="$(agent_lines "{\"op\":\"verify_altinn\",\"token\":\"$(vector bad_signature)\"}")"
expect_eq "a tampered consent token is refused in words" "$(json_get "$answer" 'j["message"]')" \
  "signature does not verify with any configured Altinn certificate"
still_serves "after refused consent tokens"

# --- verify_altinn without [altinn] ---
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
write_config "$CONF"
start_agent "$CONF"
answer="$(agent_lines "{\"op\":\"verify_altinn\",\"token\":\"$(vector valid)\"}")"
expect_eq "without [altinn], verify_altinn is invalid_request" "$(json_get "$answer" 'j["error"]')" \
  invalid_request
expect_eq "in words" "$(json_get "$answer" 'j["message"]')" \
  "verify_altinn needs [altinn] certificates in the configuration"
still_serves "after verify_altinn without certificates"

finish
