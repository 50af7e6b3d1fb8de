# Self-test of the stand-in Maskinporten (tests/standin/maskinporten.py):
# every check the other integration tests rely on, exercised with grants made
# by tests/standin/make_grant.py; the agent is not involved. One grant is
# signed on the fixture token (pkcs11-tool) against a stand-in trusting the
# fixture PKI; the token's keys never leave it, so every other grant is signed
# with a software PKI made here, trusted by a second stand-in.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAKE_GRANT="$MPA_SOURCE_DIR/tests/standin/make_grant.py"
JWT_BEARER="urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE="authentication/api/v1/exchange/maskinporten"

# grant [make_grant options]: a grant for the stand-in, good unless told otherwise.
grant() {
  "$PY" "$MAKE_GRANT" grant --pki "$HSM/pki" --aud "$STANDIN_ISSUER" --iss "$CLIENT_ID" \
    --scope altinn:enduser "$@"
}

# post_token ASSERTION [curl options]: sets CODE (or curl-N), BODY and HEADERS.
post_token() {
  local assertion="$1"
  shift
  rm -f "$WORK/body" "$WORK/headers"
  CODE="$(curl -sS --cacert "$STANDIN_CA" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
    --data-urlencode "grant_type=$JWT_BEARER" --data-urlencode "assertion=$assertion" \
    "$@" "${STANDIN_ISSUER}token" 2>/dev/null)" || CODE="curl-$?"
  BODY="$(cat "$WORK/body" 2>/dev/null || true)"
  HEADERS="$(cat "$WORK/headers" 2>/dev/null || true)"
}

# exchange [curl options]: GET the Altinn exchange; sets CODE, BODY, HEADERS.
exchange() {
  rm -f "$WORK/body" "$WORK/headers"
  CODE="$(curl -sS --cacert "$STANDIN_CA" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
    "$@" "${STANDIN_ISSUER}$EXCHANGE" 2>/dev/null)" || CODE="curl-$?"
  BODY="$(cat "$WORK/body" 2>/dev/null || true)"
  HEADERS="$(cat "$WORK/headers" 2>/dev/null || true)"
}

# expect_refused NAME ERROR NEEDLE GRANT: a 400 with that error, described.
expect_refused() {
  post_token "$4"
  expect_eq "$1: 400" "$CODE" 400
  expect_eq "$1: error" "$(json_get "$BODY" 'j["error"]' 2>/dev/null)" "$2"
  expect_contains "$1: described" "$(json_get "$BODY" 'j["error_description"]' 2>/dev/null)" "$3"
}

expect_accepted() {
  post_token "$2"
  expect_eq "$1" "$CODE" 200
}

# verify_access_token TOKEN: its claims as JSON, checked with the stand-in's JWKS.
verify_access_token() {
  "$PY" - "$1" "$(curl -sS --cacert "$STANDIN_CA" "${STANDIN_ISSUER}jwk")" "$STANDIN_ISSUER" <<'PY'
import json, sys
import jwt
token, jwks, issuer = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwks["keys"][0]))
print(json.dumps(jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                            options={"verify_aud": False}), sort_keys=True))
PY
}

# --- the fixture PKI: a grant signed on the SoftHSM token ---------------------
# The same set-up test_fetch.sh uses; pkcs11-tool signs, not the agent.
make_token
start_standin
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
"$PY" "$MAKE_GRANT" grant --aud "$STANDIN_ISSUER" --iss "$CLIENT_ID" --scope altinn:enduser \
  --cert "$HSM/pki/vsert-auth.pem" --unsigned | tr -d '\n' >"$WORK/signing-input"
pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label "Virksomhet Test" \
  --login --pin "$(cat "$HSM/pin")" --sign --mechanism SHA256-RSA-PKCS --id 01 \
  --input-file "$WORK/signing-input" --output-file "$WORK/signature" >/dev/null 2>&1
post_token "$(cat "$WORK/signing-input").$(b64url <"$WORK/signature")"
expect_eq "a grant signed on the fixture token, x5c leaf only, gets a token" "$CODE" 200
expect_eq "its consumer is the fixture certificate's organisation" \
  "$(json_get "$(jwt_part "$(json_get "$BODY" 'j["access_token"]')" 1)" 'j["consumer"]["ID"]')" "0192:999888777"
