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

# --- a reconfigure narrows the real helper's policy, without a new login ---
# The helper alone, driven over its wire as a compromised agent would:
# set up for RS256 grants to the stand-in, then reconfigured (as a reload
# does once the old configuration is gone) for RS512 grants to another
# issuer with a second key. The old audience and alg are refused after.
before="$(logins)"
"$PY" - "$MPA_BIN" "$MODULE" "$HSM/pin" "$STANDIN_ISSUER" >"$WORK/wire.out" 2>"$WORK/wire.err" <<'PY' || true
import base64, fcntl, json, os, socket, struct, subprocess, sys, time
binary, module, pin_file, issuer = sys.argv[1:5]
other = "https://maskinporten.no/"
key = "pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private"
key2 = "pkcs11:token=Virksomhet%20Test;object=vsert-auth-3072;type=private"
RS256, RS512 = 0, 2
def text(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b
def keys(uris):
    return struct.pack(">I", len(uris)) + b"".join(text(u) + b"\0" for u in uris)
def policy(algs, auds):
    return struct.pack(">I", len(algs)) + bytes(algs) + struct.pack(">I", len(auds)) + b"".join(map(text, auds))
def frame(kind, body):
    body = bytes([2, kind]) + body
    return struct.pack(">I", len(body)) + body
# Both ends above 10 first, so that putting the helper's on 3 clobbers nothing.
a, b = socket.socketpair()
mine = fcntl.fcntl(a.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
helpers = fcntl.fcntl(b.fileno(), fcntl.F_DUPFD, 10)
a.close()
b.close()
os.dup2(helpers, 3)
os.close(helpers)
helper = subprocess.Popen([binary, "signer-helper", "--fd", "3"], pass_fds=(3,))
os.close(3)
ours = socket.socket(fileno=mine)
f = ours.makefile("rb")
def answer():
    size = struct.unpack(">I", f.read(4))[0]
    body = f.read(size)
    return body[1], body[2:]
def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
def sign(n, index, alg, aud):
    now = int(time.time())
    header = b64({"alg": ["RS256", "RS384", "RS512"][alg]})
    claims = b64({"aud": aud, "iss": "x", "iat": now, "exp": now + 60, "jti": str(n), "scope": "s"})
    ours.sendall(frame(4, struct.pack(">QIB", n, index, alg) + text(header + "." + claims)))
    kind, body = answer()
    return "signature" if kind == 5 else "refused: " + body[13:].decode(errors="replace")
ours.sendall(frame(1, text(module) + text(key) + keys([key]) + b"\x01" + text(pin_file) +
                   policy([RS256], [issuer]) + text(os.environ["STATE_DIRECTORY"]) + struct.pack(">I", 1)))
print("setup", "ready" if answer()[0] == 2 else "failed")
print("old before", sign(1, 0, RS256, issuer))
ours.sendall(frame(9, keys([key, key2]) + policy([RS512], [other])))
kind, body = answer()
print("reconfigure", "ready with %d keys" % struct.unpack(">I", body[:4])[0] if kind == 2 else "failed")
print("old audience", sign(2, 0, RS512, issuer))
print("old alg", sign(3, 0, RS256, other))
print("new key", sign(4, 1, RS512, other))
f.close()
ours.close()
print("exit", helper.wait(timeout=10))
PY
wire="$(cat "$WORK/wire.out")"
expect_contains "the helper alone: set up" "$wire" "setup ready"
expect_contains "signs a grant for the configured issuer" "$wire" "old before signature"
expect_contains "a reconfigure adds a key" "$wire" "reconfigure ready with 2 keys"
expect_contains "after it, the old audience is refused" "$wire" \
  "old audience refused: the signer refuses: aud \"$STANDIN_ISSUER\" is not a configured issuer"
expect_contains "and the old alg" "$wire" "old alg refused: the signer refuses: alg RS256 is not configured"
expect_contains "the new key signs for the new issuer" "$wire" "new key signature"
expect_contains "the helper ends at end of file" "$wire" "exit 0"
expect_eq "one login for the helper, none for the reconfigure" "$(logins)" $((before + 1))
finish
