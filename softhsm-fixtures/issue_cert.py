"""Issues one more leaf certificate from a fixture token's intermediate CA,
for tests that need a certificate make-token.sh does not make (one that
expires soon, say).

  /usr/bin/python3 issue_cert.py TOKEN_DIR PUBKEY.der DAYS_VALID OUT.der

The subject is the fixture leaf subject; the validity starts a day ago.
"""
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_pki  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def main(token_dir, pubkey_der, days, out):
    pki = os.path.join(token_dir, "pki")
    with open(os.path.join(pki, "intermediate-ca.pem"), "rb") as f:
        issuer = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(pki, "intermediate-ca.key"), "rb") as f:
        issuer_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(pubkey_der, "rb") as f:
        public_key = serialization.load_der_public_key(f.read())
    cert = make_pki.issue(make_pki.name("Testbedrift AS", serial="999888777"), public_key,
                          issuer.subject, issuer_key, make_pki.NOW - make_pki.DAY,
                          make_pki.NOW + datetime.timedelta(days=days), ca=False)
    make_pki.write(out, cert.public_bytes(serialization.Encoding.DER))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: issue_cert.py TOKEN_DIR PUBKEY.der DAYS_VALID OUT.der")
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
