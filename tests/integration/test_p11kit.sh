# A token on another machine, through p11-kit's remoting: `p11-kit server`
# exports the SoftHSM token on a Unix socket, and the agent's [pkcs11]
# module is p11-kit-client.so with P11_KIT_SERVER_ADDRESS in its
# environment. The agent's side has no SOFTHSM2_CONF: it reaches the token
# only through the socket. A socat relay stands in for `ssh -L` socket
# forwarding. `fetch` and the running agent both get access tokens; the
# grants are verified independently (PyJWT in verify_grant.py and in the
# stand-in).
#
# If p11-kit (package p11-kit) or p11-kit-client.so (p11-kit-modules) is
# missing, this test fails and says so: scripts/setup.sh installs them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MULTIARCH="$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
CLIENT_MODULE="/usr/lib/$MULTIARCH/pkcs11/p11-kit-client.so"
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
missing=()
command -v p11-kit >/dev/null || missing+=("p11-kit (package p11-kit)")
[[ -r "$CLIENT_MODULE" ]] || missing+=("$CLIENT_MODULE (package p11-kit-modules)")
command -v socat >/dev/null || missing+=("socat (package socat)")
if ((${#missing[@]})); then
  not_ok "p11-kit remoting needs ${missing[*]}; scripts/setup.sh installs them"
  finish
  exit 1
fi
ok "p11-kit $(dpkg-query -W -f='${Version}' p11-kit 2>/dev/null || echo '?') and $CLIENT_MODULE are here"

make_token
ROOT="$HSM/pki/root-ca.pem"
P11="$WORK/p11kit"
mkdir -m 0700 "$P11"

# start_p11kit_server SOCKET: the token's side. `-f` keeps it in the
# foreground, so that its PID is ours to stop; it prints the address once
# it listens. Sets SERVER_PID and SERVER_ADDRESS.
start_p11kit_server() {
  local sock="$1" out="$P11/server.$RANDOM" _
  SOFTHSM2_CONF="$HSM/softhsm2.conf" p11-kit server -f --provider "$SOFTHSM_MODULE" \
    -n "$sock" "pkcs11:token=Virksomhet%20Test" >"$out.out" 2>"$out.err" &
  SERVER_PID=$!
  track_pid "$SERVER_PID"
  SERVER_ADDRESS=""
  for _ in $(seq 1 200); do
    SERVER_ADDRESS="$(sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p' "$out.out")"
    [[ -n "$SERVER_ADDRESS" && -S "$sock" ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "p11-kit server did not start:" >&2
  cat "$out.out" "$out.err" >&2
  return 1
}

start_p11kit_server "$P11/server.sock"
expect_eq "p11-kit server prints the socket's address" "$SERVER_ADDRESS" "unix:path=$P11/server.sock"

# From here on, the agent's side: the module is the client, the token is
# known only by the server's address.
unset SOFTHSM2_CONF
export P11_KIT_SERVER_ADDRESS="$SERVER_ADDRESS"
start_standin
CONF="$WORK/agent.toml"
write_config_with_module "$CLIENT_MODULE" "$CONF"
expect_eq "the config names p11-kit-client.so" "$(grep '^module' "$CONF")" "module = \"$CLIENT_MODULE\""

# --- check-config and grant through the remote token ---
out="$("$MPA_BIN" check-config --config "$CONF" 2>&1)" && rc=0 || rc=$?
expect_eq "check-config passes through p11-kit-client" "$rc" 0
expect_contains "check-config shows the organisation number" "$out" "999888777"
[[ $rc -eq 0 ]] || echo "$out" >&2

grant="$("$MPA_BIN" grant --config "$CONF" --scope altinn:enduser)"
if verified="$(verified_grant "$grant")"; then
  ok "the remotely signed grant verifies against its certificate and the test root"
else
  not_ok "the remotely signed grant verifies against its certificate and the test root"
  verified='{}'
fi
expect_eq "grant header is alg + x5c (leaf only)" \
  "$(json_get "$verified" 'sorted(j.get("header", {})) + [len(j.get("header", {}).get("x5c", []))]')" '["alg", "x5c", 1]'

# --- fetch ---
token="$("$MPA_BIN" fetch --config "$CONF" --scope altinn:instances.read)" && rc=0 || rc=$?
expect_eq "fetch through p11-kit-client exits 0" "$rc" 0
expect_eq "fetch prints a Maskinporten access token" \
  "$(json_get "$(jwt_part "$token" 1)" 'j["scope"]' 2>/dev/null)" "altinn:instances.read"
expect_eq "the stand-in accepted exactly one grant" \
  "$(json_get "$(standin_control received)" '[r["status"] for r in j]')" "[200]"

write_config_with_module "$CLIENT_MODULE" "$WORK/chain.toml" 'x5c = "chain"' 'alg = "RS512"'
"$MPA_BIN" fetch --config "$WORK/chain.toml" --scope altinn:enduser >/dev/null \
  && ok "an RS512 x5c-chain grant through p11-kit-client is accepted" \
  || not_ok "an RS512 x5c-chain grant through p11-kit-client is accepted"

# --- a forwarded socket, as `ssh -L local.sock:remote.sock` makes one: the
# client talks to a relay that only copies bytes to the server's socket ---
FORWARDED="$P11/forwarded.sock"
# start_relay: socat forks a child per connection; RELAY_PID is the listener.
start_relay() {
  rm -f "$FORWARDED"
  socat "UNIX-LISTEN:$FORWARDED,fork,mode=0600" "UNIX-CONNECT:$P11/server.sock" \
    2>>"$P11/socat.log" &
  RELAY_PID=$!
  track_pid "$RELAY_PID"
  wait_for test -S "$FORWARDED"
}
# stop_relay: the tunnel drops: the listener and every connection it carries
# (its children, found by parent PID) end.
# The children go first, so that the listener reaps them.
stop_relay() {
  local pids
  pids="$(ps -o pid= --ppid "$RELAY_PID" || true)"
  if [[ -n "$pids" ]]; then
    kill $pids 2>/dev/null || true
    wait_for bash -c '[[ -z "$(ps -o pid= --ppid "$1")" ]]' _ "$RELAY_PID" || true
  fi
  kill "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
}
start_relay && ok "a socat relay forwards the p11-kit socket" || not_ok "a socat relay forwards the p11-kit socket"
token="$(P11_KIT_SERVER_ADDRESS="unix:path=$FORWARDED" \
  "$MPA_BIN" fetch --config "$CONF" --scope skatteetaten:test)" && rc=0 || rc=$?
expect_eq "fetch through a forwarded p11-kit socket exits 0" "$rc" 0
expect_eq "and prints a token" "$(json_get "$(jwt_part "$token" 1)" 'j["scope"]' 2>/dev/null)" "skatteetaten:test"

# --- no server at the address: a clear error, not a hang ---
started=$SECONDS
out="$(P11_KIT_SERVER_ADDRESS="unix:path=$P11/nobody.sock" \
  "$MPA_BIN" fetch --config "$CONF" --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "fetch with no p11-kit server exits 1" "$rc" 1
expect_eq "and says so in one error line" "$(grep -c '^error: ' <<<"$out")/$(wc -l <<<"$out")" "1/1"
expect_contains "naming the module" "$out" "$CLIENT_MODULE"
[[ $((SECONDS - started)) -lt 20 ]] && ok "and does not hang" || not_ok "and does not hang ($((SECONDS - started)) s)"

# --- the running agent, on the forwarded socket ---
standin_control reset '{}' >/dev/null
P11_KIT_SERVER_ADDRESS="unix:path=$FORWARDED" start_agent "$CONF"
received_count() { json_get "$(standin_control stats)" 'j["token_requests"]'; }
token1="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)" && rc=0 || rc=$?
expect_eq "token through the running agent exits 0" "$rc" 0
expect_eq "token prints a Maskinporten access token" \
  "$(json_get "$(jwt_part "$token1" 1)" 'j["scope"]' 2>/dev/null)" "altinn:instances.read"
token2="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)"
expect_eq "a second request is served from the cache" "$token2" "$token1"
other="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser --scope nav:test/api)"
expect_eq "another scope set gets its own token" \
  "$(json_get "$(jwt_part "$other" 1)" 'j["scope"]' 2>/dev/null)" "altinn:enduser nav:test/api"
expect_eq "two grants signed remotely for three requests" "$(received_count)" 2
expect_eq "the stand-in verified both grants" \
  "$(json_get "$(standin_control received)" '[r["status"] for r in j]')" "[200, 200]"
answers="$("$PY" "$MPA_SOURCE_DIR/tests/integration/sock.py" "$SOCK" parallel 8 '{"op":"token","scopes":["skatteetaten:test"]}')"
expect_eq "8 concurrent requests through the remote token all succeed" "$(grep -c '"ok":true' <<<"$answers")" 8

status="$("$MPA_BIN" status --socket "$SOCK" --json)"
expect_eq "status: token present and logged in" \
  "$(json_get "$status" '[j["clients"][0]["token_present"], j["clients"][0]["logged_in"]]')" '[true, true]'
expect_contains "status: certificate subject" \
  "$(json_get "$status" 'j["clients"][0]["certificate_subject"]')" "999888777"

# --- the tunnel drops and comes back: cached tokens are still served, new
# ones fail with hsm_error while it is down, and the agent opens the token
# again once it is back ---
stop_relay
expect_eq "with the tunnel down a cached token is still served" \
  "$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)" "$token1"
out="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --scope nav:test/api 2>&1)" && rc=0 || rc=$?
expect_eq "with the tunnel down a new token fails" "$rc" 1
expect_contains "with hsm_error" "$out" "hsm_error"
status="$("$MPA_BIN" status --socket "$SOCK" --json)"
expect_eq "status: the token is not present while the tunnel is down" \
  "$(json_get "$status" 'j["clients"][0]["token_present"]')" "False"
start_relay || not_ok "the relay starts again"
if wait_for "$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --scope nav:test/api; then
  ok "once the tunnel is back the agent signs again"
else
  not_ok "once the tunnel is back the agent signs again"
fi
status="$("$MPA_BIN" status --socket "$SOCK" --json)"
expect_eq "status: token present and logged in again" \
  "$(json_get "$status" '[j["clients"][0]["token_present"], j["clients"][0]["logged_in"]]')" '[true, true]'

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && rc=0 || rc=$?
expect_eq "the agent stops on SIGTERM with status 0" "$rc" 0
[[ $FAILED -eq 0 ]] || { echo "--- agent log" >&2; cat "$AGENT_LOG" >&2; }

finish