mv "$WORK/standin" "$WORK/standin-fixture"

# --- the rest with a software PKI, whose keys this test can use ----------------
# start_standin trusts $HSM/pki/root-ca.pem (and chain.pem beside it).
HSM="$WORK/softpki"
"$PY" "$MAKE_GRANT" pki "$HSM/pki"
start_standin --kid "$CLIENT_ID:registered-key-1=$HSM/pki/leaf.pub.pem"

# --- metadata -------------------------------------------------------------------
meta="$(curl -sS --cacert "$STANDIN_CA" "${STANDIN_ISSUER}.well-known/oauth-authorization-server")"
expect_eq "metadata issuer has the trailing slash" "$(json_get "$meta" 'j["issuer"]')" "$STANDIN_ISSUER"
expect_eq "metadata token endpoint" "$(json_get "$meta" 'j["token_endpoint"]')" "${STANDIN_ISSUER}token"
expect_eq "metadata jwks_uri" "$(json_get "$meta" 'j["jwks_uri"]')" "${STANDIN_ISSUER}jwk"
expect_eq "metadata grant type" "$(json_get "$meta" 'j["grant_types_supported"]')" "[\"$JWT_BEARER\"]"
expect_eq "metadata algorithms" "$(json_get "$meta" 'j["token_endpoint_auth_signing_alg_values_supported"]')" \
  '["RS256", "RS384", "RS512"]'
jwks="$(curl -sS --cacert "$STANDIN_CA" "${STANDIN_ISSUER}jwk")"
expect_eq "JWKS holds one RSA signing key with a kid" \
  "$(json_get "$jwks" '[len(j["keys"]), j["keys"][0]["kty"], j["keys"][0]["alg"], bool(j["keys"][0]["kid"])]')" \
  '[1, "RSA", "RS256", true]'
curl -sS --cacert "$STANDIN_CA" "https://127.0.0.1:$STANDIN_PORT/jwk" >/dev/null \
  && ok "TLS certificate also names 127.0.0.1" || not_ok "TLS certificate also names 127.0.0.1"

# --- a good grant -------------------------------------------------------------------
good="$(grant --jti good-grant-1)"
post_token "$good"
expect_eq "good grant gets 200" "$CODE" 200
expect_eq "answer fields" "$(json_get "$BODY" 'sorted(j)')" '["access_token", "expires_in", "scope", "token_type"]'
expect_eq "answer token_type, expires_in, scope" \
  "$(json_get "$BODY" '[j["token_type"], j["expires_in"], j["scope"]]')" '["Bearer", 120, "altinn:enduser"]'
access_token="$(json_get "$BODY" 'j["access_token"]')"
claims="$(verify_access_token "$access_token")"
expect_eq "access token verifies with the JWKS and names the client" \
  "$(json_get "$claims" '[j["client_id"], j["scope"], j["token_type"]]')" "[\"$CLIENT_ID\", \"altinn:enduser\", \"Bearer\"]"
expect_eq "access token consumer is the certificate's organisation" \
  "$(json_get "$claims" 'j["consumer"]["ID"]')" "0192:999888777"
expect_eq "access token lives the configured lifetime" "$(json_get "$claims" 'j["exp"] - j["iat"]')" 120
received="$(standin_control received)"
expect_eq "received records the grant with status, jti and verified claims" \
  "$(json_get "$received" '[(r["path"], r["status"], r["jti"], r["claims"]["iss"], r["header"]["alg"], r["error"]) for r in j]')" \
  "[[\"/token\", 200, \"good-grant-1\", \"$CLIENT_ID\", \"RS256\", null]]"

expect_refused "replayed jti" invalid_grant "used before" "$good"
expect_refused "replayed jti in a new grant" invalid_grant "used before" "$(grant --jti good-grant-1)"

