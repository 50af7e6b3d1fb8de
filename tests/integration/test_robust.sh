# Bad input and failing neighbours, end to end: every failure reaches the
# user as a clear error in words, and the agent keeps serving everyone else.
# The real binary, a real SoftHSM token, the stand-in Maskinporten over TLS.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
SOCK_PY="$MPA_SOURCE_DIR/tests/integration/sock.py"
SPY_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11-spy.so
# Another uid (nobody, group root) may use the "patient" client: the socket
# is group-accessible and its directories can be passed through.
mkdir -m 0711 "$WORK/run"
chmod 0711 "$WORK"

# Short timeouts so that failures beyond them take seconds, not minutes.
CONF="$WORK/agent.toml"
write_config "$CONF" "timeout_seconds = 2" "connect_timeout_seconds = 2"
# Four exchanges in flight at most, so that a few slow ones fill them.
sed -i -e 's/^retry_deadline_seconds = 20/retry_deadline_seconds = 3/' \
  -e 's/^refresh_margin_seconds = 30/refresh_margin_seconds = 30\nmax_concurrent_exchanges = 4/' \
  -e 's|^scopes = \["altinn:enduser", |scopes = ["digdir:not-granted", "altinn:enduser", |' "$CONF"
# A second client that waits long enough for a slow Maskinporten.
cat >>"$CONF" <<CONF

$(client_table patient)
scopes = ["altinn:enduser", "skatteetaten:test"]
timeout_seconds = 20
retry_deadline_seconds = 20

[[allow]]
uid = 65534
clients = ["patient"]
CONF
sed -i 's|^socket = \(.*\)|socket = \1\nsocket_mode = "0660"|' "$CONF"
as_nobody() { setpriv --reuid=65534 --regid=0 --clear-groups "$@"; }

# run_error CONFIG: runs `run` on CONFIG, which must fail to start; sets rc, err.
run_error() {
  err="$(timeout 20 "$MPA_BIN" run --config "$1" 2>&1 >/dev/null)" && rc=0 || rc=$?
}
error_lines() { grep -c '^error:' <<<"$1" || true; }
spy_logins() { grep -c ': C_Login$' "$WORK/spy.log" 2>/dev/null || echo 0; }

# --- 1. refusals at start: wrong PIN, PIN file others can read, broken config ---
(umask 0177 && echo 00000000 >"$WORK/wrong-pin")
sed -e "s|^module = .*|module = \"$SPY_MODULE\"|" -e "s|^pin_file = .*|pin_file = \"$WORK/wrong-pin\"|" \
  "$CONF" >"$WORK/wrong-pin.toml"
export PKCS11SPY=/usr/lib/softhsm/libsofthsm2.so PKCS11SPY_OUTPUT="$WORK/spy.log"
out="$("$MPA_BIN" check-config --config "$WORK/wrong-pin.toml" 2>&1)" && rc=0 || rc=$?
expect_eq "check-config with a wrong PIN exits 1" "$rc" 1
expect_contains "and says the PIN was refused and not retried" "$out" \
  "refused the PIN (CKR_PIN_INCORRECT (incorrect PIN)); not retried, to avoid locking it"
expect_eq "in one error: line" "$(error_lines "$out")" 1
expect_eq "the token saw exactly one login" "$(spy_logins)" 1
record="$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | head -1 || true)"
[[ -n "$record" ]] && ok "check-config recorded the refusal in the state directory" ||
  not_ok "check-config recorded the refusal in the state directory"
run_error "$WORK/wrong-pin.toml"
expect_eq "then run with that PIN exits 3 (RestartPreventExitStatus=3)" "$rc" 3
expect_contains "saying the PIN was refused before and how to clear it" "$err" \
  "it refused this PIN before (recorded in $record); put the right PIN in place, or delete that file to try this one again"
expect_eq "in one error: line" "$(error_lines "$err")" 1
expect_eq "and does not present it again" "$(spy_logins)" 1
unset PKCS11SPY PKCS11SPY_OUTPUT
out="$("$MPA_BIN" check-config --config "$CONF" 2>&1)" && rc=0 || rc=$?
expect_eq "the right PIN still works afterwards (token not locked)" "$rc" 0

