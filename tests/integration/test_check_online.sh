# `check-config --online` (issue 12, item 4): TLS, discovery and a /token
# round trip for the reserved scope, against the stand-in Maskinporten over
# real TLS, with the real SoftHSM token. Each failure is one `error:` line
# in words; the stand-in's record shows what was (not) sent.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
RESERVED="maskinporten-agent:check-config-online"
HOSTPORT="localhost:$STANDIN_PORT"

# check CONFIG [OPTIONS]: check-config --online; sets rc, out (stdout), err.
check() {
  local conf="$1"
  shift
  rc=0
  timeout 120 "$MPA_BIN" check-config --config "$conf" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  out="$(cat "$WORK/out")"
  err="$(cat "$WORK/err")"
}
token_requests() { json_get "$(standin_control stats)" 'j["token_requests"]'; }
# variant NAME SED...: a copy of $CONF edited by the sed expressions.
variant() {
  local file="$WORK/$1.toml"
  shift
  cp "$CONF" "$file"
  local expression
  for expression in "$@"; do sed -i "$expression" "$file"; done
  echo "$file"
}

# --- --help documents --online and what it sends ---
help="$("$MPA_BIN" check-config --help)"
expect_contains "check-config --help documents --online" "$help" "--online"
expect_contains "check-config --help names the reserved scope it asks for" "$help" "\"$RESERVED\""
expect_contains "check-config --help documents --client" "$help" "--client NAME"

# --- without --online: nothing goes over the network ---
standin_control reset '{}' >/dev/null
check "$CONF"
expect_eq "without --online check-config passes" "$rc" 0
expect_not_contains "without --online no TLS check" "$out" "TLS to"
expect_eq "without --online the stand-in got no /token request" "$(token_requests)" 0

# --- all pass ---
standin_control reset '{}' >/dev/null
check "$CONF" --online
expect_eq "--online against the stand-in exits 0" "$rc:$err" "0:"
expect_contains "TLS check passes, naming the host and ca_file" "$out" \
  "ok: client \"default\": TLS to $HOSTPORT verifies (trusted: the system's CAs and ca_file $STANDIN_CA)"
expect_contains "discovery check passes" "$out" \
  "ok: client \"default\": discovery at ${STANDIN_ISSUER}.well-known/oauth-authorization-server names issuer $STANDIN_ISSUER and token endpoint ${STANDIN_ISSUER}token, as configured"
expect_contains "/token round trip passes on invalid_scope" "$out" \
  "ok: client \"default\": /token at ${STANDIN_ISSUER}token answered invalid_scope for the reserved scope $RESERVED"
expect_contains "and all checks passed" "$out" "all checks passed"
expect_eq "one line per online check" "$(grep -c '^ok: client "default": \(TLS\|discovery\|/token\)' <<<"$out")" 3
expect_not_contains "no grant or token printed (stdout)" "$out" "eyJ"
expect_not_contains "no grant or token printed (stderr)" "$err" "eyJ"

# The grant the stand-in received: PyJWT verified it (its checks of
# signature, certificate chain, iss and aud come before the scope check that
# refused it), and it asks for the reserved scope and nothing else.
received="$(standin_control received)"
expect_eq "exactly one /token request, refused with 400" \
  "$(json_get "$received" '[e["status"] for e in j if e["path"] == "/token"]')" "[400]"
expect_contains "refused at the scope check (after the grant verified)" \
  "$(json_get "$received" '([e["error"] for e in j if e["path"] == "/token"] + [""])[0]')" \
  "invalid scopes for client $CLIENT_ID: $RESERVED"
claims="$(json_get "$received" '([e["claims"] for e in j if e["path"] == "/token"] + [{}])[0]')"
expect_eq "the grant asks for the reserved scope only" "$(json_get "$claims" 'j.get("scope")')" "$RESERVED"
expect_eq "the grant has only the usual claims" "$(json_get "$claims" 'sorted(j)')" \
  '["aud", "exp", "iat", "iss", "jti", "scope"]'
expect_eq "no token was issued" "$(json_get "$(standin_control stats)" 'j["tokens_issued"]')" 0

# --- discovery = true: the discovered endpoint is the one used ---
disc="$(variant discovery '/^token_endpoint = /d' 's|^environment = "custom"|environment = "custom"\ndiscovery = true|')"
standin_control reset '{}' >/dev/null
check "$disc" --online
expect_eq "--online with discovery = true exits 0" "$rc:$err" "0:"
expect_contains "the discovered token endpoint is used" "$out" \
  "and token endpoint ${STANDIN_ISSUER}token (used: discovery = true)"

# --- a wrong ca_file: a TLS error naming ca_file, no grant sent ---
wrong_ca="$(variant wrong-ca "s|^ca_file = .*|ca_file = \"$HSM/pki/root-ca.pem\"|")"
standin_control reset '{}' >/dev/null
check "$wrong_ca" --online
expect_eq "a wrong ca_file exits 1" "$rc" 1
expect_contains "the TLS error is one line naming the client and host" "$err" \
  "error: unavailable: client \"default\": TLS to $HOSTPORT: cannot reach ${STANDIN_ISSUER}token"
expect_contains "the TLS error names ca_file" "$err" "ca_file $HSM/pki/root-ca.pem"
expect_contains "the TLS error names the proxy" "$err" "proxy"
expect_eq "the TLS error is the only error line" "$(grep -c '^error:' <<<"$err")" 1
expect_not_contains "no later check is reported after the TLS failure" "$out" "discovery at"
expect_not_contains "and not all checks passed" "$out" "all checks passed"
expect_eq "the stand-in received no grant" "$(token_requests)" 0