# --- the grant's claims --------------------------------------------------------------------
expect_refused "aud = token endpoint" invalid_grant "aud" "$(grant --claim "aud=\"${STANDIN_ISSUER}token\"")"
expect_refused "aud without the trailing slash" invalid_grant "aud" "$(grant --claim "aud=\"${STANDIN_ISSUER%/}\"")"
expect_refused "aud as an array" invalid_grant "aud" "$(grant --claim "aud=[\"$STANDIN_ISSUER\"]")"
expect_refused "extra claim" invalid_grant "not allowed" "$(grant --claim 'foo="bar"')"
expect_refused "nbf is not on the whitelist" invalid_grant "nbf" "$(grant --claim 'nbf=0')"
expect_refused "exp - iat = 121" invalid_grant "too long" "$(grant --lifetime 121)"
expect_accepted "exp - iat = 120 is accepted" "$(grant --lifetime 120)"
expect_refused "iat 60 s in the future" invalid_grant "future" "$(grant --iat-offset 60)"
expect_accepted "iat 5 s in the future is within the skew" "$(grant --iat-offset 5)"
expect_refused "expired grant" invalid_grant "expired" "$(grant --iat-offset -300)"
expect_refused "iat as a string" invalid_grant "integer" "$(grant --claim 'iat="now"')"
expect_refused "missing jti" invalid_grant "jti" "$(grant --drop jti)"
expect_refused "missing scope" invalid_grant "scope" "$(grant --drop scope)"
expect_refused "unknown client" invalid_client "Client not found" "$(grant --claim 'iss="no-such-client"')"
expect_refused "consumer_org with iss_onbehalfof" invalid_grant "together" \
  "$(grant --claim 'consumer_org="999888777"' --claim 'iss_onbehalfof="x"')"
expect_refused "consumer_org of 8 digits" invalid_grant "9-digit" "$(grant --claim 'consumer_org="99988877"')"
expect_refused "consumer_org with a trailing newline" invalid_grant "9-digit" \
  "$(grant --claim 'consumer_org="999888777\n"')"
expect_refused "pid of 10 digits" invalid_grant "11-digit" "$(grant --claim 'pid="0101701234"')"
expect_refused "authorization_details without type" invalid_grant "authorization_details" \
  "$(grant --claim 'authorization_details=[{"systemuser_org":{}}]')"

post_token "$(grant --claim 'consumer_org="111222333"' --claim 'resource=["https://tt02.altinn.no"]' \
  --claim 'pid="01017012345"' --claim 'authorization_details=[{"type":"urn:altinn:systemuser"}]')"
expect_eq "every optional claim together is accepted" "$CODE" 200
claims="$(verify_access_token "$(json_get "$BODY" 'j["access_token"]')")"
expect_eq "delegation: consumer is consumer_org, supplier the certificate's org" \
  "$(json_get "$claims" '[j["consumer"]["ID"], j["supplier"]["ID"], j["aud"]]')" \
  '["0192:111222333", "0192:999888777", ["https://tt02.altinn.no"]]'

# --- scopes ----------------------------------------------------------------------------------
expect_refused "unknown scope" invalid_scope "MP-" "$(grant --scope 'altinn:enduser not:mine')"
expect_contains "unknown scope is named" "$BODY" "not:mine"
post_token "$(grant --scope 'altinn:enduser skatteetaten:test')"
expect_eq "several allowed scopes are granted, space-joined" "$(json_get "$BODY" 'j["scope"]')" \
  "altinn:enduser skatteetaten:test"

# --- the header, the certificate, the key ----------------------------------------------------
expect_refused "alg HS256" invalid_grant "HS256" "$(grant --alg HS256)"
expect_refused "alg none" invalid_grant "none" "$(grant --alg none)"
expect_refused "typ beside x5c" invalid_grant "header" "$(grant --header 'typ="JWT"')"
expect_refused "kid beside x5c" invalid_grant "header" "$(grant --header 'kid="registered-key-1"')"
expect_refused "x5c as a string" invalid_grant "x5c" "$(grant --header 'x5c="MIIB"')"
expect_refused "x5c in base64url" invalid_grant "standard base64" "$(grant --x5c urlsafe)"
expect_refused "x5c from an untrusted CA" invalid_grant "trusted" "$(grant --x5c other)"
expect_refused "expired certificate" invalid_grant "expired" "$(grant --x5c expired)"
expect_refused "the trusted root itself as the leaf" invalid_grant "CA certificate" "$(grant --x5c root)"
expect_refused "bad signature" invalid_grant "Signature" "$(grant --tamper)"
expect_accepted "x5c chain (leaf + intermediate) with RS512" "$(grant --x5c chain --alg RS512)"
expect_accepted "leaf-only x5c with RS384 (intermediate from chain.pem)" "$(grant --alg RS384)"
expect_accepted "registered kid" "$(grant --kid registered-key-1)"
expect_refused "kid not registered" invalid_grant "registered" "$(grant --kid unknown-key)"
expect_refused "registered kid, signed by another key" invalid_grant "Signature" \
  "$(grant --kid registered-key-1 --x5c other)"

