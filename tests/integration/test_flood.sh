# A socket flood does not starve the token (issue 8, defect 6), end to end:
# the real agent under a low open-files soft limit (128, hard 1024) and
# max_connections = 300 above it (and the one uid's share as large). One uid opens idle connections until the
# agent refuses one; the flood stays open, a few of its connections are
# closed, and then a new token (a cache miss: a signature on the token) and
# a cached token are still served. The agent raises its soft limit to the
# hard one at start, and the module lives in the signer helper, whose
# descriptor table the flood cannot reach: SoftHSM never sees EMFILE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
sed -i 's|^refresh_margin_seconds = 30|refresh_margin_seconds = 30\nmax_connections = 300\nmax_connections_per_uid = 300|' "$CONF"

# start_agent, under prlimit.
SOCK="$WORK/run/agent.sock"
AGENT_LOG="$WORK/agent.log"
prlimit --nofile=128:1024 "$MPA_BIN" run --config "$CONF" 2>"$AGENT_LOG" &
AGENT_PID=$!
track_pid "$AGENT_PID"
answers_ping() { [[ -S "$SOCK" ]] && agent_lines '{"op":"ping"}' | grep -q '"ok":true'; }
wait_for answers_ping || { cat "$AGENT_LOG" >&2; not_ok "the agent starts under prlimit"; finish; exit 1; }
token_line() { printf '{"op":"token","client":"default","scopes":["%s"]%s}' "$1" "${2:-}"; }
cached="$(agent_lines "$(token_line altinn:instances.read)")"
expect_contains "a token to keep in the cache" "$cached" '"ok":true'

# Prints one line per step: refused (how many connections stayed open, the
# refusal's words or what happened instead), then the answers to a new and a cached token asked while the
# rest of the flood stays open.
"$PY" - "$SOCK" "$(token_line altinn:enduser ',"resource":["https://after-flood.example"]')" \
  "$(token_line altinn:instances.read)" >"$WORK/flood.out" 2>&1 <<'PY' || true
import socket, sys, time
path, fresh, cached = sys.argv[1:4]
flood, refusal = [], None
def connect(timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s
def line_of(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()
# Each connection answers a ping (so it is accepted, not waiting in the
# listen backlog) and then stays idle; until one is refused, at most 400.
while refusal is None and len(flood) < 400:
    try:
        s = connect(5)
        s.sendall(b'{"op":"ping"}\n')
        answer = line_of(s)
    except OSError as e:
        refusal = "connection %d: %s" % (len(flood) + 1, e)
        break
    if '"ok":true' in answer:
        flood.append(s)
    else:
        refusal = answer or "connection %d closed without an answer" % (len(flood) + 1)
if refusal is None:
    refusal = "no refusal after %d connections" % len(flood)
print("refused", len(flood), refusal, flush=True)
# Free a few places; the agent notices the closes in its own time.
for s in flood[:5]:
    s.close()
flood = flood[5:]
def ask(line):
    end = time.monotonic() + 15
    answer = "<no answer>"
    while time.monotonic() < end:
        try:
            s = connect(10)
            s.sendall(line.encode() + b"\n")
            f = s.makefile("rb")
            answer = f.readline().decode().strip() or "<closed>"
            s.close()
        except OSError as e:
            answer = "<%s>" % e
        if "too many connections" not in answer:
            return answer
        time.sleep(0.05)
    return answer
print("fresh", ask(fresh), flush=True)
print("cached", ask(cached), flush=True)
PY
refused="$(grep '^refused ' "$WORK/flood.out" || cat "$WORK/flood.out")"
expect_contains "one uid's idle connections: the agent refuses one beyond 300, in words" "$refused" \
  '"too many connections (300); try again later"'
fresh="$(sed -n 's/^fresh //p' "$WORK/flood.out")"
expect_contains "during the flood a new token is signed and served" "$fresh" '"ok":true'
expect_contains "and a cached token is served" "$(sed -n 's/^cached //p' "$WORK/flood.out")" \
  "$(json_get "$cached" 'j["access_token"]')"
expect_eq "the agent's soft open-files limit was raised to the hard one" \
  "$(awk '/Max open files/ {print $4 ":" $5}' "/proc/$AGENT_PID/limits")" "1024:1024"
expect_not_contains "no descriptor trouble in the log" "$(cat "$AGENT_LOG")" "Too many open files"
kill -0 "$AGENT_PID" 2>/dev/null && ok "the agent lives" || not_ok "the agent lives"
finish