cp "$HSM/pin" "$WORK/open-pin"
chmod 0644 "$WORK/open-pin"
sed "s|^pin_file = .*|pin_file = \"$WORK/open-pin\"|" "$CONF" >"$WORK/open-pin.toml"
run_error "$WORK/open-pin.toml"
expect_eq "a PIN file others can read: run exits 1" "$rc" 1
expect_contains "and says where, why and what to do" "$err" \
  "error: invalid_config: $WORK/open-pin.toml: [pkcs11]: pin_file $WORK/open-pin is readable by group or others (mode 0644); make it 0400 or 0600"

sed 's/^refresh_margin_seconds = 30/refresh_margin_seconds = "soon"/' "$CONF" >"$WORK/broken.toml"
run_error "$WORK/broken.toml"
expect_eq "a broken config: run exits 1" "$rc" 1
expect_eq "with one line, an error: line" "$(wc -l <<<"$err"):$(error_lines "$err")" "1:1"
expect_contains "naming the file and line" "$err" "$WORK/broken.toml:4"
expect_contains "and the key" "$err" "refresh_margin_seconds"
out="$("$MPA_BIN" check-config --config "$WORK/broken.toml" 2>&1)" && rc=0 || rc=$?
expect_eq "check-config on it exits 1 with the same line" "$rc:$out" "1:$err"

# refused_at_start NAME SED-EXPRESSION WORDS: `run` on the config changed by
# SED-EXPRESSION exits 1 with one error: line that names the file and says WORDS.
refused_at_start() {
  sed "$2" "$CONF" >"$WORK/refused.toml"
  run_error "$WORK/refused.toml"
  expect_eq "$1: run exits 1 with one error: line" "$rc:$(error_lines "$err")" "1:1"
  local code
  code="$(sed -n 's/^error: \([a-z_]*\): .*/\1/p' <<<"$err")"
  [[ $code =~ ^(invalid_config|hsm_error)$ ]] && ok "$1: with its code ($code)" || not_ok "$1: with its code: $err"
  expect_contains "$1: it names the file and says what is wrong" "$err" \
    "error: $code: $WORK/refused.toml: $3"
}
refused_at_start "a missing PIN file" "s|^pin_file = .*|pin_file = \"$WORK/no-pin\"|" \
  "[pkcs11]: cannot open pin_file $WORK/no-pin: No such file or directory"
echo "not a certificate" >"$WORK/not-a-ca.pem"
refused_at_start "a ca_file without a certificate" "s|^ca_file = .*|ca_file = \"$WORK/not-a-ca.pem\"|" \
  "client \"default\": ca_file $WORK/not-a-ca.pem holds no PEM certificate"
refused_at_start "a module that is not a PKCS#11 library" \
  "s|^module = .*|module = \"/usr/lib/x86_64-linux-gnu/libz.so.1\"|" \
  "client \"default\": /usr/lib/x86_64-linux-gnu/libz.so.1 is not a PKCS#11 module: it has no C_GetFunctionList"
refused_at_start "a socket whose directory cannot be made" \
  "s|^socket = .*|socket = \"$WORK/no/such/dir/agent.sock\"|" \
  "[agent]: socket $WORK/no/such/dir/agent.sock: cannot create directory"
refused_at_start "a key that is not on the token" "s|object=vsert-auth|object=no-such-key|" \
  "client \"default\": no private key with object=\"no-such-key\""