# --- the request itself ----------------------------------------------------------------------
post_token x -H 'Content-Type: application/json'
expect_eq "JSON content type is refused" "$CODE" 400
expect_eq "as invalid_request" "$(json_get "$BODY" 'j["error"]')" invalid_request
CODE="$(curl -sS --cacert "$STANDIN_CA" -o "$WORK/body" -w '%{http_code}' \
  -d grant_type=client_credentials -d "assertion=$(grant)" "${STANDIN_ISSUER}token")"
expect_eq "another grant_type is refused" "$CODE $(json_get "$(cat "$WORK/body")" 'j["error"]')" "400 invalid_request"
CODE="$(curl -sS --cacert "$STANDIN_CA" -o "$WORK/body" -w '%{http_code}' \
  --data-urlencode "grant_type=$JWT_BEARER" "${STANDIN_ISSUER}token")"
expect_eq "a missing assertion is refused" "$CODE $(json_get "$(cat "$WORK/body")" 'j["error"]')" "400 invalid_request"
expect_refused "an assertion that is not a JWS" invalid_request "Invalid assertion" "abc.def"
CODE="$(curl -sS --cacert "$STANDIN_CA" -o /dev/null -w '%{http_code}' "${STANDIN_ISSUER}token")"
expect_eq "GET /token is not allowed" "$CODE" 405

# --- injected failures ------------------------------------------------------------------------
standin_control reset '{}' >/dev/null
expect_eq "reset clears received" "$(standin_control received)" "[]"
expect_refused "reset keeps the replay set" invalid_grant "used before" "$(grant --jti good-grant-1)"

standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"500","count":2}' >/dev/null
codes=()
for _ in 1 2 3; do post_token "$(grant)"; codes+=("$CODE"); done
expect_eq "fail 500 count 2: 500, 500, 200" "${codes[*]}" "500 500 200"
received="$(standin_control received)"
expect_eq "failed requests are recorded with their status" "$(json_get "$received" '[r["status"] for r in j]')" "[500, 500, 200]"
expect_eq "and with their jti" "$(json_get "$received" 'len(set(r["jti"] for r in j if r["jti"]))')" 3

standin_control fail '{"mode":"429","count":1,"retry_after":7}' >/dev/null
post_token "$(grant)"
expect_eq "429 injected" "$CODE" 429
expect_contains "429 carries Retry-After" "$HEADERS" "Retry-After: 7"

standin_control fail '{"mode":"503","count":1}' >/dev/null
post_token "$(grant)"
expect_eq "503 injected" "$CODE" 503

standin_control fail '{"mode":"400","count":1}' >/dev/null
post_token "$(grant)"
expect_eq "400 injected" "$CODE $(json_get "$BODY" 'j["error"]')" "400 invalid_request"

standin_control fail '{"mode":"garbage","count":1}' >/dev/null
post_token "$(grant)"
expect_eq "garbage answers 200" "$CODE" 200
"$PY" -c 'import json,sys; json.loads(sys.argv[1])' "$BODY" 2>/dev/null \
  && not_ok "garbage body is not JSON" || ok "garbage body is not JSON"

standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"drop","count":1}' >/dev/null
post_token "$(grant)"
expect_contains "drop closes without an answer" "$CODE" "curl-"
expect_eq "a dropped request is recorded without a status" \
  "$(json_get "$(standin_control received)" '[r["status"] for r in j]')" "[null]"
