# Hardening of the processes that hold the PIN or tokens, and the files
# that decide what they load (docs/CONFIGURATION.md, docs/USAGE.md
# "One-shot commands"): one-shot commands are not dumpable and make no core file;
# pin_env is gone from /proc/PID/environ of the agent, of a one-shot command
# and of their signer helpers once read; a configuration file or PKCS#11
# module that another user could change is refused, and so is a SOCKS
# proxy. Runs as root (chown, setpriv).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "$(id -u)" != 0 ]]; then
  echo "needs root (chown, setpriv); skipped"
  finish
  exit
fi

make_token
start_standin
PIN="$(cat "$HSM/pin")"
export MPA_HARDEN_PIN="$PIN"
export MPA_FAULT_DIR="$WORK/faults"
mkdir -p "$MPA_FAULT_DIR"
# The hold below must not run into the signature time-out.
write_fault_config "$WORK/env-pin.toml" env-pin "sign_timeout_seconds = 120"
sed -i "s|^pin_file = .*|pin_env = \"MPA_HARDEN_PIN\"|" "$WORK/env-pin.toml"
helper_of() { pgrep -P "$1" -f 'signer-helper --fd' | head -1 || true; }
# environ_holds_pin PID: the PIN's variable or value in what the kernel shows.
environ_holds_pin() { [[ -r "/proc/$1/environ" ]] || return 0; tr '\0' '\n' <"/proc/$1/environ" | grep -q -e "^MPA_HARDEN_PIN=" -e "$PIN"; }
# Root without capabilities (no CAP_SYS_PTRACE) reads the environ of another
# such process only if that process is dumpable.
no_capabilities() { setpriv --bounding-set=-all --inh-caps=-all "$@"; }
readable_without_capabilities() { no_capabilities cat "/proc/$1/environ" >/dev/null 2>&1; }

# --- 1. a one-shot command held in C_Sign: hardened, and the PIN gone from environ
touch "$MPA_FAULT_DIR/hang_sign"
(ulimit -c unlimited && exec setpriv --bounding-set=-all --inh-caps=-all "$MPA_BIN" grant --config "$WORK/env-pin.toml" --scope altinn:enduser) \
  >"$WORK/grant.out" 2>"$WORK/grant.err" &
GRANT_PID=$!
track_pid $GRANT_PID
signing() { [[ "$(fault_count sign_entered)" -ge 1 ]]; }
wait_for signing || not_ok "grant reaches C_Sign"
HELPER_PID="$(helper_of $GRANT_PID)"
expect_eq "a one-shot command makes no core file (started with ulimit -c unlimited)" \
  "$(awk '/^Max core file size/ {print $5 " " $6}' "/proc/$GRANT_PID/limits")" "0 0"
setpriv --bounding-set=-all --inh-caps=-all sleep 1000 &
CONTROL_PID=$!
track_pid $CONTROL_PID
sleeping() { [[ "$(cat "/proc/$CONTROL_PID/comm")" == sleep ]]; }
wait_for sleeping || not_ok "(control: sleep starts)"
readable_without_capabilities $CONTROL_PID && ok "(control: a dumpable process's environ can be read)" ||
  not_ok "(control: a dumpable process's environ can be read)"
readable_without_capabilities $GRANT_PID && not_ok "a one-shot command is not dumpable" ||
  ok "a one-shot command is not dumpable"
kill $CONTROL_PID
environ_holds_pin $GRANT_PID && not_ok "the one-shot command's /proc/PID/environ no longer holds pin_env" ||
  ok "the one-shot command's /proc/PID/environ no longer holds pin_env"
[[ -n "$HELPER_PID" ]] && ! environ_holds_pin "$HELPER_PID" && ok "nor its signer helper's, which read it" ||
  not_ok "nor its signer helper's, which read it"
rm "$MPA_FAULT_DIR/hang_sign"
wait_exit $GRANT_PID 60 || not_ok "grant ends once C_Sign returns"
expect_eq "and the grant is made" "$EXIT_RC:$(tr -cd . <"$WORK/grant.out")" "0:.."

