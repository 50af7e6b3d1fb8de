# Token faults (issue 8), end to end: the real agent with the fault-injecting
# PKCS#11 module (tests/support/fault_pkcs11) in front of the fixture SoftHSM
# token. A C_Sign or C_OpenSession that hangs, an abort() in C_Sign, a token
# pulled out and put back, a refused PIN, the PIN warning flags and a slow
# one-at-a-time card: the agent never hangs, keeps serving cached tokens and
# status, says what is wrong in words, and never spends a PIN try twice.
# Each part has an agent and a fault directory of its own; no two agents run
# at once (SoftHSM's file store is not safe for that).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
export MPA_FAULT_MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN="$(cat "$HSM/pin")"

token_line() { printf '{"op":"token","client":"default","scopes":["%s"]%s}' "$1" "${2:-}"; }
# fresh_line NAME: a token never asked before, so a new grant and signature.
fresh_line() { token_line altinn:enduser ",\"resource\":[\"https://$1.example\"]"; }
cached_line() { token_line altinn:instances.read; }
ms_of() { local ms="${1%% *}"; echo "${ms:-0}"; }
answer_of() { echo "${1#* }"; }
# (both print ANSWER itself when it is not JSON: "<no answer>")
access_token_of() { json_get "$1" 'j.get("access_token", j)' 2>/dev/null || echo "$1"; }
error_of() { json_get "$1" 'j.get("error", "") + ": " + j.get("message", "")' 2>/dev/null || echo "$1"; }
helper_pid() { pgrep -P "$AGENT_PID" -f 'signer-helper --fd' | head -1 || true; }
# expect_fast NAME TIMED-ANSWER MS NEEDLE: answered within MS, with NEEDLE.
expect_fast() {
  if (($(ms_of "$2") < $3)) && [[ "$(answer_of "$2")" == *"$4"* ]]; then ok "$1"; else
    not_ok "$1: expected within $3 ms an answer with [$4], got [$2]"
  fi
}
# fault_agent NAME [PKCS11-LINE...]: a fresh fault directory and an agent on
# it, with a token in its cache (CACHED). False if it does not start.
fault_agent() {
  local name="$1"
  shift
  export MPA_FAULT_DIR="$WORK/faults-$name"
  mkdir -p "$MPA_FAULT_DIR"
  write_fault_config "$WORK/$name.toml" "$name" "$@"
  if ! start_agent "$WORK/$name.toml"; then
    not_ok "$name: the agent starts"
    return 1
  fi
  CACHED="$(access_token_of "$(answer_of "$(agent_within 20 "$(cached_line)")")")"
  expect_contains "$name: a token to keep in the cache" "$CACHED" 'eyJ'
}
# expect_cached NAME: the cached token, at once.
expect_cached() { expect_fast "$1" "$(agent_within 10 "$(cached_line)")" 1000 "$CACHED"; }
signs_again() { [[ "$(agent_within 20 "$(fresh_line "again-$RANDOM$RANDOM")")" == *'"ok":true'* ]]; }
# stop_agent NAME: SIGTERM; the agent must be gone within 15 s (else SIGKILL).
stop_agent() {
  kill -TERM "$AGENT_PID" 2>/dev/null || true
  if wait_exit "$AGENT_PID" 15; then
    expect_eq "$1: SIGTERM stops the agent within 15 s, cleanly" "$EXIT_RC" 0
  else
    not_ok "$1: SIGTERM stops the agent within 15 s"
    kill -KILL "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" || true
  fi
}
# start_once NAME CONF: `run` that must stop by itself; sets rc, err.
start_once() {
  err="$(timeout 60 "$MPA_BIN" run --config "$2" 2>&1 >/dev/null)" && rc=0 || rc=$?
}

