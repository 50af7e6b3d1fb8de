#!/usr/bin/env bash
# Makes a throwaway tpm2-pkcs11 token on a software TPM, with the test PKI,
# for the tests that need a second real PKCS#11 module:
#
#   softhsm-fixtures/make-tpm-token.sh DIR     make it; the daemons keep running
#   softhsm-fixtures/make-tpm-token.sh --stop DIR
#                                              stop them (by the PIDs in DIR)
#
# DIR must not exist or be empty. Everything comes from Debian 12 packages
# (scripts/setup.sh installs them): swtpm is the TPM, tpm2-abrmd the resource
# manager on a private D-Bus session bus, tpm2-pkcs11 the PKCS#11 module on
# top. The private key is generated in the TPM by `tpm2_ptool addkey`
# (sensitive, never extractable); make_pki.py's CA issues a leaf certificate
# for the public key read back through PKCS#11, and it is written to the
# token beside its key with the same CKA_ID. The files:
#
#   DIR/env        source it: TPM2_PKCS11_TCTI, TPM2TOOLS_TCTI,
#                  DBUS_SESSION_BUS_ADDRESS, TPM2_PKCS11_STORE
#   DIR/module     the path of the tpm2-pkcs11 module
#   DIR/pin DIR/so-pin                          mode 0400
#   DIR/key-id     the key's CKA_ID in hex (tpm2_ptool stores the id's text)
#   DIR/pki/       root-ca.pem/.key, intermediate-ca.pem/.key, chain.pem,
#                  other-root-ca.pem, vsert-auth.pem, vsert-auth.pub.pem
#   DIR/swtpm.pid DIR/dbus.pid DIR/tpm2-abrmd.pid    the daemons' PIDs
#   DIR/store/ DIR/tpm-state/ DIR/run/ DIR/log/      their state and logs
#
# The token: label "Virksomhet TPM", an RSA-2048 key pair "vsert-auth" and
# its certificate, and the intermediate CA certificate ("intermediate-ca").
# The PINs are on tpm2_ptool's and pkcs11-tool's command lines while the
# token is made: they are throwaway test PINs.
set -euo pipefail

readonly LABEL="Virksomhet TPM"
readonly KEY_LABEL=vsert-auth
readonly KEY_ID_TEXT=01           # tpm2_ptool's --id; CKA_ID is its bytes, 0x3031
readonly HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly DAEMONS=(tpm2-abrmd dbus swtpm)   # the order they are stopped in
PY=/usr/bin/python3   # Debian's, with python3-cryptography (make_pki.py)

die() { echo "make-tpm-token.sh: $*" >&2; exit 1; }

# comm_of NAME: the process name a PID file's process must have, so that a
# PID reused by something else is never signalled.
comm_of() {
  case $1 in
    swtpm) echo swtpm ;;
    dbus) echo dbus-daemon ;;
    tpm2-abrmd) echo tpm2-abrmd ;;
  esac
}

# alive NAME PID: the process is there and is what we started.
alive() { [[ $(cat "/proc/$2/comm" 2>/dev/null) == "$(comm_of "$1")" ]]; }

