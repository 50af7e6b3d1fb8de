# A second real PKCS#11 module: tpm2-pkcs11 on a software TPM (swtpm +
# tpm2-abrmd on a private D-Bus, softhsm-fixtures/make-tpm-token.sh), with
# the key generated in the TPM. `fetch` and the running agent both get an
# access token from the stand-in Maskinporten; the grants are verified
# independently (PyJWT in verify_grant.py and in the stand-in).
#
# If the TPM stack cannot start (a package missing), this test fails and
# says why: scripts/setup.sh installs the packages.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TPM="$WORK/tpm"
TPM_FIXTURE="$MPA_SOURCE_DIR/softhsm-fixtures/make-tpm-token.sh"
# The fixture's daemons are not our children: the fixture stops them by the
# PIDs it wrote and waits until they are gone, before lib.sh's cleanup.
trap '[[ -d "$TPM" ]] && "$TPM_FIXTURE" --stop "$TPM"; _cleanup' EXIT

started=$(date +%s%N)
if ! "$TPM_FIXTURE" "$TPM" >"$WORK/make-tpm-token.log" 2>&1; then
  cat "$WORK/make-tpm-token.log" >&2
  not_ok "the TPM token fixture starts (swtpm, dbus, tpm2-abrmd, tpm2-pkcs11; scripts/setup.sh installs them)"
  finish
  exit 1
fi
ok "the TPM token fixture starts in $(( ($(date +%s%N) - started) / 1000000 )) ms"
# TPM2_PKCS11_TCTI, DBUS_SESSION_BUS_ADDRESS, TPM2_PKCS11_STORE: the module
# reads them, so the agent (and whatever process loads the module) gets them.
source "$TPM/env"
TPM_MODULE="$(cat "$TPM/module")"

HSM="$TPM"    # lib.sh's start_standin and write_config read the PKI and PIN here
KEY_URI="pkcs11:token=Virksomhet%20TPM;object=vsert-auth;type=private"
ROOT="$TPM/pki/root-ca.pem"
start_standin
CONF="$WORK/agent.toml"
write_config_with_module "$TPM_MODULE" "$CONF"
expect_eq "the config names the tpm2-pkcs11 module" "$(grep '^module' "$CONF")" "module = \"$TPM_MODULE\""

# --- check-config: the token, login, key and certificate are found ---
out="$("$MPA_BIN" check-config --config "$CONF" 2>&1)" && rc=0 || rc=$?
expect_eq "check-config passes on the TPM token" "$rc" 0
expect_contains "check-config shows the organisation number" "$out" "999888777"
[[ $rc -eq 0 ]] || echo "$out" >&2

# --- grant: signed in the TPM, checked by an independent implementation ---
grant="$("$MPA_BIN" grant --config "$CONF" --scope altinn:enduser)"
if verified="$(verified_grant "$grant")"; then
  ok "the TPM-signed grant verifies against its certificate and the test root"
else
  not_ok "the TPM-signed grant verifies against its certificate and the test root"
  verified='{}'
fi
expect_eq "grant header is alg + x5c (leaf only)" \
  "$(json_get "$verified" 'sorted(j.get("header", {})) + [len(j.get("header", {}).get("x5c", []))]')" '["alg", "x5c", 1]'
leaf_key="$("$PY" -c 'import sys,base64,json
from cryptography import x509
from cryptography.hazmat.primitives import serialization as s
h=json.loads(sys.argv[1])["header"]
c=x509.load_der_x509_certificate(base64.b64decode(h["x5c"][0]))
print(c.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode(), end="")' "$verified" 2>/dev/null || true)"
expect_eq "x5c carries the certificate of the key made in the TPM" "$leaf_key" "$(cat "$TPM/pki/vsert-auth.pub.pem")"

# --- fetch: an access token through the TPM ---
token="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:instances.read)" && rc=0 || rc=$?
expect_eq "fetch exits 0" "$rc" 0
expect_eq "fetch prints a Maskinporten access token" \
  "$(json_get "$(jwt_part "$token" 1)" 'j["scope"]' 2>/dev/null)" "altinn:instances.read"