# --- 4. a refused PIN at start: recorded, never presented again ---
# refused_login NAME CKR WORDS: C_Login answers CKR at start.
refused_login() {
  local name="$1"
  export MPA_FAULT_DIR="$WORK/faults-$name" STATE_DIRECTORY="$WORK/state-$name"
  mkdir -p "$MPA_FAULT_DIR"
  echo "$2" >"$MPA_FAULT_DIR/login_rv"
  write_fault_config "$WORK/$name.toml" "$name"
  start_once "$name" "$WORK/$name.toml"
  expect_eq "$name: run exits 3 (RestartPreventExitStatus=3)" "$rc" 3
  expect_contains "$name: saying why" "$err" "$3"
  expect_eq "$name: after one C_Login" "$(fault_count login_count)" 1
  local record
  record="$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | head -1 || true)"
  [[ -n "$record" ]] && ok "$name: the state directory holds a record" || not_ok "$name: the state directory holds a record"
  grep -rqF "$PIN" "$STATE_DIRECTORY" && not_ok "$name: the record must not hold the PIN" ||
    ok "$name: the record does not hold the PIN"
  start_once "$name" "$WORK/$name.toml"
  expect_eq "$name: started again (systemd's Restart=): exits 3" "$rc" 3
  expect_eq "$name: and does not call C_Login again" "$(fault_count login_count)" 1
  expect_contains "$name: saying the PIN was refused before and how to clear it" "$err" \
    "it refused this PIN before (recorded in $record); put the right PIN in place, or delete that file to try this one again"
  rm -f ${record:+"$record"} "$MPA_FAULT_DIR/login_rv"
  if start_agent "$WORK/$name.toml"; then
    expect_eq "$name: the record deleted, the PIN is presented again" "$(fault_count login_count)" 2
    stop_agent "$name"
  else
    not_ok "$name: the record deleted, the agent starts"
  fi
  export STATE_DIRECTORY="$WORK/state"
}
refused_login pin-incorrect CKR_PIN_INCORRECT "refused the PIN (CKR_PIN_INCORRECT (incorrect PIN)); not retried"

# --- 4c. a login error that is not about the PIN: reported, never recorded ---
# unclear_login NAME CKR: C_Login answers CKR once (a reader hiccup, a
# daemon restarting); the start fails in those words, and the next start
# logs in with the same PIN.
unclear_login() {
  local name="$1"
  export MPA_FAULT_DIR="$WORK/faults-$name" STATE_DIRECTORY="$WORK/state-$name"
  mkdir -p "$MPA_FAULT_DIR"
  echo "$2" >"$MPA_FAULT_DIR/login_rv"
  write_fault_config "$WORK/$name.toml" "$name"
  start_once "$name" "$WORK/$name.toml"
  expect_eq "$name: run exits 1, not 3 (systemd starts it again)" "$rc" 1
  expect_contains "$name: saying what the module answered" "$err" \
    "cannot log in to token \"Virksomhet Test\": $2"
  expect_contains "$name: and that it is not taken as a refusal of the PIN" "$err" \
    "the token's PIN flags show no try counted, so this is not taken as a refusal of the PIN"
  [[ "$err" == *"refused"*"before"* ]] && not_ok "$name: no word of a refusal: $err" || ok "$name: no word of a refusal"
  expect_eq "$name: nothing recorded" "$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | wc -l)" 0
  rm "$MPA_FAULT_DIR/login_rv"
  if start_agent "$WORK/$name.toml"; then
    expect_eq "$name: the next start logs in with the same PIN" "$(fault_count login_count)" 2
    expect_contains "$name: and signs" "$(agent_within 20 "$(fresh_line "$name")")" '"ok":true'
    stop_agent "$name"
  else
    not_ok "$name: the next start logs in with the same PIN"
  fi
  export STATE_DIRECTORY="$WORK/state"
}
unclear_login login-function-failed CKR_FUNCTION_FAILED
unclear_login login-general-error CKR_GENERAL_ERROR

