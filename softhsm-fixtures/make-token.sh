#!/usr/bin/env bash
# Makes a throwaway SoftHSM2 token with a test PKI for the tests:
#
#   softhsm-fixtures/make-token.sh DIR
#
# DIR must not exist or be empty. Every private key is generated on the token
# (sensitive, not extractable); make_pki.py issues certificates for the public
# keys read back from the token, and they are written to the token beside
# their keys. The layout, which tests/integration/lib.sh relies on:
#   DIR/softhsm2.conf  DIR/env  DIR/pin  DIR/so-pin  DIR/tokens/  DIR/pki/
set -euo pipefail

usage() {
  cat <<'HELP'
usage: softhsm-fixtures/make-token.sh DIR

Makes a throwaway SoftHSM2 token "Virksomhet Test" with a test PKI in DIR
(which must not exist or be empty): the keys are generated on the token,
not extractable; certificates for them are issued and stored beside them.
DIR gets softhsm2.conf (export SOFTHSM2_CONF=DIR/softhsm2.conf to use the
token), env, pin, so-pin, tokens/ and pki/ (the CA and certificates).
For tests and demos only: the PINs are in plain files.
HELP
}
if [[ $# -eq 1 && ( $1 == --help || $1 == -h ) ]]; then
  usage
  exit 0
fi

die() { echo "make-token.sh: $*" >&2; exit 1; }
trap 'die "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

[[ $# -eq 1 && $1 != -* ]] || { usage >&2; exit 2; }
readonly MODULE=/usr/lib/softhsm/libsofthsm2.so
readonly LABEL="Virksomhet Test"
readonly HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

[[ -r $MODULE ]] || die "SoftHSM2 module $MODULE is missing (apt-get install softhsm2)"
command -v pkcs11-tool >/dev/null || die "pkcs11-tool is missing (apt-get install opensc)"
command -v softhsm2-util >/dev/null || die "softhsm2-util is missing (apt-get install softhsm2)"

if [[ -e $1 ]]; then
  [[ -d $1 && -z $(ls -A "$1") ]] || die "$1 exists and is not an empty directory"
fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
readonly DIR
mkdir -m 0700 "$DIR/tokens" "$DIR/work"
mkdir -m 0755 "$DIR/pki"

cat >"$DIR/softhsm2.conf" <<CONF
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
printf 'export SOFTHSM2_CONF=%q\n' "$DIR/softhsm2.conf" >"$DIR/env"
export SOFTHSM2_CONF=$DIR/softhsm2.conf

random_pin() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
(umask 0377 && random_pin >"$DIR/pin" && random_pin >"$DIR/so-pin")
PIN=$(<"$DIR/pin")
SO_PIN=$(<"$DIR/so-pin")

softhsm2-util --init-token --free --label "$LABEL" --pin "$PIN" --so-pin "$SO_PIN" >/dev/null

p11() { pkcs11-tool --module "$MODULE" --token-label "$LABEL" "$@"; }

# keypair LABEL ID BITS: RSA key pair made on the token, private half sensitive
# and not extractable, public half read back as DER SubjectPublicKeyInfo.
keypair() {
  p11 --login --pin "$PIN" --keypairgen --key-type "rsa:$3" --label "$1" --id "$2" \
      --usage-sign --sensitive >/dev/null
  p11 --read-object --type pubkey --id "$2" --output-file "$DIR/work/$1.pub.der" >/dev/null
}

# `unrelated` comes first, so that code taking "the first key" picks the wrong one.
keypair unrelated 10 2048
keypair vsert-auth 01 2048
keypair vsert-auth-3072 02 3072
keypair mismatch 11 2048
keypair expired 12 2048

/usr/bin/python3 "$HERE/make_pki.py" "$DIR/work" "$DIR/pki"

# write_cert LABEL ID DERFILE
write_cert() {
  p11 --login --pin "$PIN" --write-object "$3" --type cert --label "$1" --id "$2" >/dev/null
}
write_cert vsert-auth 01 "$DIR/work/vsert-auth.der"
write_cert vsert-auth-3072 02 "$DIR/work/vsert-auth-3072.der"
write_cert mismatch 11 "$DIR/work/mismatch.der"
write_cert expired 12 "$DIR/work/expired.der"
write_cert intermediate-ca ca01 "$DIR/work/intermediate-ca.der"

# The promise "sensitive, never extractable" is checked, not assumed.
keys=$(p11 --login --pin "$PIN" --list-objects --type privkey 2>/dev/null)
total=$(grep -c '^Private Key Object' <<<"$keys" || true)
safe=$(grep -c 'Access: *sensitive, always sensitive, never extractable' <<<"$keys" || true)
[[ $total -eq 5 && $safe -eq 5 ]] || die "expected 5 sensitive, non-extractable private keys; found $safe of $total"

rm -rf "$DIR/work"
echo "$DIR"