# --- the agent, with one cached token to prove that others keep being served ---
# It loads SoftHSM through pkcs11-spy, which counts its logins.
sed -i "s|^module = .*|module = \"$SPY_MODULE\"|" "$CONF"
export PKCS11SPY=/usr/lib/softhsm/libsofthsm2.so PKCS11SPY_OUTPUT="$WORK/agent-spy.log"
start_agent "$CONF"
agent_logins() { grep -c ': C_Login$' "$WORK/agent-spy.log" || true; }
token_line() { printf '{"op":"token","client":"%s","scopes":["%s"]%s}' "$1" "$2" "${3:-}"; }
ask() { agent_lines "$(token_line "$@")"; }
# access_token_of ANSWER: the token of a successful answer, else the answer.
access_token_of() { json_get "$1" 'j.get("access_token", j)'; }
cached="$(access_token_of "$(ask default altinn:instances.read)")"
expect_contains "a token to keep in the cache" "$cached" 'eyJ'
served_from_cache() {
  [[ "$(access_token_of "$(ask default altinn:instances.read)")" == "$cached" ]]
}
# error_of ANSWER: "code: message" of a failed answer.
error_of() { json_get "$1" 'j["error"] + ": " + j["message"]'; }
received_count() { json_get "$(standin_control stats)" 'j["token_requests"]'; }
exchange_started() { [[ "$(received_count)" -ge 1 ]]; }

# --- 2. Maskinporten failing, through the running agent ---
standin_control fail '{"mode":"500","count":1000}' >/dev/null
answer="$(ask default altinn:enduser)"
expect_contains "500 until the retry deadline: unavailable" "$(error_of "$answer")" "unavailable: "
expect_contains "in words, with the status" "$answer" "500"
served_from_cache && ok "the cached token is still served" || not_ok "the cached token is still served"
standin_control reset '{}' >/dev/null
# A client asking again at once gets the same error from the agent, without
# another grant or exchange, and is told when the agent asks again.
answer="$(ask default altinn:enduser)"
expect_contains "asked again at once: the same error" "$(error_of "$answer")" "unavailable: "
expect_contains "held, saying when the agent asks again" "$answer" "asks again in"
expect_eq "without asking Maskinporten" "$(received_count)" 0
expect_contains "status counts it" "$(agent_lines '{"op":"status"}')" '"held":1'
# forget CLIENT SCOPE: invalidate, which also ends a held failure.
forget() {
  expect_contains "invalidate ends the hold" \
    "$(agent_lines "{\"op\":\"invalidate\",\"client\":\"$1\",\"scopes\":[\"$2\"]}")" '"invalidated":true'
}
forget default altinn:enduser
# ask_while_failing FAILURE: a fresh request (the last failure forgotten)
# while the stand-in fails as FAILURE says; sets answer.
ask_while_failing() {
  forget default altinn:enduser
  standin_control fail "$1" >/dev/null
  answer="$(ask default altinn:enduser)"
}

standin_control fail '{"mode":"400","count":1}' >/dev/null
answer="$(ask default altinn:enduser)"
expect_contains "400 at Maskinporten is the client's error, not unavailable" "$(error_of "$answer")" "invalid_"
expect_eq "and is not retried" "$(received_count)" 1
standin_control reset '{}' >/dev/null

# digdir:not-granted: the agent lets it through, the stand-in never gave it.
answer="$(ask default digdir:not-granted)"
expect_contains "invalid_scope from Maskinporten" "$(error_of "$answer")" "invalid_scope: "
expect_contains "with Maskinporten's description" "$answer" \
  "$(json_get "$(standin_control received)" 'j[-1]["error"]' | cut -c1-20)"
expect_eq "not retried" "$(received_count)" 1
standin_control reset '{}' >/dev/null

ask_while_failing '{"mode":"garbage","count":1000}'
expect_contains "a body that is not JSON: unavailable" "$(error_of "$answer")" "unavailable: "
expect_contains "saying so" "$answer" "not valid JSON"
standin_control reset '{}' >/dev/null

ask_while_failing '{"mode":"drop","count":1000}'
expect_contains "a dropped connection: unavailable" "$(error_of "$answer")" "unavailable: "
standin_control reset '{}' >/dev/null

ask_while_failing '{"mode":"slow","delay":8,"count":1000}'
expect_contains "slower than timeout_seconds: unavailable" "$(error_of "$answer")" "unavailable: "
expect_contains "saying it timed out" "$answer" "imed out"
standin_control reset '{}' >/dev/null

