#!/usr/bin/env bash
# Proves that libmpa_fault_pkcs11.so does what README.md says, with real
# processes: a SoftHSM2 token made by softhsm-fixtures/make-token.sh, OpenSC's
# pkcs11-tool loading the fault module in front of SoftHSM2, and
# mpa_fault_probe, a long-lived libp11 client (libp11 is what the agent uses).
#
#   tests/support/fault_pkcs11/selftest.sh path/to/libmpa_fault_pkcs11.so [path/to/mpa_fault_probe]
#
# The probe defaults to the one beside the module (the same build directory).
#
# Prints "ok - ..." per check and exits non-zero at the first failure.
# Nothing sleeps for something to happen: every wait polls a condition (a
# counter, a process's state) against a deadline. Every process it starts is
# ended by its PID, and its temporary directory is removed, on any exit.
set -euo pipefail

usage="usage: $0 path/to/libmpa_fault_pkcs11.so [path/to/mpa_fault_probe]"
[[ $# -eq 1 || $# -eq 2 ]] || { echo "$usage" >&2; exit 2; }
[[ -r $1 ]] || { echo "$0: no module at $1" >&2; exit 2; }
MODULE=$(realpath "$1")
PROBE_BIN=${2:-$(dirname "$MODULE")/mpa_fault_probe}
[[ -x $PROBE_BIN ]] || { echo "$0: no probe at $PROBE_BIN" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
readonly MODULE PROBE_BIN HERE ROOT
readonly LABEL="Virksomhet Test"
readonly KEY_ID=01  # vsert-auth; pkcs11-tool --sign picks its key by id, not by label

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fault-selftest.XXXXXX")
readonly TMP
declare -A RUNNING  # PIDs started and not yet reaped; a reaped PID may be reused
cleanup() {
  local pid
  for pid in "${!RUNNING[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
fail() {
  echo "not ok - $*" >&2
  exit 1
}

# ---- Helpers ----

# wait_until DESCRIPTION COMMAND...: runs COMMAND every 10 ms until it
# succeeds; fails the test after 60 s.
wait_until() {
  local what=$1 deadline=$((SECONDS + 60))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 0.01
  done
}

# counter NAME: the module's counter file, 0 before the first write.
counter() {
  if [[ -e $CTL/$1 ]]; then echo "$(<"$CTL/$1")"; else echo 0; fi
}
counter_is() { [[ $(counter "$1") -eq $2 ]]; }

# expect_counter NAME VALUE WHAT
expect_counter() {
  counter_is "$1" "$2" || fail "$3: $1 is $(counter "$1"), expected $2"
}

p11() { pkcs11-tool --module "$MODULE" "$@"; }
on_token() { p11 --token-label "$LABEL" "$@"; }
login_and_list() { on_token --login --pin "$PIN" --list-objects; }

# pkcs11-tool's arguments for one signature of $TMP/in into the file $1.
sign_args() {
  SIGN_ARGS=(--module "$MODULE" --token-label "$LABEL" --login --pin "$PIN"
             --sign -m SHA256-RSA-PKCS --id "$KEY_ID" -i "$TMP/in" -o "$1")
}

# sign OUT: a signature in the foreground; its output in OUT.log.
sign() {
  sign_args "$1"
  pkcs11-tool "${SIGN_ARGS[@]}" >"$1.log" 2>&1
}

# start_sign OUT: the same in the background; sets BG to pkcs11-tool's own
# PID (a simple command, so bash runs no subshell between).
declare -A LOG_OF  # PID -> its output, for failure messages
start_sign() {
  sign_args "$1"
  pkcs11-tool "${SIGN_ARGS[@]}" >"$1.log" 2>&1 &
  BG=$!
  RUNNING[$BG]=1
  LOG_OF[$BG]=$1.log
}

# finish PID: waits for it and sets RC to its exit status (128+N for signal
# N). Not for $(...): a subshell cannot wait for the script's children.
finish() {
  RC=0
  { wait "$1"; } 2>/dev/null || RC=$?
  unset "RUNNING[$1]"
}

verify() { openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$1" "$TMP/in" >/dev/null; }

# The one-letter state of a process (R, S, Z, …), or "gone".
process_state() { sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null || echo gone; }
is_running() { [[ ! $(process_state "$1") =~ ^(Z|X|gone)$ ]]; }
ended_early() { fail "process $1 ended early: $(cat "${LOG_OF[$1]:-/dev/null}")"; }
# sleeping PID: true while PID sleeps (as in the hang's 10 ms poll).
sleeping() {
  is_running "$1" || ended_early "$1"
  [[ $(process_state "$1") == S ]]
}

# entered COUNTER N PID...: true once COUNTER has reached N. A PID that has
# ended before then never will, so that fails the test at once, with its output.
entered() {
  local name=$1 want=$2 pid
  shift 2
  counter_is "$name" "$want" && return 0
  for pid; do
    is_running "$pid" || ended_early "$pid"
  done
  return 1
}

# ---- Fixture ----

ulimit -c 0  # the abort_sign check makes pkcs11-tool dump core otherwise
cd "$TMP"
"$ROOT/softhsm-fixtures/make-token.sh" "$TMP/token" >/dev/null
export SOFTHSM2_CONF=$TMP/token/softhsm2.conf
PIN=$(<"$TMP/token/pin")
readonly PIN
CTL=$TMP/ctl
mkdir "$CTL"
export MPA_FAULT_DIR=$CTL
export MPA_FAULT_MODULE=/usr/lib/softhsm/libsofthsm2.so
printf 'grant header.grant body\n' >"$TMP/in"

# ---- Plain forwarding ----

slots=$(p11 --list-slots)
grep -q "token label *: $LABEL" <<<"$slots" || fail "--list-slots does not show the token: $slots"
grep -q "user PIN" <<<"$slots" && fail "PIN flags shown without pin_flags: $slots"
ok "slots and token listed through the module"

on_token --read-object --type pubkey --id "$KEY_ID" -o "$TMP/pub.der" >/dev/null 2>&1 ||
  fail "cannot read the public key through the module"
openssl pkey -pubin -inform DER -in "$TMP/pub.der" -out "$TMP/pub.pem"
sign "$TMP/sig1" || fail "signing failed: $(<"$TMP/sig1.log")"
verify "$TMP/sig1" || fail "the signature made through the module does not verify"
expect_counter sign_entered 1 "one signature"
expect_counter sign_count 1 "one signature"
expect_counter login_count 1 "one signature"
[[ $(grep -c '^begin ' "$CTL/sign_log") -eq 1 && $(grep -c '^end ' "$CTL/sign_log") -eq 1 ]] ||
  fail "sign_log after one signature: $(<"$CTL/sign_log")"
ok "a signature through the module verifies with the token's public key; counted once"

# ---- login_count ----

before=$(counter login_count)
for _ in 1 2 3; do login_and_list >/dev/null 2>&1 || fail "login failed"; done
expect_counter login_count $((before + 3)) "three logins"
on_token --list-objects >/dev/null 2>&1 || fail "listing without login failed"
expect_counter login_count $((before + 3)) "a run without --login"
ok "login_count grows by exactly the number of C_Login calls (3, then 0)"

# ---- login_rv ----

# login_fails_with VALUE NAME: with login_rv=VALUE, C_Login fails with NAME.
login_fails_with() {
  local out before
  before=$(counter login_count)
  echo "$1" >"$CTL/login_rv"
  out=$(login_and_list 2>&1) && fail "login_rv=$1: login succeeded"
  grep -q "C_Login failed: rv = $2" <<<"$out" || fail "login_rv=$1: expected $2, got: $out"
  expect_counter login_count $((before + 1)) "login_rv=$1"
}
login_fails_with CKR_PIN_INCORRECT CKR_PIN_INCORRECT
login_fails_with 0x000000A4 CKR_PIN_LOCKED
login_fails_with 160 CKR_PIN_INCORRECT
ok "login_rv makes C_Login fail with the named or numbered CKR (and still counts it)"

out=$( (echo CKR_NO_SUCH_THING >"$CTL/login_rv" && login_and_list) 2>&1) && fail "bad login_rv: login succeeded"
grep -q 'mpa_fault_pkcs11: login_rv holds "CKR_NO_SUCH_THING"' <<<"$out" || fail "bad login_rv not reported: $out"
grep -q "CKR_GENERAL_ERROR" <<<"$out" || fail "bad login_rv: expected CKR_GENERAL_ERROR: $out"
: >"$CTL/login_rv"
login_and_list >/dev/null 2>&1 || fail "an empty login_rv (mid-write) should count as absent"
rm "$CTL/login_rv"
login_and_list >/dev/null 2>&1 || fail "login fails after login_rv was removed"
ok "an unreadable login_rv is reported on stderr and fails C_Login; an empty one is no login_rv"

# ---- initialize_rv ----

for rv in CKR_FUNCTION_FAILED CKR_HOST_MEMORY; do
  echo "$rv" >"$CTL/initialize_rv"
  out=$(p11 --list-slots 2>&1) && fail "initialize_rv=$rv: pkcs11-tool succeeded: $out"
  grep -q "C_Initialize.*$rv" <<<"$out" || fail "initialize_rv=$rv: expected C_Initialize failing with $rv, got: $out"
done
echo CKR_NO_SUCH_THING >"$CTL/initialize_rv"
out=$(p11 --list-slots 2>&1) && fail "bad initialize_rv: pkcs11-tool succeeded"
grep -q 'mpa_fault_pkcs11: initialize_rv holds "CKR_NO_SUCH_THING"' <<<"$out" || fail "bad initialize_rv not reported: $out"
rm "$CTL/initialize_rv"
grep -q "$LABEL" <<<"$(p11 --list-slots)" || fail "the token is not listed after initialize_rv was removed"
ok "initialize_rv makes C_Initialize fail with the named CKR (a bad one is reported), and goes with the file"

# ---- pin_flags ----

echo "CKF_USER_PIN_COUNT_LOW CKF_USER_PIN_FINAL_TRY CKF_USER_PIN_LOCKED" >"$CTL/pin_flags"
out=$(p11 --list-token-slots)
for words in "user PIN count low" "final user PIN try" "user PIN locked"; do
  grep -q "token flags .*$words" <<<"$out" || fail "pin_flags: no \"$words\" in: $out"
done
echo CKF_USER_PIN_FINAL_TRY >"$CTL/pin_flags"
out=$(p11 --list-token-slots)
grep -q "final user PIN try" <<<"$out" || fail "pin_flags=CKF_USER_PIN_FINAL_TRY not shown: $out"
grep -Eq "count low|PIN locked" <<<"$out" && fail "pin_flags=CKF_USER_PIN_FINAL_TRY shows other flags: $out"
rm "$CTL/pin_flags"
grep -q "user PIN" <<<"$(p11 --list-token-slots)" && fail "PIN flags still shown after pin_flags was removed"
ok "pin_flags are OR-ed into CK_TOKEN_INFO.flags (pkcs11-tool -T shows them), and go with the file"

# ---- removed ----

touch "$CTL/removed"
out=$(p11 --list-slots 2>&1)
grep -q "$LABEL" <<<"$out" && fail "removed: the token is still listed: $out"
grep -q "(empty)" <<<"$out" || fail "removed: the slot is not shown empty: $out"
out=$(p11 --list-token-slots 2>&1) && fail "removed: --list-token-slots found a token: $out"
out=$(login_and_list 2>&1) && fail "removed: login and listing succeeded: $out"
grep -q "No slot with token named \"$LABEL\"" <<<"$out" || fail "removed: unexpected failure: $out"
grep -q "token label *: $LABEL" <<<"$(env -u MPA_FAULT_DIR pkcs11-tool --module "$MODULE" -L)" ||
  fail "without MPA_FAULT_DIR the module should ignore the control files"
rm "$CTL/removed"
grep -q "token label *: $LABEL" <<<"$(p11 --list-token-slots)" || fail "reinserted: the token is missing"
sign "$TMP/sig2" && verify "$TMP/sig2" || fail "reinserted: signing failed: $(<"$TMP/sig2.log")"
ok "removed: the slot is empty and the token not found; deleting the file reinserts it"

# ---- hang_sign ----

touch "$CTL/hang_sign"
entered=$(counter sign_entered) signed=$(counter sign_count) logins=$(counter login_count)
start_sign "$TMP/sig3"
hung=$BG
wait_until "the signer to enter C_Sign" entered sign_entered $((entered + 1)) "$hung"
wait_until "the signer to sleep in the hang" sleeping "$hung"
# A complete, independent login in another process, while the signer hangs.
login_and_list >/dev/null 2>&1 || fail "hang_sign: a login in another process failed"
expect_counter login_count $((logins + 2)) "hang_sign: the signer's login and the other process's"
kill -0 "$hung" 2>/dev/null || fail "hang_sign: the signer exited: $(<"$TMP/sig3.log")"
expect_counter sign_count "$signed" "hang_sign: while hanging"
[[ ! -s $TMP/sig3 ]] || fail "hang_sign: a signature was written while hanging"
rm "$CTL/hang_sign"
finish "$hung"
[[ $RC -eq 0 ]] || fail "hang_sign: the signer failed after release: $(<"$TMP/sig3.log")"
verify "$TMP/sig3" || fail "hang_sign: the signature made after release does not verify"
expect_counter sign_count $((signed + 1)) "hang_sign: after release"
ok "hang_sign holds C_Sign (other processes carry on) until the file is deleted; the signature then verifies"

# ---- hang_open_session ----

touch "$CTL/hang_open_session"
entered=$(counter open_session_entered) opened=$(counter open_session_count)
pkcs11-tool --module "$MODULE" --token-label "$LABEL" --list-objects >"$TMP/list.log" 2>&1 &
hung=$!
RUNNING[$hung]=1
LOG_OF[$hung]=$TMP/list.log
wait_until "the lister to enter C_OpenSession" entered open_session_entered $((entered + 1)) "$hung"
wait_until "the lister to sleep in the hang" sleeping "$hung"
p11 --list-slots >/dev/null || fail "hang_open_session: listing slots in another process failed"
kill -0 "$hung" 2>/dev/null || fail "hang_open_session: the lister exited: $(<"$TMP/list.log")"
expect_counter open_session_count "$opened" "hang_open_session: while hanging"
rm "$CTL/hang_open_session"
finish "$hung"
[[ $RC -eq 0 ]] || fail "hang_open_session: the lister failed: $(<"$TMP/list.log")"
expect_counter open_session_count $((opened + 1)) "hang_open_session: after release"
ok "hang_open_session holds C_OpenSession until the file is deleted"

# ---- removal under an open session ----

touch "$CTL/hang_sign"
entered=$(counter sign_entered)
start_sign "$TMP/sig4"
pid=$BG
wait_until "the signer to enter C_Sign" entered sign_entered $((entered + 1)) "$pid"
touch "$CTL/removed"
rm "$CTL/hang_sign"
finish "$pid"
[[ $RC -ne 0 ]] || fail "removed during C_Sign: the signature succeeded"
grep -q "CKR_DEVICE_REMOVED" "$TMP/sig4.log" || fail "removed during C_Sign: $(<"$TMP/sig4.log")"
rm "$CTL/removed"
sign "$TMP/sig5" && verify "$TMP/sig5" || fail "after reinsertion: signing failed: $(<"$TMP/sig5.log")"
ok "a token removed under a logged-in session fails its C_Sign with CKR_DEVICE_REMOVED"

# ---- abort_sign ----

touch "$CTL/abort_sign"
entered=$(counter sign_entered) signed=$(counter sign_count)
start_sign "$TMP/sig6"
finish "$BG"
((RC > 128)) && [[ $(kill -l $((RC - 128))) == ABRT ]] ||
  fail "abort_sign: pkcs11-tool exited with $RC, not by SIGABRT: $(<"$TMP/sig6.log")"
grep -q "mpa_fault_pkcs11: abort_sign exists" "$TMP/sig6.log" || fail "abort_sign: no message on stderr"
expect_counter sign_entered $((entered + 1)) "abort_sign"
expect_counter sign_count "$signed" "abort_sign (the call never returned)"
rm "$CTL/abort_sign"
ok "abort_sign kills the signing process with SIGABRT inside C_Sign"

# ---- sign_latency_ms: the smartcard model ----

# Two signers are held in hang_sign until both are inside C_Sign, then let
# go together, so both want the card at the same time. sign_log, written
# under the card lock, must show one whole signature after the other.
# The second starts once the first is held: SoftHSM2's file store is not
# safe for two processes that log in at once (C_GetTokenInfo then fails now
# and then with CKR_GENERAL_ERROR, without this module too).
echo 50 >"$CTL/sign_latency_ms"
touch "$CTL/hang_sign"
entered=$(counter sign_entered)
lines=$(wc -l <"$CTL/sign_log")
start_sign "$TMP/sig7"
first=$BG
wait_until "the first signer to enter C_Sign" entered sign_entered $((entered + 1)) "$first"
start_sign "$TMP/sig8"
second=$BG
wait_until "the second signer to enter C_Sign" entered sign_entered $((entered + 2)) "$first" "$second"
started=$(date +%s%N)
rm "$CTL/hang_sign"
finish "$first"
[[ $RC -eq 0 ]] || fail "sign_latency_ms: first signer failed: $(<"$TMP/sig7.log")"
finish "$second"
[[ $RC -eq 0 ]] || fail "sign_latency_ms: second signer failed: $(<"$TMP/sig8.log")"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
verify "$TMP/sig7" && verify "$TMP/sig8" || fail "sign_latency_ms: a signature does not verify"
mapfile -t log < <(tail -n +"$((lines + 1))" "$CTL/sign_log" | cut -d' ' -f1,2)
[[ ${#log[@]} -eq 4 ]] || fail "sign_latency_ms: expected 4 sign_log lines, got: ${log[*]}"
a=${log[0]#begin } b=${log[2]#begin }
[[ ${log[0]} == "begin $a" && ${log[1]} == "end $a" && ${log[2]} == "begin $b" && ${log[3]} == "end $b" ]] ||
  fail "sign_latency_ms: signatures overlapped: ${log[*]}"
[[ "$a $b" == "$first $second" || "$a $b" == "$second $first" ]] ||
  fail "sign_latency_ms: sign_log names $a and $b, not the signers $first and $second"
# A lower bound only (two serialised 50 ms signatures), so it cannot flake.
((elapsed_ms >= 100)) || fail "sign_latency_ms: two signatures took $elapsed_ms ms, less than 2 x 50"
rm "$CTL/sign_latency_ms"
ok "sign_latency_ms=50 serialises two concurrent signers: begin/end, begin/end in sign_log (${elapsed_ms} ms)"

# ---- libp11, in one long-lived process ----

coproc PROBE { exec "$PROBE_BIN" "$MODULE"; }
# Copied: bash unsets PROBE and PROBE_PID as soon as the coprocess ends.
probe_pid=$PROBE_PID PROBE_IN=${PROBE[1]} PROBE_OUT=${PROBE[0]}
RUNNING[$probe_pid]=1

# tell COMMAND...: sends a command to the probe without waiting for it.
tell() { echo "$*" >&"$PROBE_IN"; }
# answer: reads the probe's answer to the last command into ANSWER.
answer() { IFS= read -r -t 60 ANSWER <&"$PROBE_OUT" || fail "the probe did not answer"; }
# expect WANT COMMAND...: the probe answers COMMAND with exactly WANT.
expect() {
  local want=$1
  shift
  tell "$@"
  answer
  [[ $ANSWER == "$want" ]] || fail "probe: \"$1\" answered \"$ANSWER\", expected \"$want\""
}
# expect_error CKR COMMAND...: the probe's answer is an error that starts with CKR.
expect_error() {
  local want=$1
  shift
  tell "$@"
  answer
  [[ $ANSWER == "error $want"* ]] || fail "probe: \"$1\" answered \"$ANSWER\", expected $want"
}
# reload: what the agent does to recover: a new context, login and key.
reload() {
  expect ok open "$LABEL"
  expect ok login "$PIN"
  expect ok key "$KEY_ID"
}

logins=$(counter login_count)
reload
expect ok sign
expect_counter login_count $((logins + 1)) "libp11: one login"
ok "libp11: module loaded, logged in, key found, RS256 signature made and verified"

echo "CKF_USER_PIN_FINAL_TRY CKF_USER_PIN_COUNT_LOW" >"$CTL/pin_flags"
expect "present count_low final_try" present "$LABEL"
echo CKF_USER_PIN_LOCKED >"$CTL/pin_flags"
expect "present locked" present "$LABEL"
rm "$CTL/pin_flags"
expect present present "$LABEL"
ok "libp11: a fresh enumeration reports the pin_flags in PKCS11_TOKEN"

touch "$CTL/removed"
expect_error CKR_DEVICE_REMOVED sign
expect absent present "$LABEL"
rm "$CTL/removed"
expect present present "$LABEL"
expect_error CKR_SESSION_HANDLE_INVALID sign
ok "libp11: removed fails C_Sign (CKR_DEVICE_REMOVED) and empties the slot; after reinsertion the old session is gone (CKR_SESSION_HANDLE_INVALID)"

reload
expect ok sign
expect_counter login_count $((logins + 2)) "libp11: a second login after reinsertion"
ok "libp11: after reinsertion a reload and a new login sign again"

echo CKR_PIN_INCORRECT >"$CTL/login_rv"
expect ok open "$LABEL"
expect_error CKR_PIN_INCORRECT login "$PIN"
rm "$CTL/login_rv"
reload
expect ok sign
ok "libp11: login_rv reaches PKCS11_login as a CKR error"

# The smartcard model inside one process: two threads, held in hang_sign
# until both are in C_Sign, then let go together.
echo 50 >"$CTL/sign_latency_ms"
touch "$CTL/hang_sign"
entered=$(counter sign_entered)
lines=$(wc -l <"$CTL/sign_log")
tell sign2
wait_until "both probe threads to enter C_Sign" entered sign_entered $((entered + 2)) "$probe_pid"
rm "$CTL/hang_sign"
answer
[[ $ANSWER == ok ]] || fail "libp11: sign2 answered $ANSWER"
rm "$CTL/sign_latency_ms"
mapfile -t log < <(tail -n +"$((lines + 1))" "$CTL/sign_log")
[[ ${#log[@]} -eq 4 ]] || fail "libp11 sign2: expected 4 sign_log lines, got: ${log[*]}"
a=${log[0]#begin } b=${log[2]#begin }
[[ ${log[0]} == "begin $a" && ${log[1]} == "end $a" && ${log[2]} == "begin $b" && ${log[3]} == "end $b" ]] ||
  fail "libp11 sign2: signatures overlapped: ${log[*]}"
[[ ${a% *} == "$probe_pid" && ${b% *} == "$probe_pid" && ${a#* } != "${b#* }" ]] ||
  fail "libp11 sign2: expected two threads of process $probe_pid in: ${log[*]}"
ok "libp11: with sign_latency_ms two threads of one process sign one after the other"

expect ok close
exec {PROBE_IN}>&-
finish "$probe_pid"
[[ $RC -eq 0 ]] || fail "the probe exited with $RC"
ok "libp11: the probe unloaded the module and exited cleanly"

# ---- Configuration errors ----

out=$(MPA_FAULT_DIR=$TMP/no-such-dir p11 --list-slots 2>&1) && fail "a missing MPA_FAULT_DIR was accepted"
grep -q "MPA_FAULT_DIR=$TMP/no-such-dir is not a directory" <<<"$out" || fail "missing MPA_FAULT_DIR: $out"
out=$(MPA_FAULT_MODULE=$TMP/no-such-module.so p11 --list-slots 2>&1) && fail "a missing real module was accepted"
grep -q "cannot load the real module" <<<"$out" || fail "missing MPA_FAULT_MODULE: $out"
out=$(MPA_FAULT_MODULE=$MODULE p11 --list-slots 2>&1) && fail "the module was accepted as its own real module"
grep -q "is the fault module itself" <<<"$out" || fail "MPA_FAULT_MODULE=itself: $out"
ok "a bad MPA_FAULT_DIR or MPA_FAULT_MODULE fails C_GetFunctionList with a message"

[[ -z $(jobs -p) ]] || fail "processes still running: $(jobs -p | tr '\n' ' ')"
ok "every process the test started has ended"
