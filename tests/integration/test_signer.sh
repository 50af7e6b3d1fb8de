# The signer helper process (issue 8), end to end through the real agent:
# only the helper loads the module; SIGHUP under load neither crashes nor
# logs in again; a helper killed with SIGKILL is restarted while cached
# tokens are served; status says "signer restarting" meanwhile.
#
# C_Login is counted with OpenSC's pkcs11-spy in front of SoftHSM. The
# fault-injecting module (tests/support/fault_pkcs11, MPA_FAULT_DIR) can
# take its place: set MPA_SIGNER_TEST_MODULE to it (it finds SoftHSM via
# MPA_FAULT_MODULE) and MPA_SIGNER_LOGINS to a command printing its count.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
SPY_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11-spy.so
MODULE="${MPA_SIGNER_TEST_MODULE:-$SPY_MODULE}"
export PKCS11SPY=/usr/lib/softhsm/libsofthsm2.so PKCS11SPY_OUTPUT="$WORK/spy.log"
export MPA_FAULT_MODULE=/usr/lib/softhsm/libsofthsm2.so
logins() {
  if [[ -n "${MPA_SIGNER_LOGINS:-}" ]]; then eval "$MPA_SIGNER_LOGINS"; return; fi
  grep -c ': C_Login$' "$WORK/spy.log" 2>/dev/null || echo 0
}

CONF="$WORK/agent.toml"
write_config "$CONF"
sed -i "s|^module = .*|module = \"$MODULE\"|" "$CONF"
start_agent "$CONF"

helper_pid() { pgrep -P "$AGENT_PID" -f 'signer-helper --fd' | head -1; }
token_line() { printf '{"op":"token","client":"default","scopes":["%s"]%s}' "$1" "${2:-}"; }
ask() { agent_lines "$(token_line "$@")"; }
access_token_of() { json_get "$1" 'j.get("access_token", j)'; }
error_of() { json_get "$1" 'j.get("error", "") + ": " + j.get("message", "")'; }

# --- only the helper loads the module ---
HELPER="$(helper_pid)"
[[ -n "$HELPER" ]] && ok "run started a signer helper" || not_ok "run started a signer helper"
module_in() { grep -q 'libsofthsm2' "/proc/$1/maps"; }
module_in "$HELPER" && ok "the helper loaded the module" || not_ok "the helper loaded the module"
module_in "$AGENT_PID" && not_ok "the agent process must not load the module" ||
  ok "the agent process never loads the module"
expect_eq "one login" "$(logins)" 1
expect_eq "the helper's argv says what it is" "$(tr '\0' ' ' <"/proc/$HELPER/cmdline")" \
  "maskinporten-agent signer-helper --fd 3 "
expect_eq "the helper holds one socket, its own on fd 3" \
  "$(find "/proc/$HELPER/fd" -lname 'socket:*' -printf '%f\n')" 3
expect_eq "the agent's soft RLIMIT_NOFILE is its hard limit" \
  "$(awk '/Max open files/ {print ($4 == $5)}' "/proc/$AGENT_PID/limits")" 1

expect_contains "a token through the helper" "$(ask altinn:instances.read)" '"ok":true'

# --- SIGHUP under load: no crash, no new login, the same helper ---
load() {
  local i=0
  while [[ ! -e "$WORK/stop-load" ]]; do
    ask altinn:enduser ",\"resource\":[\"https://r$1-$i.example\"]" >>"$WORK/load.$1" 2>&1 || true
    i=$((i + 1))
  done
}
LOADERS=()
for n in 1 2 3 4 5 6 7 8; do
  load "$n" &
  LOADERS+=($!)
  track_pid $!
done
reloaded_at_least() { [[ "$(grep -c 'reloaded the configuration' "$AGENT_LOG")" -ge "$1" ]]; }
for n in $(seq 1 15); do
  kill -HUP "$AGENT_PID"
  wait_for reloaded_at_least "$n" || { not_ok "reload $n finished"; break; }
done
touch "$WORK/stop-load"
wait "${LOADERS[@]}" || true
kill -0 "$AGENT_PID" 2>/dev/null && ok "15 reloads under load: the agent lives" || not_ok "15 reloads under load: the agent lives"
expect_eq "reloads do not log in again" "$(logins)" 1
expect_eq "and keep the same helper" "$(helper_pid)" "$HELPER"
expect_eq "every answer under load was a token" "$(cat "$WORK"/load.* | grep -vc '"ok":true' || true)" 0
expect_contains "a fresh token after the reloads" "$(ask altinn:enduser ',"resource":["https://after-hup.example"]')" '"ok":true'

