# End to end for API providers: `maskinporten-agent verify-token` on tokens
# made by an independent JOSE implementation (PyJWT,
# tests/vectors/make_verify_vectors.py) around the real clock, with the exact
# words a user sees; then a consumer getting a consent token through the
# agent from the stand-in and a data source verifying it, with the issuer's
# keys fetched over TLS, through the verify_token socket op, and across the
# stand-in's key switch-over.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

V="$WORK/vectors"
"$PY" "$MPA_SOURCE_DIR/tests/vectors/make_verify_vectors.py" "$V"
OFFLINE=(--issuer https://issuer.test/ --jwks "$V/jwks.json")

tok() { vector_token "$V" "$1"; }

# verify [ARGS...] (stdin passes through): sets OUT, ERR, RC.
verify() { capture "$MPA_BIN" verify-token "$@"; }

# refused NAME WORDS [ARGS...]: the vector is refused, exit 1, WORDS on stderr, nothing on stdout.
refused() {
  local name="$1" words="$2"
  shift 2
  verify "${OFFLINE[@]}" "$@" - <<<"$(tok "$name")"
  expect_eq "$name: exit 1" "$RC" 1
  expect_eq "$name: nothing on stdout" "$OUT" ""
  expect_eq "$name: the reason" "$ERR" "error: invalid_token: $words"
}

# --- accepted, offline ---
verify "${OFFLINE[@]}" --scope test:read --scope test:write --consumer-org 910514458 - <<<"$(tok valid)"
expect_eq "valid token exits 0" "$RC" 0
expect_eq "claims on stdout" "$(json_get "$OUT" 'j["consumer"]["ID"]')" "0192:910514458"
expect_eq "nothing on stderr" "$ERR" ""

verify "${OFFLINE[@]}" "$(tok valid_consent)"
expect_eq "consent token as an argument exits 0" "$RC" 0
expect_eq "consent normalised" \
  "$(json_get "$OUT" '[(d["from"], d["to"], d["consentRights"][0]["metadata"]) for d in j["authorization_details"]]')" \
  '[[{"person": "11025802170"}, {"organisation": "991825827"}, {"inntektsaar": "2022"}]]'

verify "${OFFLINE[@]}" <<<"$(tok valid_consent_metaData)"
expect_eq "metaData read as metadata" \
  "$(json_get "$OUT" 'j["authorization_details"][0]["consentRights"][0]["metadata"]')" '{"inntektsaar": "2028"}'

verify "${OFFLINE[@]}" - <<<"$(tok valid_systemuser)"
expect_eq "system user normalised" \
  "$(json_get "$OUT" '[j["authorization_details"][0][k] for k in ("systemuser_org", "system_id")]')" \
  '[{"organisation": "314168267"}, "991825827_smartcloud"]'

verify "${OFFLINE[@]}" - <<<"$(tok valid_unknown_type)"
expect_eq "an unknown type passes through" "$(json_get "$OUT" 'j["authorization_details"][0]["anything"]')" \
  '{"kept": [1, 2]}'

# --- refused, each for its reason ---
refused alg_none 'alg "none" is refused; only RS256 (Maskinporten'"'"'s algorithm) is accepted'
refused hs256_jwks_key 'alg "HS256" is refused; only RS256 (Maskinporten'"'"'s algorithm) is accepted'
refused unknown_kid 'no key with kid "key-c" in the issuer'"'"'s key set (it holds "key-a"); the token was not signed by the issuer, or by a key it no longer publishes'
refused other_key_known_kid 'the signature does not verify with the issuer'"'"'s key "key-a"'
refused jwk_header 'the token tries to bring its own key (jwk); only the issuer'"'"'s published keys (JWKS) are trusted'
refused wrong_issuer 'iss is "https://maskinporten.no/"; only "https://issuer.test/" is accepted'
refused valid 'the token has no aud claim; audience "https://api.test/" is required (Maskinporten sets aud when the client asks with resource)' --audience https://api.test/
refused scope_read_only 'the token'"'"'s scope lacks "test:write" (it grants "test:read")' --scope test:write
refused other_consumer 'the token'"'"'s consumer is organisation 991825827 (consumer.ID), not 910514458' --consumer-org 910514458
refused consent_from_bad_check_digit "the consent's from is not a valid national identity number (11 digits, date part and mod-11 check digits)"
refused duplicate_iss "the payload repeats a member name"
refused deep_nesting "the payload nests deeper than 16 levels"
verify "${OFFLINE[@]}" - <<<"$(tok expired)"
expect_contains "expired" "$ERR" "error: invalid_token: token expired at 20"
verify "${OFFLINE[@]}" - <<<"$(tok iat_future)"
expect_contains "iat in the future" "$ERR" "error: invalid_token: token issued in the future, at 20"
verify "${OFFLINE[@]}" - <<<"$(tok consent_ended)"
expect_contains "consent past validTo" "$ERR" "error: invalid_token: the consent ended at 20"
verify "${OFFLINE[@]}" - <<<"$(tok oversized)"
expect_eq "oversized on stdin" "$ERR" "error: invalid_token: the token on stdin is longer than 32768 bytes"
verify "${OFFLINE[@]}" "$(tok oversized)"
expect_contains "oversized as an argument" "$ERR" "at most 32768 are accepted"
expect_eq "refusals exit 1" "$RC" 1

# --- usage ---
verify --jwks "$V/jwks.json" - <<<"$(tok valid)"
expect_eq "neither --environment nor --issuer is a usage error" "$RC" 2
verify --environment staging --jwks "$V/jwks.json" - <<<"$(tok valid)"
expect_eq "an unknown environment is a usage error" "$RC" 2
verify "${OFFLINE[@]}" --consumer-org 91051445 - <<<"$(tok valid)"
expect_eq "a consumer org of 8 digits is a usage error" "$RC" 2
verify --issuer https://issuer.test/ --jwks "$V/jwks-small.json" - <<<"$(tok valid)"
expect_contains "a 1024-bit key in the set is refused" "$ERR" "has 1024 bits; at least 2048 expected"

# --- consent end to end: the agent gets it, a data source verifies it ---
make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
cat >>"$CONF" <<CONF

[verify]
issuer = "$STANDIN_ISSUER"
ca_file = "$STANDIN_CA"
CONF
start_agent "$CONF"

CONSENT='[{"type":"urn:altinn:consent","id":"77ed8698-e619-4066-9eb4-5c1eb3f165a1","from":"urn:altinn:person:identifier-no:11025802170"}]'
TOKEN="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --authorization-details "$CONSENT")"
ORG="$(json_get "$(jwt_part "$TOKEN" 1)" 'j["consumer"]["ID"].split(":")[1]')"

verify --issuer "$STANDIN_ISSUER" --ca-file "$STANDIN_CA" --scope altinn:instances.read \
  --consumer-org "$ORG" - <<<"$TOKEN"
expect_eq "the data source verifies the consent token (keys over TLS)" "$RC" 0
expect_eq "its consent, normalised" \
  "$(json_get "$OUT" '[(d["id"], d["from"], d["consentRights"][0]["metadata"]) for d in j["authorization_details"]]')" \
  '[["77ed8698-e619-4066-9eb4-5c1eb3f165a1", {"person": "11025802170"}, {"inntektsaar": "2025"}]]'

verify --issuer "$STANDIN_ISSUER" - <<<"$TOKEN"
expect_contains "without --ca-file the stand-in's TLS is not trusted" "$ERR" "cannot fetch the issuer's keys"

# verify_op TOKEN [SCOPES_JSON]: the verify_token op on the agent's socket.
verify_op() {
  agent_lines "$("$PY" -c 'import json,sys; print(json.dumps({"op":"verify_token","token":sys.argv[1],"scopes":json.loads(sys.argv[2])}))' "$1" "${2:-[]}")"
}
# The agent's first verify_token fetches the issuer's keys. Held at the
# stand-in, that fetch waits on verify_token's own thread: status and
# metrics still answer meanwhile.
standin_control hold '{"path":"/jwk"}' >/dev/null
verify_op "$TOKEN" '["altinn:instances.read"]' >"$WORK/first-verify" & FIRST_VERIFY=$!
track_pid "$FIRST_VERIFY"
wait_for standin_held 1 || not_ok "the first verify_token fetches the issuer's keys"
"$MPA_BIN" status --socket "$SOCK" >/dev/null 2>&1 && rc=0 || rc=$?
still_waiting="$(kill -0 "$FIRST_VERIFY" 2>/dev/null && echo waiting || echo done)"
expect_eq "status answers while verify_token waits for the issuer's keys" "$rc:$still_waiting" "0:waiting"
"$MPA_BIN" metrics --socket "$SOCK" >/dev/null 2>&1 && rc=0 || rc=$?
expect_eq "and so do metrics" "$rc" 0
standin_control release '{"path":"/jwk"}' >/dev/null
wait "$FIRST_VERIFY"
ANSWER="$(cat "$WORK/first-verify")"
expect_eq "verify_token op accepts it" "$(json_get "$ANSWER" 'j["ok"]')" "True"
expect_eq "and answers its claims" "$(json_get "$ANSWER" 'j["claims"]["authorization_details"][0]["to"]')" \
  "{\"organisation\": \"$ORG\"}"
ANSWER="$(verify_op "$TOKEN" '["nav:test/api"]')"
expect_eq "verify_token op refuses a missing scope" "$(json_get "$ANSWER" '[j["ok"], j["error"]]')" \
  '[false, "invalid_token"]'
expect_contains "in words" "$(json_get "$ANSWER" 'j["message"]')" 'scope lacks "nav:test/api"'

SYSTEM_USER='[{"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:314168267"}}]'
SU_TOKEN="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --authorization-details "$SYSTEM_USER")"
ANSWER="$(verify_op "$SU_TOKEN")"
expect_eq "a system-user token through the agent, verified" \
  "$(json_get "$ANSWER" 'j["claims"]["authorization_details"][0]["systemuser_org"]')" '{"organisation": "314168267"}'

# --- the stand-in switches keys: the agent fetches the set again for the new kid ---
NEW_KID="$(json_get "$(standin_control rotate_key '{}')" 'j["kid"]')"
NEW_TOKEN="$("$MPA_BIN" token --socket "$SOCK" --scope skatteetaten:test)"
expect_eq "the new token is signed by the new key" "$(json_get "$(jwt_part "$NEW_TOKEN" 0)" 'j["kid"]')" "$NEW_KID"
ANSWER="$(verify_op "$NEW_TOKEN")"
expect_eq "verify_token accepts the rotated-in key after fetching the set again" "$(json_get "$ANSWER" 'j["ok"]')" "True"
ANSWER="$(verify_op "$TOKEN")"
expect_eq "and the old key still verifies during the switch-over" "$(json_get "$ANSWER" 'j["ok"]')" "True"

finish