post_token "$(grant)"
expect_eq "the next request is answered" "$CODE" 200

standin_control fail '{"mode":"slow","count":1,"delay":1}' >/dev/null
post_token "$(grant)"
expect_eq "slow answers normally after the delay" "$CODE" 200

out="$(standin_control fail '{"mode":"teapot","count":1}')"
expect_contains "an unknown failure mode is refused" "$out" "mode must be"
out="$(standin_control fail '{"mode":"500","count":0}')"
expect_contains "count 0 is refused" "$out" "count"
out="$(standin_control settings '{"token_lifetime":"long"}')"
expect_contains "a bad setting is refused" "$out" "token_lifetime"
out="$(standin_control reset 'not json')"
expect_contains "a control body that is not JSON is refused" "$out" "JSON object"

# --- settings ---------------------------------------------------------------------------------
standin_control reset '{}' >/dev/null
standin_control settings '{"token_lifetime":5}' >/dev/null
post_token "$(grant)"
expect_eq "settings token_lifetime: expires_in" "$(json_get "$BODY" 'j["expires_in"]')" 5
expect_eq "settings token_lifetime: the token's exp" \
  "$(json_get "$(verify_access_token "$(json_get "$BODY" 'j["access_token"]')")" 'j["exp"] - j["iat"]')" 5

standin_control settings '{"delay":1}' >/dev/null
pids=()
for i in 1 2 3 4 5; do
  curl -sS --cacert "$STANDIN_CA" -o /dev/null -w '%{http_code}\n' --data-urlencode "grant_type=$JWT_BEARER" \
    --data-urlencode "assertion=$(grant)" "${STANDIN_ISSUER}token" >"$WORK/parallel.$i" &
  pids+=($!)
done
wait "${pids[@]}"
expect_eq "delayed answers to concurrent requests all succeed" "$(cat "$WORK"/parallel.* | sort | uniq -c | tr -s ' ')" " 5 200"
expect_eq "stats count requests and tokens" "$(standin_control stats)" \
  '{"token_requests": 6, "tokens_issued": 6, "exchanges": 0, "held": 0}'
standin_control reset '{}' >/dev/null
post_token "$(grant)"
expect_eq "reset restores the default lifetime" "$(json_get "$BODY" 'j["expires_in"]')" 120

# --- Altinn exchange ----------------------------------------------------------------------------
mp_token="$(json_get "$BODY" 'j["access_token"]')"
mp_exp="$(json_get "$(jwt_part "$mp_token" 1)" 'j["exp"]')"
exchange -H "Authorization: Bearer $mp_token"
expect_eq "exchange with a good bearer: 200" "$CODE" 200
expect_contains "exchange answers text/plain" "$HEADERS" "Content-Type: text/plain"
altinn="$(jwt_part "$BODY" 1)"
expect_eq "Altinn token issuer, scope and client" \
  "$(json_get "$altinn" '[j["iss"], j["scope"], j["client_id"]]')" \
  "[\"https://platform.tt02.altinn.no/authentication/api/v1/openid/\", \"altinn:enduser\", \"$CLIENT_ID\"]"
expect_eq "Altinn token expires no later than the Maskinporten token" \
  "$(json_get "$altinn" "j['exp'] <= $mp_exp")" True
expect_eq "Altinn token is RS256, signed by the stand-in's key" \
  "$(json_get "$(jwt_part "$BODY" 0)" 'j["alg"]') $(json_get "$(jwt_part "$BODY" 0)" 'j["kid"]')" \
  "RS256 $(json_get "$jwks" 'j["keys"][0]["kid"]')"

exchange
expect_eq "exchange without a bearer: 401" "$CODE" 401
exchange -H "Authorization: Bearer ${mp_token}x"
expect_eq "exchange with a tampered bearer: 401" "$CODE" 401
exchange -H "Authorization: Bearer $(grant)"
expect_eq "exchange with a token it did not issue: 401" "$CODE" 401
exchange -H "Authorization: Basic $mp_token"
expect_eq "exchange with another scheme: 401" "$CODE" 401

