# The CLI's conventions through the real agent: `exec` (the token in the
# command's environment, its exit status and signals), `token --format
# credential-process`, `--config` to find the socket, `--version`, and the
# one error format.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
start_agent "$CONF"
unset MASKINPORTEN_AGENT_SOCKET

# --- --version and version ---
version="$("$MPA_BIN" --version)"
expect_contains "--version names the program" "$version" "maskinporten-agent "
expect_eq "version says the same" "$("$MPA_BIN" version)" "$version"

# --- --config finds the socket `run --config` listens on ---
token="$("$MPA_BIN" token --config "$CONF" --scope altinn:enduser)"
expect_eq "token --config asks the agent of that file" \
  "$(json_get "$(jwt_part "$token" 1)" 'j["scope"]')" "altinn:enduser"
out="$("$MPA_BIN" status --config "$CONF")" && rc=0 || rc=$?
expect_eq "status --config too" "$rc:$(head -c 6 <<<"$out")" "0:agent "
"$MPA_BIN" invalidate --config "$CONF" --scope altinn:enduser && rc=0 || rc=$?
expect_eq "and invalidate" "$rc" 0

err="$(env -u XDG_RUNTIME_DIR "$MPA_BIN" token --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "with no socket anywhere: exit 1" "$rc" 1
if [[ ! -e /etc/maskinporten-agent/agent.toml ]]; then
  expect_eq "and the error says the system file does not exist" "$err" \
    "error: invalid_request: no socket to ask: give --socket PATH or --config FILE, or set MASKINPORTEN_AGENT_SOCKET (/etc/maskinporten-agent/agent.toml does not exist, and XDG_RUNTIME_DIR is not set)"
fi

err="$("$MPA_BIN" token --config "$CONF" --scope "altinn:enduser skatteetaten:test" 2>&1)" && rc=0 || rc=$?
expect_eq "--scope with a space: a usage error in the CLI's words" "$rc:$(head -1 <<<"$err")" \
  '2:error: usage: --scope "altinn:enduser skatteetaten:test" holds whitespace; give each scope its own --scope (--scope a --scope b)'

# --- token --format credential-process ---
json="$("$MPA_BIN" token --config "$CONF" --scope altinn:enduser --json)"
cred="$("$MPA_BIN" token --config "$CONF" --scope altinn:enduser --format credential-process)"
expect_eq "credential-process has version, access_token, token_type, expires_at" \
  "$(json_get "$cred" 'sorted(j)')" '["access_token", "expires_at", "token_type", "version"]'
expect_eq "with the token the agent holds" "$(json_get "$cred" 'j["access_token"]')" "$(json_get "$json" 'j["access_token"]')"
expect_eq "and expires_at in RFC 3339, the same moment" \
  "$(json_get "$cred" 'j["expires_at"]')" "$(date -u -d "@$(json_get "$json" 'j["expires_at"]')" +%Y-%m-%dT%H:%M:%SZ)"

# --- exec: the token in the environment, never in argv ---
seen="$("$MPA_BIN" exec --config "$CONF" --scope altinn:enduser -- sh -c 'printf %s "$MASKINPORTEN_TOKEN"')"
expect_eq "exec puts the token in MASKINPORTEN_TOKEN" "$seen" "$(json_get "$json" 'j["access_token"]')"
seen="$("$MPA_BIN" exec --config "$CONF" --scope altinn:enduser --env API_TOKEN -- \
  sh -c 'printf %s "${API_TOKEN:-none}/${MASKINPORTEN_TOKEN:-unset}"')"
expect_eq "--env NAME puts it in NAME only" "$seen" "$(json_get "$json" 'j["access_token"]')/unset"
argv="$("$MPA_BIN" exec --config "$CONF" --scope altinn:enduser -- sh -c 'tr "\0" " " </proc/$$/cmdline')"
expect_not_contains "the token is not in the command's argv" "$argv" "$(json_get "$json" 'j["access_token"]')"

"$MPA_BIN" exec --config "$CONF" --scope altinn:enduser -- sh -c 'exit 7' && rc=0 || rc=$?
expect_eq "the exit status is the command's" "$rc" 7
err="$("$MPA_BIN" exec --config "$CONF" --scope altinn:enduser -- "$WORK/no-such-command" 2>&1)" && rc=0 || rc=$?
expect_eq "a command that does not exist: 127 and one error line" "$rc:$(grep -c '^error: ' <<<"$err")" "127:1"
ran="$WORK/ran"
err="$("$MPA_BIN" exec --config "$CONF" --scope not:mine -- touch "$ran" 2>&1)" && rc=0 || rc=$?
expect_eq "no token: exit 1, the agent's code, the command not run" \
  "$rc:$(grep -c '^error: [a-z_]*: ' <<<"$err"):$([[ -e "$ran" ]] && echo ran || echo not-run)" "1:1:not-run"

# The command takes this process's place: same PID, so signals reach it.
mkfifo "$WORK/ready"
"$MPA_BIN" exec --config "$CONF" --scope altinn:enduser -- \
  sh -c 'trap "exit 42" TERM; echo $$ >"$0"; while :; do sleep 0.1; done' "$WORK/ready" &
exec_pid=$!
track_pid "$exec_pid"
read -r shell_pid <"$WORK/ready"
expect_eq "exec replaces itself with the command (one PID)" "$shell_pid" "$exec_pid"
kill -TERM "$exec_pid"
wait "$exec_pid" && rc=0 || rc=$?
expect_eq "SIGTERM reaches the command, whose status is the exit status" "$rc" 42

# --- run --log-level: lines less severe than the level are not written ---
sed "s|^socket = .*|socket = \"$WORK/quiet/agent.sock\"|" "$CONF" >"$WORK/quiet.toml"
"$MPA_BIN" run --config "$WORK/quiet.toml" --log-level warning 2>"$WORK/quiet.log" &
quiet_pid=$!
track_pid "$quiet_pid"
quiet_token() { "$MPA_BIN" token --config "$WORK/quiet.toml" --scope altinn:enduser; }
wait_for quiet_token && ok "run --log-level warning serves" || not_ok "run --log-level warning serves"
expect_eq "and logs no info lines" "$(grep -c ' info: ' "$WORK/quiet.log" || true)" 0
expect_contains "where the default level logs them" "$(cat "$AGENT_LOG")" " info: ready: listening on "
err="$("$MPA_BIN" run --config "$CONF" --log-level chatty 2>&1)" && rc=0 || rc=$?
expect_eq "an unknown level is a usage error" "$rc:$(head -1 <<<"$err")" \
  "2:error: usage: --log-level takes error, warning, info or debug, not 'chatty'"

finish
