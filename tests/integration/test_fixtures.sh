#!/usr/bin/env bash
# softhsm-fixtures/make-token.sh makes the token notes/contracts.md promises.
set -euo pipefail

: "${MPA_SOURCE_DIR:?run through ctest}"
readonly MODULE=/usr/lib/softhsm/libsofthsm2.so
work=$(mktemp -d /tmp/mpa-fixtures-test-XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_mode() { [[ $(stat -c %a "$1") == "$2" ]] || fail "$1 has mode $(stat -c %a "$1"), expected $2"; }

# Refuses a directory that is not empty, and says so.
mkdir "$work/full" && touch "$work/full/x"
if out=$("$MPA_SOURCE_DIR/softhsm-fixtures/make-token.sh" "$work/full" 2>&1); then
  fail "accepted a non-empty directory"
fi
grep -q "is not an empty directory" <<<"$out" || fail "unexpected message: $out"

# Works from another cwd with a relative DIR.
(cd "$work" && "$MPA_SOURCE_DIR/softhsm-fixtures/make-token.sh" tok >/dev/null)
dir=$work/tok

for f in softhsm2.conf env pin so-pin pki/root-ca.pem pki/root-ca.key pki/intermediate-ca.pem \
         pki/intermediate-ca.key pki/chain.pem pki/vsert-auth.pem pki/vsert-auth-3072.pem \
         pki/vsert-auth.pub.pem pki/other-root-ca.pem; do
  [[ -s $dir/$f ]] || fail "$f is missing or empty"
done
expect_mode "$dir/pin" 400
expect_mode "$dir/so-pin" 400
grep -qx "directories.tokendir = $dir/tokens" "$dir/softhsm2.conf" || fail "tokendir is not $dir/tokens"

# shellcheck source=/dev/null
. "$dir/env"
[[ $SOFTHSM2_CONF == "$dir/softhsm2.conf" ]] || fail "env sets SOFTHSM2_CONF=$SOFTHSM2_CONF"

objects=$(pkcs11-tool --module "$MODULE" --token-label "Virksomhet Test" --login \
            --pin "$(cat "$dir/pin")" --list-objects 2>/dev/null)
# label ID kind: each object the contract lists, with its CKA_ID.
has() {
  awk -v kind="$3" -v label="$1" -v id="$2" '
    /Object;/ { cur = $0; l = ""; next }
    /label:/ { l = $2 }
    /ID:/ { if (index(cur, kind) == 1 && l == label && $2 == id) found = 1 }
    END { exit !found }' <<<"$objects" || fail "no $3 object $1 with ID $2"
}
has unrelated 10 "Private Key"
has vsert-auth 01 "Private Key"
has vsert-auth-3072 02 "Private Key"
has mismatch 11 "Private Key"
has expired 12 "Private Key"
has vsert-auth 01 "Certificate"
has vsert-auth-3072 02 "Certificate"
has mismatch 11 "Certificate"
has expired 12 "Certificate"
has intermediate-ca ca01 "Certificate"
(( $(grep -c "never extractable" <<<"$objects") == 5 )) || fail "not every private key is non-extractable"

# The PKI hangs together: leaf -> intermediate -> root; the leaf carries
# the token's public key and the organisation number.
openssl verify -CAfile "$dir/pki/root-ca.pem" -untrusted "$dir/pki/chain.pem" \
  "$dir/pki/vsert-auth.pem" "$dir/pki/vsert-auth-3072.pem" >/dev/null || fail "chain does not verify"
if openssl verify -CAfile "$dir/pki/other-root-ca.pem" -untrusted "$dir/pki/chain.pem" \
     "$dir/pki/vsert-auth.pem" >/dev/null 2>&1; then
  fail "other-root-ca.pem verifies the leaf"
fi
[[ $(openssl x509 -in "$dir/pki/vsert-auth.pem" -noout -pubkey) == "$(cat "$dir/pki/vsert-auth.pub.pem")" ]] ||
  fail "vsert-auth.pem does not carry vsert-auth.pub.pem"
openssl x509 -in "$dir/pki/vsert-auth.pem" -noout -subject -nameopt RFC2253 |
  grep -q "serialNumber=999888777" || fail "leaf subject lacks serialNumber=999888777"
if openssl x509 -in "$dir/pki/expired.pem" -noout -checkend 0 >/dev/null; then
  fail "expired.pem has not expired"
fi
echo "ok"
