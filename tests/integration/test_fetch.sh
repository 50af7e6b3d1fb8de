# End to end, one shot: `grant` and `fetch` with a real SoftHSM token and the
# stand-in Maskinporten over real TLS. Grants are verified independently
# (PyJWT in verify_grant.py and in the stand-in).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin --kid "$CLIENT_ID:registered-key-1=$HSM/pki/vsert-auth.pub.pem"
CONF="$WORK/agent.toml"
write_config "$CONF"
ROOT="$HSM/pki/root-ca.pem"

# --- --help answers: every option of grant and fetch is described ---
help="$("$MPA_BIN" grant --help)"
expect_contains "grant --help lists the shared grant options" "$help" "--authorization-details J"
expect_contains "grant --help ends with the exit codes" "$help" "exit status: 0 printed a grant"
help="$("$MPA_BIN" fetch --help)"
expect_contains "fetch --help lists the shared grant options" "$help" "--consumer-org ORGNO"
expect_contains "fetch --help lists its own options" "$help" "--exchange altinn"

# --- grant: what we sign, checked by an independent JOSE implementation ---
grant="$("$MPA_BIN" grant --config "$CONF" --scope altinn:enduser --scope skatteetaten:test)"
verified="$(verified_grant "$grant")"
expect_eq "grant header is alg + x5c (leaf only)" \
  "$(json_get "$verified" 'sorted(j["header"]) + [len(j["header"]["x5c"])]')" '["alg", "x5c", 1]'
expect_eq "grant claims are exactly aud iss iat exp jti scope" \
  "$(json_get "$verified" 'sorted(j["claims"])')" '["aud", "exp", "iat", "iss", "jti", "scope"]'
expect_eq "grant aud is the issuer with its trailing slash" "$(json_get "$verified" 'j["claims"]["aud"]')" "$STANDIN_ISSUER"
expect_eq "grant iss is the client id" "$(json_get "$verified" 'j["claims"]["iss"]')" "$CLIENT_ID"
expect_eq "grant scope is space-joined" "$(json_get "$verified" 'j["claims"]["scope"]')" "altinn:enduser skatteetaten:test"
expect_eq "grant lives 120 s" "$(json_get "$verified" 'j["claims"]["exp"] - j["claims"]["iat"]')" "120"

# grant --help's way to read the claims works on unpadded base64url.
decode="$("$MPA_BIN" grant --help | sed -n 's/^  maskinporten-agent grant \.\.\. | //p; s/^    \(awk .*\)$/\1/p' | tr '\n' ' ')"
claims="$(printf '%s\n' "$grant" | bash -c "set -o pipefail; $decode")" && rc=0 || rc=$?
expect_eq "grant --help's decode example prints the claims" "$rc:$(json_get "$claims" 'j["iss"]')" "0:$CLIENT_ID"

out="$("$MPA_BIN" grant --config "$CONF" --scope not:mine 2>&1)" && rc=0 || rc=$?
expect_eq "scope outside the client's list exits 1" "$rc" 1
expect_contains "scope outside the client's list is named" "$out" "not:mine"

# --- fetch: a real access token through the token ---
token="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:instances.read)"
expect_eq "fetch prints a JWT access token" "$(json_get "$(jwt_part "$token" 1)" 'j["scope"]')" "altinn:instances.read"
expect_eq "the stand-in accepted exactly one grant" \
  "$(json_get "$(standin_control received)" '[r["status"] for r in j]')" "[200]"

json="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser --json)"
expect_eq "fetch --json has the token fields" \
  "$(json_get "$json" 'sorted(j)')" '["access_token", "expires_at", "expires_in", "scope", "token_type"]'
expect_eq "fetch --json token_type" "$(json_get "$json" 'j["token_type"]')" "Bearer"

# --- every grant option reaches the grant and is accepted ---
standin_control reset '{}' >/dev/null
"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser --resource https://tt02.altinn.no \
  --resource https://example.no/api --consumer-org 999888777 --pid 01017012345 >/dev/null
