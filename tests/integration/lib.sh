# Shared by tests/integration/test_*.sh (source it). Starts real processes:
# a SoftHSM token made by softhsm-fixtures/, the stand-in Maskinporten over
# HTTPS, the real maskinporten-agent binary. Everything lives in one temp
# directory that is removed on exit, with every process started here.
set -euo pipefail
# Files made here get 0644: the agent refuses a configuration (or module)
# that its group or others may write, whatever umask the caller has.
umask 022

MPA_SOURCE_DIR="${MPA_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
MPA_BIN="${MPA_BIN:-$MPA_SOURCE_DIR/build/maskinporten-agent}"
PY=/usr/bin/python3   # Debian's, with python3-jwt and python3-cryptography
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mpa-test.XXXXXX")"
# Refused-PIN records of the agents started here stay here (not /var/lib).
export STATE_DIRECTORY="$WORK/state"
CLIENT_ID="0ee1e2a9-6c4c-4d59-a3c0-6a5bbd8d0c11"
KEY_URI="pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private"
PASSED=0
FAILED=0
_PIDS=()

_cleanup() {
  local pid
  for pid in "${_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "${MPA_KEEP_WORK:-}" ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap _cleanup EXIT

# Remember a background process so that it is stopped on exit.
track_pid() { _PIDS+=("$1"); }

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1" >&2; }

# expect_eq NAME ACTUAL EXPECTED
expect_eq() {
  if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1: expected [$3], got [$2]"; fi
}
# expect_contains NAME HAYSTACK NEEDLE
expect_contains() {
  if [[ "$2" == *"$3"* ]]; then ok "$1"; else not_ok "$1: expected to contain [$3], got [$2]"; fi
}
expect_not_contains() {
  if [[ "$2" != *"$3"* ]]; then ok "$1"; else not_ok "$1: must not contain [$3], got [$2]"; fi
}

# Prints the plain closing line and exits with the right status.
finish() {
  echo "$PASSED passed, $FAILED failed"
  [[ $FAILED -eq 0 ]]
}

# A fresh SoftHSM token with the test PKI (contracts: softhsm-fixtures/).
make_token() {
  HSM="$WORK/hsm"
  "$MPA_SOURCE_DIR/softhsm-fixtures/make-token.sh" "$HSM" >"$WORK/make-token.log" 2>&1 || {
    cat "$WORK/make-token.log" >&2
    return 1
  }
  export SOFTHSM2_CONF="$HSM/softhsm2.conf"
}

# start_standin [extra stand-in options]: sets STANDIN_PORT, STANDIN_ISSUER,
# STANDIN_CA (its TLS CA), STANDIN_DIR.
start_standin() {
  STANDIN_DIR="$WORK/standin"
  mkdir -p "$STANDIN_DIR"
  "$PY" "$MPA_SOURCE_DIR/tests/standin/maskinporten.py" --state-dir "$STANDIN_DIR" \
    --trusted-ca "$HSM/pki/root-ca.pem" \
    --client "$CLIENT_ID=altinn:enduser,altinn:instances.read,skatteetaten:test,nav:test/api" \
    "$@" 2>"$STANDIN_DIR/log" &
  local pid=$! i
  track_pid $pid
  # Up to 60 s: it makes an RSA TLS key first, slow on a loaded machine.
  for i in $(seq 1 600); do
    [[ -s "$STANDIN_DIR/port" ]] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  [[ -s "$STANDIN_DIR/port" ]] || { echo "stand-in did not start:" >&2; cat "$STANDIN_DIR/log" >&2; return 1; }
  STANDIN_PORT="$(cat "$STANDIN_DIR/port")"
  STANDIN_ISSUER="https://localhost:$STANDIN_PORT/"
  STANDIN_CA="$STANDIN_DIR/tls-ca.pem"
}

# standin_control PATH [JSON]: POST JSON (or GET without) to the control API.
standin_control() {
  if [[ $# -ge 2 ]]; then
    curl -sS --cacert "$STANDIN_CA" -H 'Content-Type: application/json' -d "$2" "${STANDIN_ISSUER}_control/$1"
  else
    curl -sS --cacert "$STANDIN_CA" "${STANDIN_ISSUER}_control/$1"
  fi
}

# client_table NAME: the start of a [[client]] table for the stand-in and
# the fixture token's key.
client_table() {
  cat <<CONF
[[client]]
name = "$1"
client_id = "$CLIENT_ID"
environment = "custom"
issuer = "$STANDIN_ISSUER"
token_endpoint = "${STANDIN_ISSUER}token"
key = "$KEY_URI"
ca_file = "$STANDIN_CA"
CONF
}

# write_config FILE [extra lines for the [[client]] table]
write_config() {
  local file="$1"
  shift
  cat >"$file" <<CONF
[agent]
socket = "$WORK/run/agent.sock"
refresh_margin_seconds = 30

[pkcs11]
module = "/usr/lib/softhsm/libsofthsm2.so"
pin_file = "$HSM/pin"

$(client_table default)
altinn_exchange_endpoint = "${STANDIN_ISSUER}authentication/api/v1/exchange/maskinporten"
scopes = ["altinn:enduser", "altinn:instances.read", "skatteetaten:test", "nav:test/api"]
retry_deadline_seconds = 20
CONF
  local line
  for line in "$@"; do echo "$line" >>"$file"; done
}

# write_config_with_module MODULE FILE [extra client lines]: write_config's
# configuration with MODULE as its [pkcs11] module.
write_config_with_module() {
  local module="$1"
  shift
  write_config "$@"
  sed -i "s|^module = .*|module = \"$module\"|" "$1"
}

# verified_grant GRANT [PUBLIC KEY PEM]: the claims verify_grant.py (PyJWT)
# reads from GRANT, checked against its x5c chain to the test root $ROOT (or,
# for a kid grant, the public key) with the stand-in's issuer as audience;
# fails when the grant does not verify.
verified_grant() {
  "$PY" "$MPA_SOURCE_DIR/tests/integration/verify_grant.py" "$1" "$ROOT" "$STANDIN_ISSUER" "${@:2}"
}

# capture COMMAND [ARGS...] (stdin passes through): runs it; sets OUT to what
# it prints, ERR to its stderr and RC to its exit status.
capture() {
  RC=0
  OUT="$("$@" 2>"$WORK/stderr")" || RC=$?
  ERR="$(cat "$WORK/stderr")"
}

# vector_token DIR NAME: the token called NAME in DIR/tokens.json, as
# tests/vectors/make_*_vectors.py write them.
vector_token() {
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/tokens.json" "$2"
}

# jwt_part TOKEN N: decodes part N (0 header, 1 body) of a compact JWS.
jwt_part() {
  "$PY" -c 'import sys,base64,json
p=sys.argv[1].split(".")[int(sys.argv[2])]
print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))),sort_keys=True))' "$1" "$2"
}