# --- the helper killed with SIGKILL: cached tokens served, status says why, restarted ---
# (a reload starts a fresh cache, so the token to keep is asked for now)
cached="$(access_token_of "$(ask altinn:instances.read)")"
expect_contains "a token through the helper" "$cached" 'eyJ'
served_from_cache() { [[ "$(access_token_of "$(ask altinn:instances.read)")" == "$cached" ]]; }
kill -KILL "$HELPER"
served_from_cache && ok "a cached token is served while the helper is down" ||
  not_ok "a cached token is served while the helper is down"
answer="$(ask altinn:enduser ',"resource":["https://while-down.example"]')"
if [[ "$answer" == *'"ok":true'* ]]; then
  ok "a fresh token while down (the helper was back already)"
else
  expect_contains "a fresh token while down: hsm_error at once, saying why and when" "$(error_of "$answer")" \
    "hsm_error: signer restarting: the helper closed the connection, killed by signal 9 (SIGKILL), next try in "
fi
wait_for grep -q "signer restarting: the helper closed the connection, killed by signal 9 (SIGKILL)" "$AGENT_LOG" &&
  ok "the agent logs why the signer restarts" || not_ok "the agent logs why the signer restarts"
new_helper() { local p; p="$(helper_pid)"; [[ -n "$p" && "$p" != "$HELPER" ]]; }
wait_for new_helper && ok "a new helper is started" || not_ok "a new helper is started"
wait_for sh -c "$(printf '%q ' "$PY" "$MPA_SOURCE_DIR/tests/integration/sock.py" "$SOCK" lines \
  "$(token_line altinn:enduser ',"resource":["https://after-kill.example"]')") | grep -q '\"ok\":true'" &&
  ok "and signs" || not_ok "and signs"
expect_eq "with one more login" "$(logins)" 2

# --- a refused PIN is recorded and never presented again, across restarts ---
(umask 0177 && echo 00000000 >"$WORK/wrong-pin")
sed "s|^pin_file = .*|pin_file = \"$WORK/wrong-pin\"|" "$CONF" >"$WORK/wrong-pin.toml"
sed -i "s|^socket = .*|socket = \"$WORK/run2/agent.sock\"|" "$WORK/wrong-pin.toml"
before="$(logins)"
err="$(timeout 60 "$MPA_BIN" run --config "$WORK/wrong-pin.toml" 2>&1 >/dev/null)" && rc=0 || rc=$?
expect_eq "a wrong PIN at start exits 3" "$rc" 3
expect_contains "saying the token refused it" "$err" "refused the PIN (CKR_PIN_INCORRECT (incorrect PIN)); not retried"
expect_contains "and where it is recorded" "$err" "; recorded in $STATE_DIRECTORY/refused-pin."
expect_eq "one login attempt" "$(logins)" $((before + 1))
record="$(ls "$STATE_DIRECTORY"/refused-pin.* 2>/dev/null | head -1)"
[[ -n "$record" ]] && ok "the record file exists" || not_ok "the record file exists"
grep -q 00000000 "$record" && not_ok "the record holds the PIN itself" || ok "the record does not hold the PIN"
err="$(timeout 60 "$MPA_BIN" run --config "$WORK/wrong-pin.toml" 2>&1 >/dev/null)" && rc=0 || rc=$?
expect_eq "started again with the same PIN: exits 3" "$rc" 3
expect_contains "without presenting it, saying how to clear it" "$err" \
  "it refused this PIN before (recorded in $record); put the right PIN in place, or delete that file to try this one again"
expect_eq "no login attempt this time" "$(logins)" $((before + 1))
expect_contains "the running agent with the right PIN still signs" \
  "$(ask altinn:enduser ',"resource":["https://after-record.example"]')" '"ok":true'

helper_pid >"$WORK/last-helper"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && rc=0 || rc=$?
expect_eq "the agent stops cleanly" "$rc" 0
LAST_HELPER="$(cat "$WORK/last-helper")"
helper_gone() { ! kill -0 "$LAST_HELPER" 2>/dev/null; }
wait_for helper_gone && ok "and no helper outlives it" || not_ok "and no helper outlives it"
finish