# An unclear answer after which the token's PIN flags show a try counted:
# no automatic login again (exit 3), and still nothing recorded.
export MPA_FAULT_DIR="$WORK/faults-unclear-counted" STATE_DIRECTORY="$WORK/state-unclear-counted"
mkdir -p "$MPA_FAULT_DIR"
echo CKR_FUNCTION_FAILED >"$MPA_FAULT_DIR/login_rv"
echo CKF_USER_PIN_FINAL_TRY >"$MPA_FAULT_DIR/pin_flags_after_refusal"
write_fault_config "$WORK/unclear-counted.toml" unclear-counted
start_once unclear-counted "$WORK/unclear-counted.toml"
expect_eq "unclear-counted: run exits 3" "$rc" 3
expect_contains "unclear-counted: saying what the token reports" "$err" \
  "CKR_FUNCTION_FAILED (the function failed); the token now reports one try left (CKF_USER_PIN_FINAL_TRY)"
expect_eq "unclear-counted: nothing recorded" "$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | wc -l)" 0
export STATE_DIRECTORY="$WORK/state"

# --- 4c'. the same during a re-login: retried with the back-off, in-process ---
export STATE_DIRECTORY="$WORK/state-relogin-unclear"
if fault_agent relogin-unclear; then
  touch "$MPA_FAULT_DIR/removed"
  expect_contains "relogin-unclear: the token pulled out: a new token is an hsm_error" \
    "$(agent_within 10 "$(fresh_line relogin-removed)")" '"error":"hsm_error"'
  echo CKR_FUNCTION_FAILED >"$MPA_FAULT_DIR/login_rv"
  rm "$MPA_FAULT_DIR/removed"
  tried_login() { (($(fault_count login_count) >= 2)) || { agent_within 10 "$(fresh_line "relogin-$RANDOM")" >/dev/null; false; }; }
  wait_for tried_login && ok "relogin-unclear: the re-login gets CKR_FUNCTION_FAILED" ||
    not_ok "relogin-unclear: the re-login gets CKR_FUNCTION_FAILED"
  rm "$MPA_FAULT_DIR/login_rv"
  wait_for signs_again && ok "relogin-unclear: then it logs in and signs again by itself" ||
    not_ok "relogin-unclear: then it logs in and signs again by itself"
  expect_eq "relogin-unclear: nothing recorded" "$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | wc -l)" 0
  stop_agent relogin-unclear
fi
export STATE_DIRECTORY="$WORK/state"

# --- 4a. the refusal says what the token reports left (PIN flags, read again) ---
# refused_with_flags NAME FLAGS WORDS: the card counts the refused try as FLAGS.
refused_with_flags() {
  export MPA_FAULT_DIR="$WORK/faults-$1" STATE_DIRECTORY="$WORK/state-$1"
  mkdir -p "$MPA_FAULT_DIR"
  echo CKR_PIN_INCORRECT >"$MPA_FAULT_DIR/login_rv"
  [[ -n "$2" ]] && echo "$2" >"$MPA_FAULT_DIR/pin_flags_after_refusal"
  write_fault_config "$WORK/$1.toml" "$1"
  start_once "$1" "$WORK/$1.toml"
  expect_eq "$1: run exits 3" "$rc" 3
  expect_contains "$1: the refusal says what the token reports" "$err" "$3"
  expect_eq "$1: after one C_Login" "$(fault_count login_count)" 1
  export STATE_DIRECTORY="$WORK/state"
}
refused_with_flags tries-final CKF_USER_PIN_FINAL_TRY \
  "not retried, to avoid locking it; the token now reports one try left (CKF_USER_PIN_FINAL_TRY): one more wrong PIN locks it"
refused_with_flags tries-low CKF_USER_PIN_COUNT_LOW \
  "the token now reports failed tries (CKF_USER_PIN_COUNT_LOW): fewer tries left than it allows"
refused_with_flags tries-locked CKF_USER_PIN_LOCKED \
  "the token now reports the PIN locked, no tries left (CKF_USER_PIN_LOCKED): unlock it with the SO PIN"
refused_with_flags tries-none "" "the token reports no failed tries (it may not count them)"

