# The client checks its server (docs/USAGE.md "Asking the agent"):
# `token`, `status` and the client packages refuse a socket in a directory
# others may write to, and (all but Node, whose standard library cannot
# read SO_PEERCRED) a server that runs as neither root, the caller, nor the
# owner of the socket's directory; each says why. The squatters are Python
# listeners run as nobody that answer every line with a token of theirs.
# The real agent still answers every client. Runs as root (setpriv).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "$(id -u)" != 0 ]]; then
  echo "needs root to run a squatter as another user; skipped"
  finish
  exit
fi
NOBODY=65534
chmod 0711 "$WORK"  # nobody may pass through to the squatters' directories
CLIENTS="$MPA_SOURCE_DIR/clients"
unset MASKINPORTEN_AGENT_SOCKET

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
start_agent "$CONF"

cat >"$WORK/squatter.py" <<'PY'
# squatter.py PATH [drop]: answers every line with a token of its own.
# With "drop" it binds as root in a directory only root may write to and
# becomes nobody before listen(), the uid SO_PEERCRED reports.
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o666)
if len(sys.argv) > 2:
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
s.listen(8)
while True:
    c, _ = s.accept()
    if c.recv(65536):
        c.sendall(b'{"ok":true,"access_token":"squatted","token_type":"Bearer","expires_in":120,'
                  b'"expires_at":4000000000,"scope":"altinn:enduser"}\n')
    c.close()
PY

# squat PATH [drop]: starts a squatter as nobody and waits for its socket.
squat() {
  if [[ $# -gt 1 ]]; then
    "$PY" "$WORK/squatter.py" "$1" drop 2>>"$WORK/squatter.log" &
  else
    setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$PY" "$WORK/squatter.py" "$1" 2>>"$WORK/squatter.log" &
  fi
  track_pid $!
  wait_for test -S "$1" || { cat "$WORK/squatter.log" >&2; return 1; }
}

# The clients as programs: each prints the token, or error: WORDS.
cat >"$WORK/ask.py" <<'PY'
import sys, maskinporten_agent as m
try:
    print(m.get_token(["altinn:enduser"], socket=sys.argv[1], timeout=10))
except m.AgentError as e:
    print("error:", e.message)
PY
cat >"$WORK/ask.mjs" <<JS
import { getToken } from '$CLIENTS/node/index.js';
try { console.log(await getToken(['altinn:enduser'], { socket: process.argv[2], timeout: 10000 })); }
catch (e) { console.log('error:', e.message); }
JS
mkdir -p "$WORK/ask-go"
cat >"$WORK/ask-go/go.mod" <<GO
module ask
go 1.19
require maskinportenagent v0.0.0
replace maskinportenagent => $CLIENTS/go
GO
cat >"$WORK/ask-go/main.go" <<'GO'
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	maskinportenagent "maskinportenagent"
)

func main() {
	token, err := maskinportenagent.GetToken([]string{"altinn:enduser"}, "",
		maskinportenagent.Options{Socket: os.Args[1], Timeout: 10 * time.Second})
	var agentErr *maskinportenagent.Error
	switch {
	case errors.As(err, &agentErr):
		fmt.Println("error:", agentErr.Message)
	case err != nil:
		fmt.Println("error:", err)
	default:
		fmt.Println(token)
	}
}
GO
(cd "$WORK/ask-go" && GOCACHE="$WORK/go-cache" GOPATH="$WORK/go" GOFLAGS=-mod=mod GOPROXY=off \
  go build -o "$WORK/ask-go/ask" . ) >"$WORK/go-build.log" 2>&1 || { cat "$WORK/go-build.log" >&2; exit 1; }

ask_cli() { "$MPA_BIN" token --scope altinn:enduser --socket "$1" 2>&1 || true; }
ask_status() { "$MPA_BIN" status --socket "$1" 2>&1 || true; }
ask_python() { PYTHONPATH="$CLIENTS/python" PYTHONDONTWRITEBYTECODE=1 "$PY" "$WORK/ask.py" "$1" 2>&1; }
ask_node() { node "$WORK/ask.mjs" "$1" 2>&1; }
ask_go() { "$WORK/ask-go/ask" "$1" 2>&1; }

# --- a squatter in a directory anyone may write to
OPEN="$WORK/open"
mkdir "$OPEN" && chmod 0777 "$OPEN"
squat "$OPEN/agent.sock"
WRITABLE="refusing the socket $OPEN/agent.sock: its directory $OPEN is writable by others (mode 0777), so anyone could have put a socket there"
expect_contains "token refuses a socket in a writable directory" "$(ask_cli "$OPEN/agent.sock")" "error: unavailable: $WRITABLE"
expect_contains "status refuses it too" "$(ask_status "$OPEN/agent.sock")" "$WRITABLE"
for client in python node go; do
  expect_contains "$client refuses a socket in a writable directory" "$(ask_$client "$OPEN/agent.sock")" "error: $WRITABLE"
done

# --- a squatter directly in a sticky directory like /tmp
STICKY="$WORK/sticky"
mkdir "$STICKY" && chmod 1777 "$STICKY"
squat "$STICKY/agent.sock"
expect_contains "token refuses a socket directly in a sticky directory" "$(ask_cli "$STICKY/agent.sock")" \
  "its directory $STICKY is writable by others (mode 1777)"
expect_contains "go refuses it too" "$(ask_go "$STICKY/agent.sock")" "(mode 1777)"

# --- a directory that is fine, but served by another user (SO_PEERCRED)
ROOTS="$WORK/roots"
mkdir "$ROOTS" && chmod 0755 "$ROOTS"
squat "$ROOTS/agent.sock" drop
IMPOSTOR="refusing the agent on $ROOTS/agent.sock: it runs as uid $NOBODY, which is neither root, you (uid 0), nor the owner of the socket's directory (uid 0); another user may be posing as the agent"
expect_contains "token refuses a server of another user" "$(ask_cli "$ROOTS/agent.sock")" "error: unavailable: $IMPOSTOR"
expect_contains "status refuses it too" "$(ask_status "$ROOTS/agent.sock")" "$IMPOSTOR"
expect_contains "python refuses a server of another user" "$(ask_python "$ROOTS/agent.sock")" "error: $IMPOSTOR"
expect_contains "go refuses a server of another user" "$(ask_go "$ROOTS/agent.sock")" "error: $IMPOSTOR"
# Node's standard library has no SO_PEERCRED (clients/README.md): the
# directory check is all it can do, and this directory passes it.
expect_eq "node cannot tell (documented)" "$(ask_node "$ROOTS/agent.sock")" "squatted"

# --- the real agent, in the directory it made, still answers everyone
for client in cli python node go; do
  answer="$(ask_$client "$SOCK")"
  expect_eq "$client still gets a token from the real agent" "$(jwt_part "$answer" 1 2>/dev/null | grep -c altinn:enduser)" 1
done
expect_contains "status still asks the real agent" "$(ask_status "$SOCK")" "client \"default\""

finish