# stop_daemons DIR: SIGTERM to each daemon whose PID file is in DIR, then
# waits (bounded) until each is gone; SIGKILL for one that does not go.
stop_daemons() {
  local dir=$1 name pid _
  for name in "${DAEMONS[@]}"; do
    [[ -s $dir/$name.pid ]] || continue
    pid=$(<"$dir/$name.pid")
    [[ $pid =~ ^[0-9]+$ ]] || continue
    alive "$name" "$pid" || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do
      alive "$name" "$pid" || break
      sleep 0.05
    done
    if alive "$name" "$pid"; then
      echo "make-tpm-token.sh: $name ($pid) ignored SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

if [[ $# -eq 2 && $1 == --stop ]]; then
  [[ -d $2 ]] || die "$2 is not a directory"
  stop_daemons "$2"
  exit 0
fi
[[ $# -eq 1 && $1 != -* ]] || die "usage: make-tpm-token.sh DIR | make-tpm-token.sh --stop DIR"

# Debian's multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu, ...).
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
readonly MODULE=${MPA_TPM2_PKCS11_MODULE:-/usr/lib/$MULTIARCH/libtpm2_pkcs11.so.1}
readonly TABRMD_TCTI=/usr/lib/$MULTIARCH/libtss2-tcti-tabrmd.so.0

need() { command -v "$1" >/dev/null || die "$1 is missing (apt-get install $2; scripts/setup.sh installs it)"; }
need swtpm swtpm
need dbus-daemon dbus
need tpm2-abrmd tpm2-abrmd
need tpm2_ptool libtpm2-pkcs11-tools
need tpm2_getrandom tpm2-tools
need pkcs11-tool opensc
[[ -r $MODULE ]] || die "tpm2-pkcs11 module $MODULE is missing (apt-get install libtpm2-pkcs11-1)"
[[ -r $TABRMD_TCTI ]] || die "the tabrmd TCTI $TABRMD_TCTI is missing (apt-get install libtss2-tcti-tabrmd0)"

if [[ -e $1 ]]; then
  [[ -d $1 && -z $(ls -A "$1") ]] || die "$1 exists and is not an empty directory"
fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
readonly DIR
mkdir -m 0700 "$DIR/tpm-state" "$DIR/store" "$DIR/run" "$DIR/work" "$DIR/log"
mkdir -m 0755 "$DIR/pki"

# From here on a failure stops whatever was started, so nothing is left
# running behind a fixture that was never handed over.
trap 'echo "make-tpm-token.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'rc=$?; if ((rc)); then stop_daemons "$DIR"; fi; exit "$rc"' EXIT

show_log() { [[ -s $1 ]] && sed 's/^/  | /' "$1" >&2; return 0; }

# --- swtpm: a TPM 2.0 on two TCP ports (commands on P, control on P+1, as
# the swtpm TCTI expects). --daemon returns only once both sockets listen,
# and fails if a port is taken: then another pair is tried.
port=""
for _ in $(seq 1 20); do
  p=$((20000 + 2 * (RANDOM % 20000)))
  if swtpm socket --tpm2 --server "type=tcp,port=$p,bindaddr=127.0.0.1" \
       --ctrl "type=tcp,port=$((p + 1)),bindaddr=127.0.0.1" \
       --flags not-need-init,startup-clear --tpmstate "dir=$DIR/tpm-state" \
       --log "file=$DIR/log/swtpm.log" --pid "file=$DIR/swtpm.pid" --daemon \
       2>"$DIR/log/swtpm.start"; then
    port=$p
    break
  fi
  # swtpm says so on stderr or only in its log, depending on which socket.
  grep -qs "Address already in use" "$DIR/log/swtpm.start" "$DIR/log/swtpm.log" || {
    show_log "$DIR/log/swtpm.start"; show_log "$DIR/log/swtpm.log"
    die "swtpm did not start"
  }
  rm -f "$DIR/log/swtpm.log"
done
[[ -n $port ]] || die "swtpm found no free pair of ports in 20 tries"
# The daemon writes its PID file itself; wait for it (bounded).
for _ in $(seq 1 100); do
  [[ -s $DIR/swtpm.pid ]] && break
  sleep 0.05
done
[[ -s $DIR/swtpm.pid ]] || die "swtpm did not write $DIR/swtpm.pid"
echo "$port" >"$DIR/swtpm.port"

# --- a private D-Bus session bus. --fork with --print-address returns once
# the bus is listening, and --print-pid says who it is.
bus_out=$(dbus-daemon --session --fork --nopidfile --address="unix:path=$DIR/run/bus" \
            --print-address=1 --print-pid=1 2>"$DIR/log/dbus.log") || {
  show_log "$DIR/log/dbus.log"; die "dbus-daemon did not start"
}
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p <<<"$bus_out")
sed -n 2p <<<"$bus_out" >"$DIR/dbus.pid"
[[ $(<"$DIR/dbus.pid") =~ ^[0-9]+$ ]] || die "dbus-daemon printed no PID: $bus_out"
export DBUS_SESSION_BUS_ADDRESS

# --- tpm2-abrmd on that bus, talking to swtpm. Without a resource manager
# tpm2_ptool runs out of TPM object contexts, and only one process at a time
# could use swtpm's single connection.
export TPM2_PKCS11_TCTI=tabrmd:bus_type=session
export TPM2TOOLS_TCTI=tabrmd:bus_type=session
export TPM2_PKCS11_STORE=$DIR/store
tpm2-abrmd --allow-root --session --tcti="swtpm:host=127.0.0.1,port=$port" \
  </dev/null >"$DIR/log/tpm2-abrmd.log" 2>&1 &
echo $! >"$DIR/tpm2-abrmd.pid"
abrmd_pid=$!
ready=""
for _ in $(seq 1 200); do
  if tpm2_getrandom 4 >/dev/null 2>>"$DIR/log/tpm2-abrmd.wait"; then ready=1; break; fi
  alive tpm2-abrmd "$abrmd_pid" || break
  sleep 0.05
done
[[ -n $ready ]] || {
  show_log "$DIR/log/tpm2-abrmd.log"; show_log "$DIR/log/swtpm.log"
  die "tpm2-abrmd did not come up on $DBUS_SESSION_BUS_ADDRESS (swtpm port $port)"
}

{
  printf 'export TPM2_PKCS11_TCTI=%q\n' "$TPM2_PKCS11_TCTI"
  printf 'export TPM2TOOLS_TCTI=%q\n' "$TPM2TOOLS_TCTI"
  printf 'export DBUS_SESSION_BUS_ADDRESS=%q\n' "$DBUS_SESSION_BUS_ADDRESS"
  printf 'export TPM2_PKCS11_STORE=%q\n' "$TPM2_PKCS11_STORE"
} >"$DIR/env"
echo "$MODULE" >"$DIR/module"

random_pin() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
(umask 0377 && random_pin >"$DIR/pin" && random_pin >"$DIR/so-pin")
PIN=$(<"$DIR/pin")
SO_PIN=$(<"$DIR/so-pin")

# --- the token and its key, generated in the TPM.
ptool() { "$PY" "$(command -v tpm2_ptool)" "$@" --path "$DIR/store" >>"$DIR/log/tpm2_ptool.log" 2>&1; }
ptool init || { show_log "$DIR/log/tpm2_ptool.log"; die "tpm2_ptool init failed"; }
pid=$(sed -n 's/^id: *//p' "$DIR/log/tpm2_ptool.log" | tail -1)
ptool addtoken --pid "${pid:-1}" --label "$LABEL" --userpin "$PIN" --sopin "$SO_PIN" \
  || { show_log "$DIR/log/tpm2_ptool.log"; die "tpm2_ptool addtoken failed"; }
ptool addkey --label "$LABEL" --key-label "$KEY_LABEL" --id "$KEY_ID_TEXT" \
  --userpin "$PIN" --algorithm rsa2048 \
  || { show_log "$DIR/log/tpm2_ptool.log"; die "tpm2_ptool addkey failed"; }
KEY_ID=$(printf %s "$KEY_ID_TEXT" | od -An -tx1 | tr -d ' \n')
echo "$KEY_ID" >"$DIR/key-id"

p11() { pkcs11-tool --module "$MODULE" --token-label "$LABEL" "$@"; }
p11 --read-object --type pubkey --id "$KEY_ID" --output-file "$DIR/work/$KEY_LABEL.pub.der" >/dev/null

# --- the test PKI of make_pki.py (root -> intermediate -> leaf with the
# organisation number), here with the one leaf this token has.
"$PY" - "$HERE" "$DIR/work" "$DIR/pki" "$KEY_LABEL" <<'PYTHON'
import os
import sys

sys.path.insert(0, sys.argv[1])
import make_pki as m  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

work, pki, label = sys.argv[2], sys.argv[3], sys.argv[4]
with open(os.path.join(work, label + ".pub.der"), "rb") as f:
    public_key = serialization.load_der_public_key(f.read())
root_key, root = m.self_signed_ca("Test Root CA", "Test PKI")
_, other_root = m.self_signed_ca("Other Root CA", "Other PKI")
inter_key = m.rsa.generate_private_key(public_exponent=65537, key_size=2048)
inter = m.issue(m.name("Test Intermediate CA", "Test PKI"), inter_key.public_key(),
                root.subject, root_key, m.NOW - m.DAY, m.NOW + 1825 * m.DAY, ca=True)
leaf = m.issue(m.name("Testbedrift AS", serial="999888777"), public_key, inter.subject,
               inter_key, m.NOW - m.DAY, m.NOW + 365 * m.DAY, ca=False)
der = serialization.Encoding.DER
m.write(os.path.join(work, label + ".der"), leaf.public_bytes(der))
m.write(os.path.join(work, "intermediate-ca.der"), inter.public_bytes(der))
no_encryption = serialization.NoEncryption()
for name, key in (("root-ca", root_key), ("intermediate-ca", inter_key)):
    m.write(os.path.join(pki, name + ".key"),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              no_encryption), 0o600)
m.write(os.path.join(pki, "root-ca.pem"), m.pem(root))
m.write(os.path.join(pki, "other-root-ca.pem"), m.pem(other_root))
m.write(os.path.join(pki, "intermediate-ca.pem"), m.pem(inter))
m.write(os.path.join(pki, "chain.pem"), m.pem(inter))
m.write(os.path.join(pki, label + ".pem"), m.pem(leaf))
m.write(os.path.join(pki, label + ".pub.pem"),
        public_key.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo))
PYTHON

p11 --login --pin "$PIN" --write-object "$DIR/work/$KEY_LABEL.der" --type cert \
  --label "$KEY_LABEL" --id "$KEY_ID" >/dev/null
p11 --login --pin "$PIN" --write-object "$DIR/work/intermediate-ca.der" --type cert \
  --label intermediate-ca --id ca01 >/dev/null

# The promise "generated in the TPM, sensitive, never extractable" is
# checked, not assumed.
keys=$(p11 --login --pin "$PIN" --list-objects --type privkey 2>/dev/null)
total=$(grep -c '^Private Key Object' <<<"$keys" || true)
safe=$(grep -c 'Access: *sensitive, always sensitive, never extractable, local' <<<"$keys" || true)
[[ $total -eq 1 && $safe -eq 1 ]] || die "expected 1 sensitive, non-extractable, local private key; found $safe of $total"
certs=$(p11 --list-objects --type cert 2>/dev/null)
[[ $(grep -c '^Certificate Object' <<<"$certs" || true) -eq 2 ]] || die "expected 2 certificates on the token: $certs"

rm -rf "$DIR/work"
echo "$DIR"