expect_eq "the stand-in accepted exactly one grant" \
  "$(json_get "$(standin_control received)" '[r["status"] for r in j]')" "[200]"
expect_eq "the stand-in saw a virksomhetssertifikat grant for our client" \
  "$(json_get "$(standin_control received)" '[j[-1]["claims"]["iss"], j[-1]["claims"]["aud"]]')" \
  "[\"$CLIENT_ID\", \"$STANDIN_ISSUER\"]"

# The chain from the token (the intermediate is a certificate object on it),
# and the other digests of RS256's family, with the TPM's RSA key.
write_config_with_module "$TPM_MODULE" "$WORK/chain.toml" 'x5c = "chain"' 'alg = "RS512"'
grant="$("$MPA_BIN" grant --config "$WORK/chain.toml" --scope altinn:enduser)"
verified="$(verified_grant "$grant" || echo '{}')"
expect_eq "x5c = chain adds the intermediate, RS512" \
  "$(json_get "$verified" '[j.get("header", {}).get("alg"), len(j.get("header", {}).get("x5c", []))]')" '["RS512", 2]'
"$MPA_BIN" fetch --config "$WORK/chain.toml" --scope altinn:enduser >/dev/null \
  && ok "the stand-in accepts an RS512 x5c-chain grant from the TPM" \
  || not_ok "the stand-in accepts an RS512 x5c-chain grant from the TPM"
write_config_with_module "$TPM_MODULE" "$WORK/rs384.toml" 'alg = "RS384"'
"$MPA_BIN" fetch --config "$WORK/rs384.toml" --scope altinn:enduser >/dev/null \
  && ok "the stand-in accepts an RS384 grant from the TPM" \
  || not_ok "the stand-in accepts an RS384 grant from the TPM"

# --- the running agent: the token is opened once, the key stays logged in ---
standin_control reset '{}' >/dev/null
start_agent "$CONF"
received_count() { json_get "$(standin_control stats)" 'j["token_requests"]'; }
token1="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)" && rc=0 || rc=$?
expect_eq "token through the running agent exits 0" "$rc" 0
expect_eq "token prints a Maskinporten access token" \
  "$(json_get "$(jwt_part "$token1" 1)" 'j["scope"]' 2>/dev/null)" "altinn:instances.read"
token2="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)"
expect_eq "a second request is served from the cache" "$token2" "$token1"
other="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser --scope skatteetaten:test)"
expect_eq "another scope set gets its own token" \
  "$(json_get "$(jwt_part "$other" 1)" 'j["scope"]' 2>/dev/null)" "altinn:enduser skatteetaten:test"
expect_eq "two grants signed in the TPM for three requests" "$(received_count)" 2
expect_eq "the stand-in verified both grants (x5c, signature by the TPM key)" \
  "$(json_get "$(standin_control received)" '[[r["status"], sorted(r["header"])] for r in j]')" \
  '[[200, ["alg", "x5c"]], [200, ["alg", "x5c"]]]'

# Several different requests at once: the agent signs them all with the one
# TPM key (tpm2-abrmd multiplexes the TPM).
answers="$("$PY" "$MPA_SOURCE_DIR/tests/integration/sock.py" "$SOCK" lines \
  '{"op":"token","scopes":["nav:test/api"]}' \
  '{"op":"token","scopes":["nav:test/api","altinn:enduser"]}' \
  '{"op":"token","scopes":["skatteetaten:test"]}')"
expect_eq "three more scope sets through the TPM all succeed" "$(grep -c '"ok":true' <<<"$answers")" 3

status="$("$MPA_BIN" status --socket "$SOCK" --json)"
expect_eq "status: token present and logged in" \
  "$(json_get "$status" '[j["clients"][0]["token_present"], j["clients"][0]["logged_in"]]')" '[true, true]'
expect_contains "status: certificate subject" \
  "$(json_get "$status" 'j["clients"][0]["certificate_subject"]')" "999888777"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && rc=0 || rc=$?
expect_eq "the agent stops on SIGTERM with status 0" "$rc" 0
[[ $FAILED -eq 0 ]] || { echo "--- agent log" >&2; cat "$AGENT_LOG" >&2; }

finish
