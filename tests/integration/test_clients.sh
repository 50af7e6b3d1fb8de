# The client packages in clients/ (Python, Node, Go) against the real agent
# over its real socket: each package's own tests, with the agent started
# here (MPA_TEST_SOCKET, MPA_TEST_CONFIG). A missing toolchain fails the
# test: scripts/setup.sh installs them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
start_agent "$CONF"
export MPA_TEST_SOCKET="$SOCK" MPA_TEST_CONFIG="$CONF"
unset MASKINPORTEN_AGENT_SOCKET
CLIENTS="$MPA_SOURCE_DIR/clients"

# run_suite NAME COMMAND...: one ok/not ok for a package's whole suite, its
# output shown when it fails.
run_suite() {
  local name="$1" log="$WORK/$1.log"
  shift
  if "$@" >"$log" 2>&1; then ok "$name"; else cat "$log" >&2; not_ok "$name"; fi
}

run_suite "python: maskinporten_agent's tests" \
  env PYTHONPATH="$CLIENTS/python" PYTHONDONTWRITEBYTECODE=1 "$PY" -m unittest discover -s "$CLIENTS/python/tests" -v

# pip install ./clients/python works (offline: Debian's setuptools builds
# it), from a copy so that the build leaves nothing in the source tree.
cp -r "$CLIENTS/python" "$WORK/python-package"
run_suite "python: pip installs the package" \
  "$PY" -m pip install --quiet --no-build-isolation --no-deps --no-index --target "$WORK/site" "$WORK/python-package"
run_suite "python: the installed module gives a token" env PYTHONPATH="$WORK/site" "$PY" -c \
  'import os, maskinporten_agent as m; assert m.get_token(["altinn:enduser"], socket=os.environ["MPA_TEST_SOCKET"])'

run_suite "node: getToken's tests" node --test "$CLIENTS/node/test/"

run_suite "go: GetToken's tests" env -C "$CLIENTS/go" GOCACHE="$WORK/go-cache" GOPATH="$WORK/go" \
  GOFLAGS=-mod=mod GOPROXY=off go test -count=1 ./...

finish