# json_get JSON EXPR: evaluates a Python expression on the parsed JSON `j`.
json_get() {
  "$PY" -c 'import sys,json
j=json.loads(sys.argv[1])
r=eval(sys.argv[2])
print(json.dumps(r) if isinstance(r,(dict,list)) else r)' "$1" "$2"
}

# start_agent CONFIG [RUN OPTION...]: runs `maskinporten-agent run` in the
# background and waits until it answers a ping. Sets AGENT_PID, AGENT_LOG,
# SOCK (from the config's [agent] socket line).
start_agent() {
  local conf="$1" i
  SOCK="$(sed -n 's/^socket = "\(.*\)"/\1/p' "$conf" | head -1)"
  AGENT_LOG="$WORK/agent.$RANDOM.log"
  "$MPA_BIN" run --config "$conf" "${@:2}" 2>"$AGENT_LOG" &
  AGENT_PID=$!
  track_pid "$AGENT_PID"
  for i in $(seq 1 200); do
    if [[ -S "$SOCK" ]] && agent_lines '{"op":"ping"}' 2>/dev/null | grep -q '"ok":true'; then
      return 0
    fi
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "agent did not start:" >&2
  cat "$AGENT_LOG" >&2
  return 1
}

# agent_lines LINE...: sends each line on one connection, prints each answer.
agent_lines() { "$PY" "$MPA_SOURCE_DIR/tests/integration/sock.py" "$SOCK" lines "$@"; }

# wait_for COMMAND...: retries COMMAND for up to 20 s.
wait_for() { wait_for_seconds 20 "$@"; }

