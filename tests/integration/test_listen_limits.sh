# Shared hosts (issue 10), the listening side, end to end with the real
# agent: one uid's share of connections (max_connections_per_uid) while
# another uid is still served; accepted sockets close-on-exec; a group
# socket that a group member can really reach (directory 0750 with the
# socket's group); a directory others may write to refused; check-config's
# warning for an [[allow]] peer the modes keep out; a peer outside [[allow]]
# refused in a flood and logged once; EMFILE survived with a reserve
# descriptor and logged once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
# nobody (uid 65534) with group 0 plays a member of the socket's group.
as_nobody() { setpriv --reuid=65534 --regid=0 --clear-groups "$@"; }
chmod 0711 "$WORK"
CONF="$WORK/agent.toml"
write_config "$CONF"
sed -i 's/^refresh_margin_seconds = 30/refresh_margin_seconds = 30\nmax_connections_per_uid = 8\nsocket_mode = "0660"/' "$CONF"
cat >>"$CONF" <<'CONF'

[[allow]]
uid = 65534
clients = ["default"]
CONF

# --- check-config: a peer that socket_mode keeps out is pointed out ---
sed 's/^socket_mode = "0660"/socket_mode = "0600"/' "$CONF" >"$WORK/private.toml"
out="$("$MPA_BIN" check-config --config "$WORK/private.toml" 2>&1)" || true
expect_contains "check-config warns that socket_mode 0600 keeps an [[allow]] uid out" "$out" \
  "warning: [[allow]] uid 65534 cannot reach $WORK/run/agent.sock: socket_mode is \"0600\""
expect_contains "and the rest of check-config still runs" "$out" "all checks passed"
out="$("$MPA_BIN" check-config --config "$CONF" 2>&1)" || true
expect_contains "with 0660 it says the peer is not in the socket's group" "$out" \
  "warning: [[allow]] uid 65534 cannot reach $WORK/run/agent.sock: the socket's group is gid $(id -g)"

# --- a directory others may write to is refused (as /tmp: sticky) ---
mkdir -m 1777 "$WORK/shared"
sed "s|^socket = .*|socket = \"$WORK/shared/agent.sock\"|" "$CONF" >"$WORK/shared.toml"
rc=0
# Bounded: an agent that accepted the directory would run until stopped.
out="$(timeout 60 "$MPA_BIN" run --config "$WORK/shared.toml" 2>&1)" || rc=$?
expect_eq "the agent refuses a socket in a sticky world-writable directory" "$rc" "1"
expect_contains "and says why" "$out" "directory $WORK/shared is writable by others (mode 1777)"
expect_eq "leaving no socket there" "$(ls -A "$WORK/shared")" ""

# --- group access: the directory the agent makes lets the group through ---
start_agent "$CONF"
expect_eq "the agent made its directory 0750 with the socket's group" \
  "$(stat -c '%a %g' "$WORK/run")" "750 $(stat -c '%g' "$SOCK")"
expect_eq "and the socket 0660" "$(stat -c '%a' "$SOCK")" "660"
expect_contains "a member of the socket's group, allowed by uid, is served" \
  "$(as_nobody "$PY" "$MPA_SOURCE_DIR/tests/integration/sock.py" "$SOCK" lines '{"op":"ping"}' 2>&1)" '"ok":true'

