# systemd the systemd way (issue 10): the units as installed (binary path
# substituted) pass `systemd-analyze verify` (no systemd PID 1 here, so only
# verify); the sysusers.d and tmpfiles.d files make the account and
# directories with the modes the units expect (in a scratch root); the
# agent says READY=1 once its socket serves, WATCHDOG=1 from its event
# loop, RELOADING=1 on SIGHUP and STOPPING=1 on SIGTERM, to a NOTIFY_SOCKET
# this test listens on; and socket activation (LISTEN_FDS, passed by
# systemd-socket-activate) still works.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGING="$MPA_SOURCE_DIR/packaging"

# --- the units as installed ---
UNITS="$WORK/units"
mkdir -p "$UNITS"
sed "s|/usr/local/bin/maskinporten-agent|$MPA_BIN|" "$PACKAGING/maskinporten-agent.service" \
  >"$UNITS/maskinporten-agent.service"
cp "$PACKAGING/maskinporten-agent.socket" "$UNITS/"
rc=0
out="$(systemd-analyze verify "$UNITS/maskinporten-agent.service" "$UNITS/maskinporten-agent.socket" 2>&1)" || rc=$?
expect_eq "systemd-analyze verify passes the units" "$rc" "0"
expect_eq "and has nothing to say about them" "$out" ""
unit_value() { sed -n "s/^$2=//p" "$UNITS/$1"; }
expect_eq "the service is Type=notify" "$(unit_value maskinporten-agent.service Type)" "notify"
expect_eq "with a watchdog" "$(unit_value maskinporten-agent.service WatchdogSec)" "30s"
expect_eq "its runtime directory lets the group through" \
  "$(unit_value maskinporten-agent.service RuntimeDirectoryMode)" "0750"
expect_eq "as does the socket unit's" "$(unit_value maskinporten-agent.socket DirectoryMode)" "0750"
# TimeoutStopSec= must outlast the drain (20 s) plus a retry deadline (30 s).
stop_seconds="$(unit_value maskinporten-agent.service TimeoutStopSec)"
((${stop_seconds%s} > 20 + 30)) && ok "TimeoutStopSec ($stop_seconds) outlasts drain plus retry deadline" ||
  not_ok "TimeoutStopSec ($stop_seconds) outlasts drain plus retry deadline"

# --- sysusers.d and tmpfiles.d, applied to a scratch root ---
ROOT="$WORK/root"
mkdir -p "$ROOT/etc" "$ROOT/run" "$ROOT/var/lib"
touch "$ROOT/etc/passwd" "$ROOT/etc/group" "$ROOT/etc/shadow" "$ROOT/etc/gshadow"
systemd-sysusers --root="$ROOT" "$PACKAGING/maskinporten-agent.sysusers" >"$WORK/sysusers.log" 2>&1 ||
  cat "$WORK/sysusers.log" >&2
expect_contains "sysusers.d makes the system account" "$(cat "$ROOT/etc/passwd")" "maskinporten-agent:x:"
mkdir -p "$ROOT/etc/maskinporten-agent"
touch "$ROOT/etc/maskinporten-agent/agent.toml"
systemd-tmpfiles --root="$ROOT" --create "$PACKAGING/maskinporten-agent.tmpfiles" >"$WORK/tmpfiles.log" 2>&1 ||
  cat "$WORK/tmpfiles.log" >&2
account_id="$(awk -F: '$1 == "maskinporten-agent" {print $3}' "$ROOT/etc/passwd")"
expect_eq "tmpfiles.d: the runtime directory is 0750 and the agent's" \
  "$(stat -c '%a %u %g' "$ROOT/run/maskinporten-agent")" "750 $account_id $account_id"
expect_eq "tmpfiles.d: the state directory is 0700 and the agent's" \
  "$(stat -c '%a %u' "$ROOT/var/lib/maskinporten-agent")" "700 $account_id"
expect_eq "tmpfiles.d: the configuration is root's, 0640, readable by the agent's group" \
  "$(stat -c '%a %u %g' "$ROOT/etc/maskinporten-agent/agent.toml")" "640 0 $account_id"
expect_eq "tmpfiles.d: its directory 0750 root:maskinporten-agent" \
  "$(stat -c '%a %u %g' "$ROOT/etc/maskinporten-agent")" "750 0 $account_id"