# Exchanges for other keys are slow, as many as the agent runs at once
# (max_concurrent_exchanges = 4); this uid may run 3 at once, its fourth
# waits for one of them. A cached token, ping and status are not held up by
# them, and another uid's new token takes the slot this uid may not have. Proved by order: all this
# completes while every slow one of this uid is still pending.
standin_control settings '{"delay": 6}' >/dev/null
slow_pids=()
for i in 1 2 3 4; do
  ask patient skatteetaten:test ",\"resource\":[\"https://slow$i.example\"]" >"$WORK/slow$i.out" &
  slow_pids+=($!)
done
received_at_least() { [[ "$(received_count)" -ge "$1" ]]; }
wait_for received_at_least 3 || true
served_from_cache && ok "while other keys' exchanges are slow, a cached token is answered" \
  || not_ok "while other keys' exchanges are slow, a cached token is answered"
expect_contains "and ping" "$(agent_lines '{"op":"ping"}')" '"ok":true'
status="$(agent_lines '{"op":"status"}')"
expect_eq "and status, which sees this uid's four exchanges in flight (3 running, 1 waiting)" \
  "$(json_get "$status" '[j["ok"], j["cache"]["in_flight"], j["workers"]]')" \
  '[true, 4, {"size": 4, "exchanging": 3, "waiting": 1}]'
as_nobody "$PY" "$SOCK_PY" "$SOCK" lines "$(token_line patient altinn:enduser \
  ',"resource":["https://other-uid.example"]')" >"$WORK/other-uid.out" 2>&1 &
other_pid=$!
wait_for received_at_least 4 || true
status="$(agent_lines '{"op":"status"}')"
expect_eq "another uid's new token takes the fourth slot at once" \
  "$(json_get "$status" '[j["cache"]["in_flight"], j["workers"]]')" \
  '[5, {"size": 4, "exchanging": 4, "waiting": 1}]'
still_running=0
for pid in "${slow_pids[@]}"; do kill -0 "$pid" 2>/dev/null && still_running=$((still_running + 1)); done
expect_eq "all before any slow exchange ended" "$still_running" 4
for pid in "${slow_pids[@]}"; do wait "$pid" || true; done
wait "$other_pid" || true
expect_contains "the slow exchanges then succeed" "$(cat "$WORK"/slow*.out)" '"ok":true'
expect_not_contains "all of them" "$(cat "$WORK"/slow*.out)" '"ok":false'
expect_contains "and so does the other uid's" "$(cat "$WORK/other-uid.out")" '"ok":true'
expect_eq "Maskinporten got the other uid's grant before this uid's fourth" \
  "$(json_get "$(standin_control received)" \
    '[r for r in [((e.get("claims") or {}).get("resource") or [""])[0] for e in sorted(j, key=lambda e: e["time"]) if e["path"] == "/token"] if r][3]')" \
  "https://other-uid.example"
standin_control reset '{}' >/dev/null

# --- 4. status while things fail: last_error per client ---
status="$(agent_lines '{"op":"status"}')"
expect_contains "status: the failing client's last error" \
  "$(json_get "$status" '[c for c in j["clients"] if c["name"]=="default"][0]["last_error"]')" "unavailable"
expect_eq "status: the other client has none" \
  "$(json_get "$status" '[c for c in j["clients"] if c["name"]=="patient"][0]["last_error"]')" "None"

# --- 5. misbehaving clients ---
mkfifo "$WORK/hold"
"$PY" "$SOCK_PY" "$SOCK" partial '{"op":"pi' <"$WORK/hold" >"$WORK/partial.out" &
partial_pid=$!
exec 3>"$WORK/hold"
wait_for grep -q sent "$WORK/partial.out"
expect_contains "a client stalled mid-line does not block others" "$(agent_lines '{"op":"ping"}')" '"ok":true'
served_from_cache && ok "nor cached tokens" || not_ok "nor cached tokens"
exec 3>&-
wait "$partial_pid" || true
expect_eq "and it got no answer to half a line" "$(sed -n 2p "$WORK/partial.out")" "<nothing>"

result="$("$PY" "$SOCK_PY" "$SOCK" pipeline 10000)"
expect_eq "10,000 pipelined pings: all answered, in order" \
  "$(json_get "$result" '[j["answers"], j["in_order"], j["ended"]]')" '[10000, true, "complete"]'