claims="$(json_get "$(standin_control received)" 'j[-1]["claims"]')"
expect_eq "resource is an array" "$(json_get "$claims" 'j["resource"]')" '["https://tt02.altinn.no", "https://example.no/api"]'
expect_eq "consumer_org reaches the grant" "$(json_get "$claims" 'j["consumer_org"]')" "999888777"
expect_eq "pid reaches the grant" "$(json_get "$claims" 'j["pid"]')" "01017012345"

"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser --iss-onbehalfof onbehalf-test >/dev/null
expect_eq "iss_onbehalfof reaches the grant" \
  "$(json_get "$(standin_control received)" 'j[-1]["claims"]["iss_onbehalfof"]')" "onbehalf-test"

details='[{"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:999888777"}}]'
"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser --authorization-details "$details" >/dev/null
expect_eq "authorization_details reach the grant as given" \
  "$(json_get "$(standin_control received)" 'j[-1]["claims"]["authorization_details"][0]["systemuser_org"]["ID"]')" "0192:999888777"

out="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser --consumer-org 999888777 --iss-onbehalfof x 2>&1)" && rc=0 || rc=$?
expect_eq "consumer_org with iss_onbehalfof is refused" "$rc" 1
expect_contains "and says why" "$out" "iss_onbehalfof"

# --- header variants: x5c chain, kid, RS384/RS512, 3072-bit key ---
write_config "$WORK/chain.toml" 'x5c = "chain"' 'alg = "RS512"'
grant="$("$MPA_BIN" grant --config "$WORK/chain.toml" --scope altinn:enduser)"
verified="$(verified_grant "$grant")"
expect_eq "x5c = chain adds the intermediate, RS512" \
  "$(json_get "$verified" '[j["header"]["alg"], len(j["header"]["x5c"])]')" '["RS512", 2]'
"$MPA_BIN" fetch --config "$WORK/chain.toml" --scope altinn:enduser >/dev/null && ok "stand-in accepts an RS512 x5c-chain grant" || not_ok "stand-in accepts an RS512 x5c-chain grant"

write_config "$WORK/kid.toml" 'kid = "registered-key-1"' 'alg = "RS384"'
grant="$("$MPA_BIN" grant --config "$WORK/kid.toml" --scope altinn:enduser)"
expect_eq "kid header carries no x5c" "$(json_get "$(jwt_part "$grant" 0)" 'sorted(j.items())')" '[["alg", "RS384"], ["kid", "registered-key-1"]]'
verified_grant "$grant" "$HSM/pki/vsert-auth.pub.pem" >/dev/null \
  && ok "kid grant verifies with the registered public key" || not_ok "kid grant verifies with the registered public key"
"$MPA_BIN" fetch --config "$WORK/kid.toml" --scope altinn:enduser >/dev/null && ok "stand-in accepts a kid grant" || not_ok "stand-in accepts a kid grant"

sed 's/object=vsert-auth;/object=vsert-auth-3072;/' "$CONF" >"$WORK/3072.toml"
"$MPA_BIN" fetch --config "$WORK/3072.toml" --scope altinn:enduser >/dev/null && ok "3072-bit key works" || not_ok "3072-bit key works"

# --- token problems, each in words ---
sed 's/object=vsert-auth;/object=no-such-key;/' "$CONF" >"$WORK/missing.toml"
out="$("$MPA_BIN" fetch --config "$WORK/missing.toml" --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "missing key exits 1" "$rc" 1
expect_contains "missing key is named" "$out" "no-such-key"

sed 's/object=vsert-auth;/object=mismatch;/' "$CONF" >"$WORK/mismatch.toml"
out="$("$MPA_BIN" check-config --config "$WORK/mismatch.toml" 2>&1)" && rc=0 || rc=$?
expect_eq "certificate/key mismatch exits 1" "$rc" 1
expect_contains "certificate/key mismatch is said" "$out" "match"

sed 's/object=vsert-auth;/object=expired;/' "$CONF" >"$WORK/expired.toml"
out="$("$MPA_BIN" check-config --config "$WORK/expired.toml" 2>&1)" && rc=0 || rc=$?
expect_eq "expired certificate exits 1" "$rc" 1
expect_contains "expired certificate is said" "$out" "expired"