# --- 4d. the module's own initialisation fails (openCryptoki without pkcsslotd) ---
for rv in CKR_FUNCTION_FAILED CKR_HOST_MEMORY; do
  export MPA_FAULT_DIR="$WORK/faults-init-$rv"
  mkdir -p "$MPA_FAULT_DIR"
  echo "$rv" >"$MPA_FAULT_DIR/initialize_rv"
  write_fault_config "$WORK/init-$rv.toml" "init-$rv"
  start_once "init-$rv" "$WORK/init-$rv.toml"
  expect_eq "init $rv: run exits 1" "$rc" 1
  expect_contains "init $rv: saying the module's initialisation failed, with the CKR and a hint" "$err" \
    "the PKCS#11 module $MPA_FAULT_PKCS11 failed to initialise (C_Initialize: $rv); a daemon, service or group it needs may be missing (openCryptoki: is pkcsslotd running, and is the agent's user in group pkcs11?)"
  [[ "$err" == *"ran out of memory"* ]] && not_ok "init $rv: no word of memory: $err" || ok "init $rv: no word of memory"
  expect_eq "init $rv: no C_Login" "$(fault_count login_count)" 0
done

# --- 4b. one-shot commands honour the records too (they sign through a helper) ---
export MPA_FAULT_DIR="$WORK/faults-oneshot" STATE_DIRECTORY="$WORK/state-oneshot"
mkdir -p "$MPA_FAULT_DIR"
echo CKR_PIN_INCORRECT >"$MPA_FAULT_DIR/login_rv"
write_fault_config "$WORK/oneshot.toml" oneshot
oneshot() { err="$(timeout 60 "$MPA_BIN" "$@" --config "$WORK/oneshot.toml" 2>&1 >/dev/null)" && rc=0 || rc=$?; }
oneshot check-config
expect_eq "oneshot: check-config with a refused PIN exits 1" "$rc" 1
expect_contains "oneshot: saying why" "$err" "refused the PIN (CKR_PIN_INCORRECT (incorrect PIN)); not retried"
expect_eq "oneshot: after one C_Login" "$(fault_count login_count)" 1
record="$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | head -1 || true)"
[[ -n "$record" ]] && ok "oneshot: check-config recorded the refusal" || not_ok "oneshot: check-config recorded the refusal"
for command in check-config "fetch --scope altinn:enduser" "grant --scope altinn:enduser"; do
  # shellcheck disable=SC2086
  oneshot $command
  expect_eq "oneshot: then $command exits 1" "$rc" 1
  expect_contains "oneshot: $command says the PIN was refused before and how to clear it" "$err" \
    "it refused this PIN before (recorded in $record); put the right PIN in place, or delete that file to try this one again"
done
start_once oneshot "$WORK/oneshot.toml"
expect_eq "oneshot: and run exits 3" "$rc" 3
expect_eq "oneshot: none of them called C_Login again" "$(fault_count login_count)" 1
grep -q libmpa_fault_pkcs11 /proc/self/maps && not_ok "oneshot: (the test shell loaded the module?)" || true
rm -f ${record:+"$record"} "$MPA_FAULT_DIR/login_rv"
oneshot check-config
expect_eq "oneshot: the record deleted, check-config logs in again and passes" "$rc:$(fault_count login_count)" 0:2
export STATE_DIRECTORY="$WORK/state"