mkfifo "$WORK/hold2"
"$PY" "$SOCK_PY" "$SOCK" unread 100000 <"$WORK/hold2" >"$WORK/unread.out" &
unread_pid=$!
exec 4>"$WORK/hold2"
wait_for grep -q sent "$WORK/unread.out"
sent="$(sed -n 's/^sent //p' "$WORK/unread.out")"
# 100,000 pings are 2,788,890 bytes: far more than the socket buffers hold.
[[ "$sent" -lt 2788890 ]] && ok "a client that does not read its answers is stopped being read ($sent bytes)" \
  || not_ok "a client that does not read its answers is stopped being read ($sent bytes)"
expect_contains "and others are served meanwhile" "$(agent_lines '{"op":"ping"}')" '"ok":true'
exec 4>&-
wait "$unread_pid" || true

# --- 3. the token goes away while the agent runs ---
token_dir="$(find "$HSM/tokens" -mindepth 1 -maxdepth 1 -type d | head -1)"
mv "$token_dir" "$WORK/token-away"
answer="$(ask default nav:test/api)"
expect_contains "a fresh exchange without the token: hsm_error" "$(error_of "$answer")" "hsm_error: "
served_from_cache && ok "a cached token is still served" || not_ok "a cached token is still served"
expect_contains "ping still works" "$(agent_lines '{"op":"ping"}')" '"ok":true'
status="$(agent_lines '{"op":"status"}')"
expect_eq "status shows the token missing" \
  "$(json_get "$status" '[c["token_present"] for c in j["clients"]]')" '[false, false]'
expect_contains "and why" "$(json_get "$status" 'j["clients"][0]["last_error"]')" "token"
mv "$WORK/token-away" "$token_dir"
# (the token is asked for again once per back-off step, 1 s at first)
signs_again() { [[ "$(ask default nav:test/api)" == *'"ok":true'* ]]; }
wait_for signs_again && ok "with the token back, the agent signs again without a restart" ||
  not_ok "with the token back, the agent signs again without a restart"
expect_eq "after one more login" "$(agent_logins)" 2
status="$(agent_lines '{"op":"status"}')"
expect_eq "status: present and logged in again" \
  "$(json_get "$status" '[[c["token_present"], c["logged_in"]] for c in j["clients"]]')" \
  '[[true, true], [true, true]]'

# Another token with the same label and another PIN takes its place: its
# serial is not the one pinned at the first login, so the PIN is never
# presented to it (issue 8); the right token, back, gets it again.
mv "$token_dir" "$WORK/token-away"
softhsm2-util --init-token --free --label "Virksomhet Test" --pin 11112222 --so-pin 33334444 >/dev/null
answer="$(ask default nav:test/api ',"resource":["https://impostor.example"]')"
expect_contains "a token with the same label and another serial: hsm_error saying so" "$(error_of "$answer")" \
  "as at the first login; the PIN is presented to that token only"
answer="$(ask default nav:test/api ',"resource":["https://impostor2.example"]')"
expect_contains "and the next exchange says the same" "$(error_of "$answer")" \
  "as at the first login; the PIN is presented to that token only"
expect_eq "no login attempt to the other token" "$(agent_logins)" 2
served_from_cache && ok "a cached token is still served" || not_ok "a cached token is still served"
rm -rf "$HSM"/tokens/*
mv "$WORK/token-away" "$token_dir"
impostor_signs() { [[ "$(ask default nav:test/api ',"resource":["https://impostor3.example"]')" == *'"ok":true'* ]]; }
wait_for impostor_signs && ok "with the right token back it logs in to it and signs (after the re-open back-off)" ||
  not_ok "with the right token back it logs in to it and signs (after the re-open back-off)"
expect_eq "(one more login)" "$(agent_logins)" 3
kill -HUP "$AGENT_PID"
wait_for grep -q "reloaded" "$AGENT_LOG"
answer="$(ask default nav:test/api ',"resource":["https://impostor3.example"]')"
expect_contains "after SIGHUP it signs again" "$answer" '"ok":true'

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && rc=0 || rc=$?
expect_eq "after all this the agent stops cleanly" "$rc" 0
finish