# --- a certificate for another host name: the same words ---
# Needs a name other than localhost for 127.0.0.1 (the stand-in's address),
# such as the host's own name in /etc/hosts.
other_name="$(hostname)"
if [[ "$other_name" != localhost && "$(getent ahostsv4 "$other_name" | awk 'NR == 1 { print $1 }')" == 127.0.0.1 ]]; then
  other_host="$(variant other-host "s|^token_endpoint = .*|token_endpoint = \"https://$other_name:$STANDIN_PORT/token\"|")"
  standin_control reset '{}' >/dev/null
  check "$other_host" --online
  expect_contains "a host-name mismatch is a TLS error" "$rc:$err" \
    "1:error: unavailable: client \"default\": TLS to $other_name:$STANDIN_PORT: cannot reach https://$other_name:$STANDIN_PORT/token: "
  expect_contains "the host-name error names ca_file" "$err" "ca_file $STANDIN_CA"
  expect_eq "no grant sent after the host-name failure" "$(token_requests)" 0
else
  ok "(host-name mismatch not tried: $other_name does not resolve to 127.0.0.1 here)"
fi

# --- a wrong client_id: Maskinporten's invalid_client in words ---
wrong_id="$(variant wrong-id 's|^client_id = .*|client_id = "11111111-2222-3333-4444-555555555555"|')"
standin_control reset '{}' >/dev/null
check "$wrong_id" --online
expect_eq "a wrong client_id exits 1" "$rc" 1
expect_contains "TLS and discovery pass first" "$out" "discovery at"
expect_contains "invalid_client with Maskinporten's words" "$err" \
  "error: invalid_client: client \"default\": /token round trip: Maskinporten refused the grant: invalid_client: Invalid assertion. Client authentication failed."
expect_eq "one /token request, not retried" "$(token_requests)" 1

# --- discovery names another issuer (the stand-in is https://localhost:PORT/) ---
other_issuer="$(variant other-issuer "s|^issuer = .*|issuer = \"https://127.0.0.1:$STANDIN_PORT/\"|")"
standin_control reset '{}' >/dev/null
check "$other_issuer" --online
expect_eq "an issuer mismatch exits 1" "$rc" 1
expect_contains "the issuer mismatch is named" "$err" \
  "error: invalid_config: client \"default\": discovery at https://127.0.0.1:$STANDIN_PORT/.well-known/oauth-authorization-server names issuer \"$STANDIN_ISSUER\", not the configured \"https://127.0.0.1:$STANDIN_PORT/\""
expect_eq "no grant sent after the discovery failure" "$(token_requests)" 0

# --- discovery gives another token endpoint than the configured one ---
other_endpoint="$(variant other-endpoint "s|^token_endpoint = .*|token_endpoint = \"https://127.0.0.1:$STANDIN_PORT/token\"|")"
check "$other_endpoint" --online
expect_contains "a token_endpoint mismatch is named" "$rc:$err" \
  "1:error: invalid_config: client \"default\": discovery at ${STANDIN_ISSUER}.well-known/oauth-authorization-server gives token_endpoint \"${STANDIN_ISSUER}token\", not the configured \"https://127.0.0.1:$STANDIN_PORT/token\""

# --- a 500: an error in words, not retried ---
standin_control reset '{}' >/dev/null
standin_control fail '{"mode": "500"}' >/dev/null
check "$CONF" --online
expect_eq "a 500 exits 1" "$rc" 1
expect_contains "the 500 in words" "$err" \
  "error: unavailable: client \"default\": /token round trip: Maskinporten answered 500: server_error: An unexpected error occurred"
expect_eq "the 500 is not retried" "$(token_requests)" 1

# --- a time-out: an error in words ---
slow="$(variant slow 's|^retry_deadline_seconds = .*|timeout_seconds = 2|')"
standin_control reset '{}' >/dev/null
standin_control fail '{"mode": "slow", "delay": 6}' >/dev/null
check "$slow" --online
expect_eq "a time-out exits 1" "$rc" 1
expect_contains "the time-out in words" "$err" \
  "error: unavailable: client \"default\": /token round trip: cannot reach ${STANDIN_ISSUER}token: "
expect_contains "it says it timed out" "$err" "timed out"

# --- several clients: each is checked, and --client picks one ---
two="$WORK/two.toml"
cp "$wrong_ca" "$two"
{
  echo
  client_table good
  echo 'scopes = ["altinn:enduser"]'
} >>"$two"
sed -i '0,/^name = "default"/s//name = "bad"/' "$two"
standin_control reset '{}' >/dev/null
check "$two" --online
expect_eq "one client failing fails the check" "$rc" 1
expect_contains "the failing client is named" "$err" "error: unavailable: client \"bad\": TLS to"
expect_contains "the other client is still checked" "$out" \
  "ok: client \"good\": /token at ${STANDIN_ISSUER}token answered invalid_scope"
check "$two" --online --client good
expect_eq "--client good checks only that client, and passes" "$rc:$err" "0:"
expect_not_contains "--client good does not look at the other client" "$out" "client \"bad\""
check "$two" --online --client nobody
expect_contains "--client naming no client is refused" "$rc:$err" \
  "1:error: unknown_client: no client named \"nobody\""

finish