# --- reload: new keys and a new signing policy go to the running helper ---
# A SIGHUP that adds a client with another key on the same token and
# changes alg and issuer keeps the helper and its login; the new
# configuration signs; a reload the helper cannot take (a key it does not
# find) fails in words and the running configuration serves on.
reloaded_times() { grep -c 'reloaded the configuration' "$AGENT_LOG" || true; }
reload_failed_times() { grep -c 'reload failed, keeping the running configuration' "$AGENT_LOG" || true; }
reload_with() {  # reload_with CONF-CONTENT-FILE COUNTER: SIGHUP, wait for COUNTER to grow
  local before
  before="$("$2")"
  cp "$1" "$WORK/reload.toml"
  kill -HUP "$AGENT_PID"
  grown() { (($("$2") > before)); }
  wait_for grown "$1" "$2"
}
second_client() {
  client_table second | sed "s|object=vsert-auth;|object=vsert-auth-3072;|"
  echo 'alg = "RS512"'
  echo 'scopes = ["altinn:instances.read"]'
}
if fault_agent reload; then
  helper_before="$(helper_pid)"
  # The same stand-in under another name: the audience changes, the endpoint not.
  { sed -e "s|^issuer = .*|issuer = \"https://127.0.0.1:$STANDIN_PORT/\"|" -e 's|^\(scopes = .*\)|alg = "RS384"\n\1|' \
      "$WORK/reload.toml"
    echo
    second_client; } >"$WORK/reload-2.toml"
  reload_with "$WORK/reload-2.toml" reloaded_times && ok "reload: SIGHUP with a new client, alg and issuer" ||
    not_ok "reload: SIGHUP with a new client, alg and issuer"
  expect_eq "reload: no new C_Login" "$(fault_count login_count)" 1
  expect_eq "reload: the same helper" "$(helper_pid)" "$helper_before"
  second="$(agent_within 20 '{"op":"token","client":"second","scopes":["altinn:instances.read"]}')"
  expect_contains "reload: the new client's key signs (a token)" "$second" '"ok":true'
  # The stand-in checks the RS384 signature, then refuses the audience it does not answer to.
  expect_contains "reload: the default client's grant is signed with its new alg and audience" \
    "$(agent_within 20 "$(fresh_line reload-new-aud)")" "Invalid JWT claim aud: 'https://127.0.0.1:$STANDIN_PORT/'"
  sed -e '/^\[\[client\]\]$/,$d' "$WORK/reload.toml" >"$WORK/reload-3.toml"
  { client_table default; echo 'scopes = ["altinn:enduser"]'; echo; client_table missing |
      sed 's|object=vsert-auth;|object=no-such-key;|'; echo 'scopes = ["altinn:enduser"]'; } >>"$WORK/reload-3.toml"
  reload_with "$WORK/reload-3.toml" reload_failed_times && ok "reload: a key the helper cannot find fails the reload" ||
    not_ok "reload: a key the helper cannot find fails the reload"
  expect_contains "reload: in words" "$(cat "$AGENT_LOG")" \
    "reload failed, keeping the running configuration: $WORK/reload.toml: client \"missing\": no private key with object=\"no-such-key\""
  expect_contains "reload: the running configuration serves on (a new token of the new client)" \
    "$(agent_within 20 '{"op":"token","client":"second","scopes":["altinn:instances.read"],"resource":["https://r2.example"]}')" \
    '"ok":true'
  expect_eq "reload: still one C_Login" "$(fault_count login_count)" 1
  expect_eq "reload: still the same helper" "$(helper_pid)" "$helper_before"
  stop_agent reload
fi

# --- 5. the token's PIN flags: no automatic login on a final try or a lock ---
# pin_flag_start NAME FLAG WORDS
pin_flag_start() {
  export MPA_FAULT_DIR="$WORK/faults-$1"
  mkdir -p "$MPA_FAULT_DIR"
  echo "$2" >"$MPA_FAULT_DIR/pin_flags"
  write_fault_config "$WORK/$1.toml" "$1"
  start_once "$1" "$WORK/$1.toml"
  expect_eq "$1: run exits 3" "$rc" 3
  expect_contains "$1: saying why" "$err" "$3"
  expect_eq "$1: without any C_Login" "$(fault_count login_count)" 0
}
pin_flag_start final-try CKF_USER_PIN_FINAL_TRY \
  "reports that one more wrong PIN locks it (CKF_USER_PIN_FINAL_TRY); not logging in automatically"