# Sockets of the agent without close-on-exec (O_CLOEXEC is 02000000 in fdinfo).
sockets_without_cloexec() {
  local fd count=0
  for fd in /proc/"$AGENT_PID"/fd/*; do
    [[ "$(readlink "$fd" 2>/dev/null)" == socket:* ]] || continue
    local flags
    flags="$(awk '/^flags:/ {print $2}' "/proc/$AGENT_PID/fdinfo/${fd##*/}" 2>/dev/null)" || continue
    [[ -n "$flags" ]] && (((8#$flags & 8#2000000) == 0)) && count=$((count + 1))
  done
  echo "$count"
}
before_flood="$(sockets_without_cloexec)"

# --- one uid at its share: its next connection is refused, another uid served ---
# Holds 8 idle connections of nobody, each answered a ping; then opens a
# 9th and prints its answer; then holds everything until the stop file
# appears (at most 120 s).
as_nobody "$PY" - "$SOCK" "$WORK/uid-flood.stop" >"$WORK/uid-flood.out" 2>&1 <<'PY' &
import os, socket, sys, time
path, stop = sys.argv[1], sys.argv[2]
def ping(s):
    s.sendall(b'{"op":"ping"}\n')
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip() or "<closed>"
held = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    print("held", i + 1, ping(s), flush=True)
    held.append(s)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
print("ninth", ping(s), flush=True)
print("holding", flush=True)
end = time.monotonic() + 120
while not os.path.exists(stop) and time.monotonic() < end:
    time.sleep(0.05)
PY
FLOOD_PID=$!
track_pid "$FLOOD_PID"
flood_done() { grep -q '^holding' "$WORK/uid-flood.out"; }
wait_for flood_done || cat "$WORK/uid-flood.out" >&2
expect_eq "the accepted connections are close-on-exec" "$(sockets_without_cloexec)" "$before_flood"
expect_eq "nobody's 8 connections are served" "$(grep -c '^held .*"ok":true' "$WORK/uid-flood.out")" "8"
expect_eq "its 9th is refused in words" "$(sed -n 's/^ninth //p' "$WORK/uid-flood.out")" \
  '{"ok":false,"error":"unavailable","message":"too many connections from uid 65534 (8); try again later"}'
expect_contains "while nobody holds its share, root is served" "$(agent_lines '{"op":"ping"}')" '"ok":true'
expect_contains "and gets a token" \
  "$(agent_lines '{"op":"token","client":"default","scopes":["altinn:instances.read"]}')" '"ok":true'
expect_eq "the refusal was logged once" \
  "$(grep -c 'too many connections from uid 65534' "$AGENT_LOG")" "1"
expect_contains "and counted in the metrics" "$("$MPA_BIN" metrics --socket "$SOCK")" \
  'maskinporten_agent_connections_refused_total{reason="max_connections_per_uid"} 1'
# --- a peer outside [[allow]] in a flood: refused every time, logged once ---
# uid 54321 (no rule) with group 0 reaches the socket; each of its 300
# connections reads its refusal.
setpriv --reuid=54321 --regid=0 --clear-groups "$PY" - "$SOCK" >"$WORK/stranger.out" 2>&1 <<'PY' || true
import socket, sys
refused = 0
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sys.argv[1])
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    if b'"you may not use this agent"' in data:
        refused += 1
print("refused", refused, flush=True)
PY
expect_eq "each of a stranger's 300 connections is refused in words" \
  "$(sed -n 's/^refused //p' "$WORK/stranger.out")" "300"
expect_eq "and the refusal is logged once, not per connection" \
  "$(grep -c 'refused uid 54321' "$AGENT_LOG")" "1"
expect_contains "while metrics count each one" "$("$MPA_BIN" metrics --socket "$SOCK")" \
  'maskinporten_agent_connections_refused_total{reason="allow"} 300'
expect_contains "and the agent still serves" "$(agent_lines '{"op":"ping"}')" '"ok":true'

touch "$WORK/uid-flood.stop"
wait_exit "$FLOOD_PID" 30 || not_ok "the flood ends"
kill "$AGENT_PID" 2>/dev/null || true
wait_exit "$AGENT_PID" 30 || not_ok "the agent stops on SIGTERM"

# --- out of descriptors: survived with the reserve, logged once ---
sed -e 's/^max_connections_per_uid = 8/max_connections_per_uid = 1000\nmax_connections = 1000/' \
  "$CONF" >"$WORK/emfile.toml"
AGENT_LOG="$WORK/emfile.log"
prlimit --nofile=64:64 "$MPA_BIN" run --config "$WORK/emfile.toml" 2>"$AGENT_LOG" &
AGENT_PID=$!
track_pid "$AGENT_PID"
answers_ping() { [[ -S "$SOCK" ]] && agent_lines '{"op":"ping"}' | grep -q '"ok":true'; }
wait_for answers_ping || { cat "$AGENT_LOG" >&2; not_ok "the agent starts under prlimit 64"; }
# Opens connections until the agent runs out of descriptors (one is not
# answered by a ping), then 20 more, each of which must end at once; then
# closes them all and prints how the last connection fared.
"$PY" - "$SOCK" >"$WORK/emfile.out" 2>&1 <<'PY' || true
import socket, sys, time
path = sys.argv[1]
def attempt(timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(b'{"op":"ping"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return s, data.decode(errors="replace").strip() or "<closed>"
    except OSError as e:
        return s, "<%s>" % e.__class__.__name__
held, first_failure = [], None
while first_failure is None and len(held) < 200:
    s, answer = attempt(10)
    if '"ok":true' in answer:
        held.append(s)
    else:
        first_failure = answer
print("served", len(held), flush=True)
print("first", first_failure, flush=True)
ended = 0
for i in range(20):
    start = time.monotonic()
    s, answer = attempt(10)
    if '"ok":true' not in answer and time.monotonic() - start < 5:
        ended += 1
    s.close()
print("ended", ended, flush=True)
for s in held:
    s.close()
PY
expect_contains "the agent ran out of descriptors under the flood" "$(cat "$WORK/emfile.out")" "first "
expect_eq "each connection past the limit ends at once instead of hanging" \
  "$(sed -n 's/^ended //p' "$WORK/emfile.out")" "20"
expect_eq "the shortage is logged once, not per connection" "$(grep -c 'Too many open files' "$AGENT_LOG")" "1"
expect_contains "in words for the operator" "$(cat "$AGENT_LOG")" \
  "out of file descriptors, new connections are closed at once"
wait_for answers_ping && ok "once the flood closes, the agent serves again" ||
  not_ok "once the flood closes, the agent serves again"
kill -0 "$AGENT_PID" 2>/dev/null && ok "the agent lives" || not_ok "the agent lives"
closed_at_once="$("$MPA_BIN" metrics --socket "$SOCK" |
  sed -n 's/^maskinporten_agent_connections_refused_total{reason="out_of_descriptors"} //p')"
[[ "$closed_at_once" =~ ^[0-9]+$ ]] && ((closed_at_once >= 20)) &&
  ok "the connections closed for want of descriptors are counted ($closed_at_once)" ||
  not_ok "the connections closed for want of descriptors are counted (got '$closed_at_once', want >= 20)"
finish