# wait_for_seconds N COMMAND...: retries COMMAND for up to N s.
wait_for_seconds() {
  local i limit=$(($1 * 10))
  shift
  for i in $(seq 1 "$limit"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# standin_held N: true when exactly N requests wait at the stand-in for a
# release (POST _control/hold, tests/standin/README.md).
standin_held() { [[ "$(json_get "$(standin_control stats)" 'j["held"]')" == "$1" ]]; }

# wait_until_epoch SECONDS: returns once the system clock reads SECONDS
# (Unix time) or later: for a condition that is the clock itself, such as a
# token's expiry. Refuses a moment more than 120 s ahead.
wait_until_epoch() {
  if (($1 - $(date +%s) > 120)); then
    echo "wait_until_epoch: $1 is more than 120 s ahead" >&2
    return 1
  fi
  while (($(date +%s) < $1)); do sleep 0.1; done
}

# --- token faults: the fault-injecting module (tests/support/fault_pkcs11) ---
MPA_FAULT_PKCS11="${MPA_FAULT_PKCS11:-${MPA_BUILD_DIR:-$MPA_SOURCE_DIR/build}/tests/support/fault_pkcs11/libmpa_fault_pkcs11.so}"

# write_fault_config FILE NAME [LINE...]: write_config's agent with the
# fault module in [pkcs11] module (it forwards to $MPA_FAULT_MODULE), LINEs
# added to [pkcs11], and a socket of its own under $WORK/NAME.
write_fault_config() {
  local file="$1" name="$2" line
  shift 2
  write_config "$file"
  sed -i -e "s|^module = .*|module = \"$MPA_FAULT_PKCS11\"|" \
    -e "s|^socket = .*|socket = \"$WORK/$name/agent.sock\"|" "$file"
  for line in "$@"; do sed -i "s|^\(pin_file = .*\)|\1\n$line|" "$file"; done
}

# fault_count NAME: a counter the fault module keeps in $MPA_FAULT_DIR (0
# before its first count).
fault_count() { cat "$MPA_FAULT_DIR/$1" 2>/dev/null || echo 0; }

# agent_within SECONDS LINE: sends LINE on a connection of its own; prints
# the milliseconds until the answer and the answer, or "<no answer>" when
# none came within SECONDS (a hang, told apart from a slow agent).
agent_within() {
  "$PY" - "$SOCK" "$1" "$2" <<'PY'
import socket, sys, time
path, limit, line = sys.argv[1], float(sys.argv[2]), sys.argv[3]
start = time.monotonic()
buf = b""
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(limit)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
except OSError:
    pass
answer = buf.partition(b"\n")[0].decode() if b"\n" in buf else "<no answer>"
print(int((time.monotonic() - start) * 1000), answer)
PY
}

# agent_poll SECONDS NEEDLE LINE [NEXT]: sends LINE every 20 ms on one
# connection until an answer contains NEEDLE and prints that answer; then
# sends NEXT at once, if given, and prints its milliseconds and answer as
# agent_within does. Fails, printing the last answer, after SECONDS.
agent_poll() {
  "$PY" - "$SOCK" "$@" <<'PY'
import socket, sys, time
path, limit, needle, line = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(limit)
s.connect(path)
f = s.makefile("rwb")
def ask(text):
    f.write(text.encode() + b"\n")
    f.flush()
    return f.readline().decode().rstrip("\n")
end = time.monotonic() + limit
answer = ask(line)
while needle not in answer:
    if time.monotonic() > end:
        print(answer)
        sys.exit(1)
    time.sleep(0.02)
    answer = ask(line)
print(answer)
if len(sys.argv) > 5:
    start = time.monotonic()
    answer = ask(sys.argv[5])
    print(int((time.monotonic() - start) * 1000), answer)
PY
}

# wait_exit PID SECONDS: true once PID, a child of this shell, has ended
# within SECONDS (then EXIT_RC is its status); false if it still runs.
wait_exit() {
  local i
  for i in $(seq 1 $(($2 * 10))); do
    if [[ ! -e "/proc/$1" ]] || [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]]; then
      wait "$1" && EXIT_RC=0 || EXIT_RC=$?
      return 0
    fi
    sleep 0.1
  done
  return 1
}