standin_control fail "{\"mode\":\"503\",\"count\":1,\"path\":\"/$EXCHANGE\"}" >/dev/null
exchange -H "Authorization: Bearer $mp_token"
expect_eq "failure injected on the exchange path" "$CODE" 503
exchange -H "Authorization: Bearer $mp_token"
expect_eq "and only there, once" "$CODE" 200
expect_eq "exchanges are recorded" \
  "$(json_get "$(standin_control received)" "[r['status'] for r in j if r['path'] == '/$EXCHANGE']")" \
  "[200, 401, 401, 401, 401, 503, 200]"
expect_eq "stats count exchanges" "$(json_get "$(standin_control stats)" 'j["exchanges"]')" 2

standin_control fail "{\"mode\":\"403\",\"count\":1,\"path\":\"/$EXCHANGE\"}" >/dev/null
exchange -H "Authorization: Bearer $mp_token"
expect_eq "403 injected on the exchange path" "$CODE $BODY" "403 Forbidden"
standin_control fail "{\"mode\":\"401\",\"count\":1,\"path\":\"/$EXCHANGE\"}" >/dev/null
exchange -H "Authorization: Bearer $mp_token"
expect_eq "401 injected on the exchange path" "$CODE" 401

standin_control settings '{"token_lifetime":1}' >/dev/null
post_token "$(grant)"
short_token="$(json_get "$BODY" 'j["access_token"]')"
wait_until_epoch "$(json_get "$(jwt_part "$short_token" 1)" 'j["exp"]')"
exchange -H "Authorization: Bearer $short_token"
expect_eq "exchange with an expired bearer: 401" "$CODE" 401
standin_control reset '{}' >/dev/null

# --- hold and release: a slow answer, for exactly as long as a test wants ------------------------
standin_control hold '{}' >/dev/null
held_grant="$(grant)"
(post_token "$held_grant"; echo "$CODE" >"$WORK/held.code") &
held_pid=$!
wait_for standin_held 1 && ok "a held /token request waits, and stats count it" \
  || not_ok "a held /token request waits, and stats count it"
kill -0 "$held_pid" 2>/dev/null && ok "it is not answered while held" || not_ok "it is not answered while held"
expect_eq "release answers the one held request" "$(json_get "$(standin_control release '{}')" 'j["released"]')" 1
wait "$held_pid" || true
expect_eq "which then gets its token" "$(cat "$WORK/held.code")" 200
expect_eq "nothing is held after the release" "$(json_get "$(standin_control stats)" 'j["held"]')" 0
post_token "$(grant)"
expect_eq "and later requests are not held" "$CODE" 200
expect_contains "hold refuses an unknown path" "$(standin_control hold '{"path":"/nope"}')" "path must be"
standin_control reset '{}' >/dev/null

# --- bad input never takes it down --------------------------------------------------------------
printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$STANDIN_PORT" 2>/dev/null || true
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
CODE="$(curl -sS --cacert "$STANDIN_CA" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
  --data-binary @"$WORK/big" "${STANDIN_ISSUER}token")"
expect_eq "a body over 64 KiB is refused" "$CODE" 400
head -c 2000 /dev/urandom >"$WORK/random"
CODE="$(curl -sS --cacert "$STANDIN_CA" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
  --data-binary @"$WORK/random" "${STANDIN_ISSUER}token")"
expect_eq "a binary body is refused" "$CODE" 400
post_token "$(grant --header 'alg=["RS256"]')"
expect_eq "a non-string alg is refused" "$CODE" 400
post_token "eyJhbGciOiJSUzI1NiIsImFsZyI6IlJTMjU2In0.e30.AA"
expect_eq "a header with a duplicate member is refused" "$CODE" 400
nested="$("$PY" -c 'import base64; print(base64.urlsafe_b64encode(b"["*20000).decode().rstrip("="))')"
post_token "eyJhbGciOiJSUzI1NiJ9.$nested.AA"
expect_eq "deeply nested JSON claims are refused" "$CODE" 400
post_token "$(grant)"
expect_eq "still serving after bad input" "$CODE" 200
expect_not_contains "no traceback in the log" "$(cat "$STANDIN_DIR/log")" "Traceback"
expect_not_contains "no internal error in the log" "$(cat "$STANDIN_DIR/log")" "bug:"

finish