pin_flag_start pin-locked CKF_USER_PIN_LOCKED "\"Virksomhet Test\" is locked; not trying to log in"
export MPA_FAULT_DIR="$WORK/faults-count-low"
mkdir -p "$MPA_FAULT_DIR"
echo CKF_USER_PIN_COUNT_LOW >"$MPA_FAULT_DIR/pin_flags"
if fault_agent count-low; then
  expect_eq "count-low: logs in once" "$(fault_count login_count)" 1
  expect_contains "count-low: and warns" "$(cat "$AGENT_LOG")" \
    "reports failed PIN attempts (CKF_USER_PIN_COUNT_LOW); check the PIN"
  stop_agent count-low
fi

# --- 7. a smartcard: 50 ms a signature, one at a time ---
if fault_agent card "max_concurrent_signatures = 1"; then
  echo 50 >"$MPA_FAULT_DIR/sign_latency_ms"
  rm -f "$MPA_FAULT_DIR/sign_log"
  askers=()
  for i in 1 2 3 4 5 6 7 8; do
    agent_within 30 "$(fresh_line "card$i")" >"$WORK/card$i.out" &
    askers+=($!)
  done
  wait "${askers[@]}" || true
  expect_eq "card: 8 concurrent new tokens all succeed" "$(cat "$WORK"/card*.out | grep -c '"ok":true')" 8
  expect_eq "card: the card signed them one after the other" \
    "$(awk '{print $1}' "$MPA_FAULT_DIR/sign_log" | paste -sd' ')" \
    "$(for i in 1 2 3 4 5 6 7 8; do printf 'begin end '; done | sed 's/ $//')"
  expect_eq "card: all in the signer helper, none in the agent" \
    "$(awk '{print $2}' "$MPA_FAULT_DIR/sign_log" | sort -u)" "$(helper_pid)"
  stop_agent card
fi

# --- 3. abort() in C_Sign: the helper dies, the agent does not ---
if fault_agent abort; then
  touch "$MPA_FAULT_DIR/abort_sign"
  expect_fast "abort: a new token: hsm_error at once, saying why and when" \
    "$(agent_within 10 "$(fresh_line abort1)")" 2000 \
    '"signer restarting: the helper closed the connection, killed by signal 6 (SIGABRT), next try in 1 s"'
  kill -0 "$AGENT_PID" && ok "abort: the agent lives" || not_ok "abort: the agent lives"
  expect_cached "abort: a cached token is served"
  expect_contains "abort: the agent logs it" "$(cat "$AGENT_LOG")" \
    "signer restarting: the helper closed the connection, killed by signal 6 (SIGABRT)"
  logged_in() { [[ "$(agent_within 10 '{"op":"status"}')" == *'"logged_in":true'* ]]; }
  wait_for logged_in && ok "abort: a new helper is started" || not_ok "abort: a new helper is started"
  expect_fast "abort: it aborts again: the back-off doubles" "$(agent_within 10 "$(fresh_line abort2)")" 2000 \
    "killed by signal 6 (SIGABRT), next try in 2 s"
  rm "$MPA_FAULT_DIR/abort_sign"
  wait_for signs_again && ok "abort: without abort_sign it signs again by itself" ||
    not_ok "abort: without abort_sign it signs again by itself"
  expect_eq "abort: one login per helper" "$(fault_count login_count)" 3
  stop_agent abort
fi