out="$("$MPA_BIN" check-config --config "$CONF" 2>&1)" && rc=0 || rc=$?
expect_eq "check-config passes on a good setup" "$rc" 0
expect_contains "check-config shows the organisation number" "$out" "999888777"

umask 077
echo "0000" >"$WORK/wrong-pin"
sed "s|pin_file = .*|pin_file = \"$WORK/wrong-pin\"|" "$CONF" >"$WORK/wrongpin.toml"
out="$("$MPA_BIN" fetch --config "$WORK/wrongpin.toml" --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "wrong PIN exits 1" "$rc" 1
expect_contains "wrong PIN is said, and not retried" "$out" "not retried"
"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser >/dev/null && ok "the token still works with the right PIN" || not_ok "the token still works with the right PIN"

# --- TLS: always verified ---
grep -v '^ca_file' "$CONF" >"$WORK/noca.toml"
out="$("$MPA_BIN" fetch --config "$WORK/noca.toml" --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "untrusted TLS certificate is refused" "$rc" 1
expect_contains "and the reason is about the certificate" "$out" "certificate"

# --- Maskinporten failures: retried with fresh grants, or not at all ---
standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"500","count":2}' >/dev/null
"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser >/dev/null && ok "500, 500, then success" || not_ok "500, 500, then success"
received="$(standin_control received)"
expect_eq "three attempts were made" "$(json_get "$received" '[r["status"] for r in j]')" "[500, 500, 200]"
expect_eq "each attempt was a fresh grant (distinct jti)" "$(json_get "$received" 'len(set(r["jti"] for r in j))')" "3"

standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"500","count":2}' >/dev/null
err="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser 2>&1 >/dev/null)" && rc=0 || rc=$?
expect_eq "retried attempts print nothing on stderr without --verbose" "$rc:$err" "0:"
standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"500","count":2}' >/dev/null
err="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser --verbose 2>&1 >/dev/null)" && rc=0 || rc=$?
expect_eq "with --verbose, one warning line per retried attempt" "$rc:$(grep -c 'warning: Maskinporten attempt' <<<"$err")" "0:2"

standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"429","count":1,"retry_after":1}' >/dev/null
"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser >/dev/null && ok "429 with Retry-After, then success" || not_ok "429 with Retry-After, then success"

standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"drop","count":1}' >/dev/null
"$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser >/dev/null && ok "dropped connection is retried" || not_ok "dropped connection is retried"

standin_control reset '{}' >/dev/null
write_config "$WORK/extra-scope.toml"
sed -i 's|scopes = \[|scopes = ["nav:not-granted", |' "$WORK/extra-scope.toml"
out="$("$MPA_BIN" fetch --config "$WORK/extra-scope.toml" --scope nav:not-granted 2>&1)" && rc=0 || rc=$?
expect_eq "400 invalid_scope exits 1" "$rc" 1
expect_contains "Maskinporten's error is shown" "$out" "invalid_scope"
expect_eq "in the CLI's one error format, alone" "$(grep -c '^error: invalid_scope: ' <<<"$out")/$(wc -l <<<"$out")" "1/1"
expect_eq "400 invalid_scope is not retried" "$(json_get "$(standin_control received)" 'len(j)')" "1"

standin_control reset '{}' >/dev/null
standin_control fail '{"mode":"garbage","count":10}' >/dev/null
write_config "$WORK/short.toml"
sed -i 's/retry_deadline_seconds = 20/retry_deadline_seconds = 3/' "$WORK/short.toml"
out="$("$MPA_BIN" fetch --config "$WORK/short.toml" --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "garbage answers end in failure" "$rc" 1
expect_contains "garbage answer is described" "$out" "Maskinporten"
expect_eq "after its retries, in one line with its code" "$(wc -l <<<"$out"):$(grep -c '^error: [a-z_]*: ' <<<"$out")" "1:1"

finish