# --- 2. the agent: pin_env gone from its environ and its helper's; a new helper still gets it
start_agent "$WORK/env-pin.toml"
environ_holds_pin "$AGENT_PID" && not_ok "the agent's /proc/PID/environ no longer holds pin_env" ||
  ok "the agent's /proc/PID/environ no longer holds pin_env"
HELPER_PID="$(helper_of "$AGENT_PID")"
[[ -n "$HELPER_PID" ]] && ! environ_holds_pin "$HELPER_PID" && ok "nor its signer helper's" ||
  not_ok "nor its signer helper's"
kill -KILL "$HELPER_PID"
new_helper() { local pid; pid="$(helper_of "$AGENT_PID")"; [[ -n "$pid" && "$pid" != "$HELPER_PID" ]]; }
# The supervisor restarts the helper after a back-off (1 s); until then
# requests get hsm_error "signer restarting".
signs_again() { agent_lines '{"op":"token","scopes":["altinn:enduser"]}' | grep -q '"ok":true'; }
wait_for signs_again && ok "a helper started after that still logs in with the PIN" ||
  not_ok "a helper started after that still logs in with the PIN"
wait_for new_helper && ! environ_holds_pin "$(helper_of "$AGENT_PID")" && ok "and does not keep it either" ||
  not_ok "and does not keep it either"
kill "$AGENT_PID"
wait_exit "$AGENT_PID" 30 || not_ok "the agent stops"

# --- 3. files another user could change are refused; a SOCKS proxy too
write_config "$WORK/good.toml"
check() { out="$(timeout 60 "$MPA_BIN" check-config --config "$1" 2>&1)" && rc=0 || rc=$?; }
check "$WORK/good.toml"
expect_eq "(control: the configuration passes check-config)" "$rc" 0
cp "$WORK/good.toml" "$WORK/group-writable.toml"
chmod 0664 "$WORK/group-writable.toml"
check "$WORK/group-writable.toml"
expect_contains "a configuration its group may write is refused" "$rc:$out" \
  "1:error: invalid_config: $WORK/group-writable.toml: is writable by other users (mode 0664; group or others may write it), and whoever can write it chooses the PKCS#11 module the agent loads; chmod go-w it"
cp "$WORK/good.toml" "$WORK/theirs.toml"
chown 65534:65534 "$WORK/theirs.toml"
check "$WORK/theirs.toml"
expect_contains "a configuration of another user is refused" "$rc:$out" \
  "1:error: invalid_config: $WORK/theirs.toml: belongs to uid 65534, neither root nor the agent's own uid (0)"
cp /usr/lib/softhsm/libsofthsm2.so "$WORK/module.so"
chmod 0775 "$WORK/module.so"
sed "s|^module = .*|module = \"$WORK/module.so\"|" "$WORK/good.toml" >"$WORK/module.toml"
check "$WORK/module.toml"
expect_contains "a module others may write is refused" "$rc:$out" \
  "[pkcs11] module: \"$WORK/module.so\" is writable by other users (mode 0775), who could put their code into the process that holds the PIN"
chmod 0755 "$WORK/module.so"
chown 65534:65534 "$WORK/module.so"
check "$WORK/module.toml"
expect_contains "a module of another user is refused" "$rc:$out" \
  "[pkcs11] module: \"$WORK/module.so\" belongs to uid 65534, neither root nor the agent's own uid"
chown 0:0 "$WORK/module.so"
check "$WORK/module.toml"
expect_eq "(control: the same module of root's passes)" "$rc" 0
write_config "$WORK/socks.toml" 'proxy = "socks5://proxy.example:1080"'
check "$WORK/socks.toml"
expect_contains "check-config refuses a socks5:// proxy, naming the setting" "$rc:$out" \
  "proxy: is a SOCKS proxy, which the agent does not use; give an http:// or https:// proxy"

finish