# --- 6. the token pulled out: re-opened once per back-off step, not per request ---
SPY_LOG="$WORK/spy-removed.log"
export PKCS11SPY="$MPA_FAULT_PKCS11" PKCS11SPY_OUTPUT="$SPY_LOG"
MPA_FAULT_PKCS11_SAVED="$MPA_FAULT_PKCS11"
MPA_FAULT_PKCS11=/usr/lib/x86_64-linux-gnu/pkcs11-spy.so  # pkcs11-spy in front counts C_Initialize
if fault_agent removed; then
  opens() { cat "$SPY_LOG" 2>/dev/null | grep -c ': C_Initialize$' || true; }
  before="$(opens)"
  reopens() { echo $(($(opens) - before)); }
  touch "$MPA_FAULT_DIR/removed"
  removed_at="$(date +%s%N)"
  requests=0
  : >"$WORK/removed.out"
  while (($(reopens) < 3)) && ((requests < 2000)); do
    lines=()
    for i in 1 2 3 4 5 6 7 8 9 10; do lines+=("$(fresh_line "removed$requests-$i")"); done
    agent_lines "${lines[@]}" >>"$WORK/removed.out"
    requests=$((requests + 10))
  done
  elapsed_ms=$((($(date +%s%N) - removed_at) / 1000000))
  expect_eq "removed: every new token is an hsm_error" "$(grep -vc '"error":"hsm_error"' "$WORK/removed.out" || true)" 0
  expect_contains "removed: saying when the token is asked for again" "$(cat "$WORK/removed.out")" \
    "(next try to open the token in "
  ((requests >= 30)) && ok "removed: $requests requests made 3 re-opens, not one each" ||
    not_ok "removed: $requests requests made 3 re-opens, not one each"
  ((elapsed_ms >= 2900)) && ok "removed: the 3rd re-open came after the 1 s and 2 s steps ($elapsed_ms ms)" ||
    not_ok "removed: the 3rd re-open came after the 1 s and 2 s steps ($elapsed_ms ms)"
  expect_cached "removed: a cached token is served"
  expect_contains "removed: status says the token is absent" "$(agent_within 10 '{"op":"status"}')" \
    '"token_present":false'
  rm "$MPA_FAULT_DIR/removed"
  wait_for signs_again && ok "removed: put back, the agent signs again" ||
    not_ok "removed: put back, the agent signs again"
  expect_eq "removed: after one more C_Login" "$(fault_count login_count)" 2
  stop_agent removed
fi
MPA_FAULT_PKCS11="$MPA_FAULT_PKCS11_SAVED"
unset PKCS11SPY PKCS11SPY_OUTPUT

# --- 1. a C_Sign that hangs: the helper is killed at its deadline ---
if fault_agent hang "sign_timeout_seconds = 2"; then
  entered="$(fault_count sign_entered)"
  signed="$(fault_count sign_count)"
  first_helper="$(helper_pid)"
  touch "$MPA_FAULT_DIR/hang_sign"
  agent_within 20 "$(fresh_line hang1)" >"$WORK/hang1.out" &
  asker=$!
  # Status every 20 ms until the helper is down; then a new token at once.
  agent_poll 20 '"logged_in":false' '{"op":"status"}' "$(fresh_line hang2)" >"$WORK/hang-poll.out" &
  poller=$!
  sign_hangs() { (($(fault_count sign_entered) > entered)); }
  wait_for sign_hangs
  expect_eq "hang: C_Sign hangs" "$(fault_count sign_count)" "$signed"
  expect_fast "hang: meanwhile status answers at once" "$(agent_within 10 '{"op":"status"}')" 1000 '"ok":true'
  expect_cached "hang: and a cached token is served"
  wait "$asker" || true
  answer="$(cat "$WORK/hang1.out")"
  expect_contains "hang: the new token waiting on it: hsm_error, saying why and when" "$(error_of "$(answer_of "$answer")")" \
    "hsm_error: signer restarting: the helper did not answer a signature within 2 s, next try in "
  (($(ms_of "$answer") >= 1900 && $(ms_of "$answer") < 6000)) && ok "hang: after sign_timeout_seconds (2 s)" ||
    not_ok "hang: after sign_timeout_seconds (2 s): $(ms_of "$answer") ms"
  helper_gone() { [[ ! -e "/proc/$first_helper" ]]; }
  wait_for helper_gone && ok "hang: the helper is killed" || not_ok "hang: the helper is killed"
  wait "$poller" && ok "hang: status says when the helper is down" || not_ok "hang: status says when the helper is down"
  status="$(sed -n 1p "$WORK/hang-poll.out")"
  [[ "$status" =~ signer\ restarting:\ the\ helper\ did\ not\ answer\ a\ signature\ within\ 2\ s,\ next\ try\ in\ [0-9]+\ s ]] &&
    ok "hang: status says \"signer restarting: why, next try in N s\"" ||
    not_ok "hang: status says \"signer restarting: why, next try in N s\": [$status]"
  answer="$(sed -n 2p "$WORK/hang-poll.out")"
  expect_fast "hang: a new token meanwhile: hsm_error at once, in those words" "$answer" 1000 \
    '"error":"hsm_error","message":"signer restarting: the helper did not answer a signature within 2 s, next try in '
  expect_contains "hang: the agent logs why" "$(cat "$AGENT_LOG")" \
    "signer restarting: the helper did not answer a signature within 2 s"
  rm "$MPA_FAULT_DIR/hang_sign"
  wait_for signs_again && ok "hang: without hang_sign it signs again by itself" ||
    not_ok "hang: without hang_sign it signs again by itself"
  # SIGTERM while a C_Sign hangs.
  last_helper="$(helper_pid)"
  entered="$(fault_count sign_entered)"
  touch "$MPA_FAULT_DIR/hang_sign"
  agent_within 20 "$(fresh_line hang3)" >/dev/null &
  asker=$!
  wait_for sign_hangs
  stop_agent "hang (a C_Sign hanging)"
  last_gone() { [[ ! -e "/proc/$last_helper" ]]; }
  wait_for last_gone && ok "hang: and no helper outlives it" || not_ok "hang: and no helper outlives it"
  rm -f "$MPA_FAULT_DIR/hang_sign"
  wait "$asker" || true