# --- sd_notify: READY=1, WATCHDOG=1, RELOADING=1, STOPPING=1 ---
make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
NOTIFY="$WORK/notify.sock"
# Receives sd_notify datagrams into notify.log (one per line, newlines as
# " | ") until notify.stop appears; at most 300 s.
"$PY" - "$NOTIFY" "$WORK/notify.log" "$WORK/notify.stop" <<'PY' &
import os, socket, sys, time
path, log, stop = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.1)
end = time.monotonic() + 300
with open(log, "a") as out:
    while not os.path.exists(stop) and time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        out.write(data.decode(errors="replace").replace("\n", " | ") + "\n")
        out.flush()
PY
track_pid $!
wait_for test -S "$NOTIFY" || not_ok "the notify listener starts"
SOCK="$WORK/run/agent.sock"
AGENT_LOG="$WORK/agent.log"
NOTIFY_SOCKET="$NOTIFY" WATCHDOG_USEC=400000 "$MPA_BIN" run --config "$CONF" 2>"$AGENT_LOG" &
AGENT_PID=$!
track_pid "$AGENT_PID"
notified() { grep -q -- "$1" "$WORK/notify.log" 2>/dev/null; }
wait_for_seconds 60 notified "READY=1" || { cat "$AGENT_LOG" >&2; }
expect_contains "READY=1 with the socket in STATUS=" "$(cat "$WORK/notify.log" 2>/dev/null)" \
  "READY=1 | STATUS=listening on $SOCK"
expect_contains "once READY=1 is sent, the socket serves" "$(agent_lines '{"op":"ping"}')" '"ok":true'
watchdog_pings() { grep -c '^WATCHDOG=1$' "$WORK/notify.log" 2>/dev/null || true; }
three_pings() { (($(watchdog_pings) >= 3)); }
wait_for three_pings && ok "WATCHDOG=1 keeps coming (every half WATCHDOG_USEC)" ||
  not_ok "WATCHDOG=1 keeps coming: $(watchdog_pings) pings"
kill -HUP "$AGENT_PID"
wait_for notified "RELOADING=1" && ok "SIGHUP says RELOADING=1" || not_ok "SIGHUP says RELOADING=1"
ready_twice() { (($(grep -c 'READY=1' "$WORK/notify.log") >= 2)); }
wait_for ready_twice && ok "and READY=1 once reloaded" || not_ok "and READY=1 once reloaded"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 30 || not_ok "the agent stops on SIGTERM"
expect_contains "SIGTERM says STOPPING=1" "$(cat "$WORK/notify.log")" "STOPPING=1"
expect_not_contains "no sd_notify trouble in the log" "$(cat "$AGENT_LOG")" "sd_notify"
touch "$WORK/notify.stop"

# --- socket activation: the socket systemd-socket-activate passes ---
mkdir -m 0700 "$WORK/activated"
ACTIVATED="$WORK/activated/agent.sock"
AGENT_LOG="$WORK/activated.log"
# It passes on only the variables named with -E.
systemd-socket-activate -l "$ACTIVATED" -E SOFTHSM2_CONF -E STATE_DIRECTORY "$MPA_BIN" run --config "$CONF" 2>"$AGENT_LOG" &
AGENT_PID=$!   # systemd-socket-activate execs the agent in its own process
track_pid "$AGENT_PID"
wait_for test -S "$ACTIVATED" || not_ok "systemd-socket-activate listens"
SOCK="$ACTIVATED"
expect_contains "the first connection starts the agent, which answers on the passed socket" \
  "$(agent_lines '{"op":"ping"}')" '"ok":true'
expect_contains "the agent says it uses the passed socket" "$(cat "$AGENT_LOG")" \
  "using the socket systemd passed ($ACTIVATED)"
expect_eq "and did not make its own" "$(ls "$WORK/run" 2>/dev/null)" ""
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 30 && expect_eq "it stops cleanly" "$EXIT_RC" "0" || not_ok "it stops on SIGTERM"
[[ -S "$ACTIVATED" ]] && ok "and leaves the passed socket in place" || not_ok "and leaves the passed socket in place"
finish