fi

# --- 2. a C_OpenSession that hangs while the token is opened again ---
if fault_agent open "sign_timeout_seconds = 2"; then
  touch "$MPA_FAULT_DIR/removed"
  expect_fast "open: the token removed: a new token is an hsm_error" \
    "$(agent_within 10 "$(fresh_line open0)")" 2000 '"error":"hsm_error"'
  opened="$(fault_count open_session_entered)"
  touch "$MPA_FAULT_DIR/hang_open_session"
  rm "$MPA_FAULT_DIR/removed"
  # New tokens until one makes the helper open the token again.
  (n=0; while (($(fault_count open_session_entered) <= opened)); do
    agent_within 10 "$(fresh_line "open$((++n))")" >/dev/null
    sleep 0.1
  done) &
  trigger=$!
  track_pid "$trigger"
  opens_hanging() {
    (($(fault_count open_session_entered) >= opened + $1 &&
      $(fault_count open_session_entered) > $(fault_count open_session_count)))
  }
  wait_for opens_hanging 1 && ok "open: C_OpenSession hangs in the re-open" ||
    not_ok "open: C_OpenSession hangs in the re-open"
  expect_fast "open: meanwhile status answers" "$(agent_within 10 '{"op":"status"}')" 1500 '"ok":true'
  expect_cached "open: and a cached token is served"
  expect_fast "open: and ping" "$(agent_within 10 '{"op":"ping"}')" 1000 '"ok":true'
  wait "$trigger" || true
  wait_for opens_hanging 2 && ok "open: the helper killed, the next one hangs in C_OpenSession at setup" ||
    not_ok "open: the helper killed, the next one hangs in C_OpenSession at setup"
  expect_fast "open: meanwhile status answers" "$(agent_within 10 '{"op":"status"}')" 1500 'signer restarting: '
  expect_cached "open: and a cached token is served"
  expect_fast "open: and a new token is an hsm_error at once" "$(agent_within 10 "$(fresh_line open-setup)")" 1000 \
    '"error":"hsm_error","message":"signer restarting: '
  rm "$MPA_FAULT_DIR/hang_open_session"
  wait_for signs_again && ok "open: without the hang it signs again by itself" ||
    not_ok "open: without the hang it signs again by itself"
  stop_agent open
fi
finish
