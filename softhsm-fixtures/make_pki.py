"""The test PKI for make-token.sh: root -> intermediate -> leaves.

  /usr/bin/python3 make_pki.py WORK_DIR PKI_DIR

WORK_DIR holds NAME.pub.der (public keys read from the token) and receives
NAME.der (certificates to write to the token). PKI_DIR receives the PEM files
listed at the top of make-token.sh. CA keys are software keys: they are test
fixtures, not the key under test.
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def name(common_name, org="Testbedrift AS", serial=None):
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if serial is not None:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def key_usage(digital_signature, cert_sign):
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                         key_encipherment=False, data_encipherment=False,
                         key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def issue(subject, public_key, issuer, issuer_key, not_before, not_after, ca):
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(key_usage(not ca, ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                              critical=False))
    if issuer_key.public_key() is not public_key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def self_signed_ca(common_name, org):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = name(common_name, org)
    cert = issue(subject, key.public_key(), subject, key, NOW - DAY, NOW + 3650 * DAY, ca=True)
    return key, cert


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def main(work, pki):
    def public_key(label):
        with open(os.path.join(work, label + ".pub.der"), "rb") as f:
            return serialization.load_der_public_key(f.read())

    root_key, root = self_signed_ca("Test Root CA", "Test PKI")
    _, other_root = self_signed_ca("Other Root CA", "Other PKI")
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter = issue(name("Test Intermediate CA", "Test PKI"), inter_key.public_key(),
                  root.subject, root_key, NOW - DAY, NOW + 1825 * DAY, ca=True)

    leaf_subject = name("Testbedrift AS", serial="999888777")
    valid = (NOW - DAY, NOW + 365 * DAY)
    leaves = {
        "vsert-auth": issue(leaf_subject, public_key("vsert-auth"), inter.subject, inter_key,
                            *valid, ca=False),
        "vsert-auth-3072": issue(leaf_subject, public_key("vsert-auth-3072"), inter.subject,
                                 inter_key, *valid, ca=False),
        # Carries vsert-auth's public key, not the key with the same CKA_ID.
        "mismatch": issue(leaf_subject, public_key("vsert-auth"), inter.subject, inter_key,
                          *valid, ca=False),
        "expired": issue(leaf_subject, public_key("expired"), inter.subject, inter_key,
                         NOW - 400 * DAY, NOW - 35 * DAY, ca=False),
    }

    for label, cert in leaves.items():
        write(os.path.join(work, label + ".der"), cert.public_bytes(serialization.Encoding.DER))
    write(os.path.join(work, "intermediate-ca.der"),
          inter.public_bytes(serialization.Encoding.DER))

    no_encryption = serialization.NoEncryption()
    for label, key in (("root-ca", root_key), ("intermediate-ca", inter_key)):
        write(os.path.join(pki, label + ".key"),
              key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8, no_encryption), 0o600)
    write(os.path.join(pki, "root-ca.pem"), pem(root))
    write(os.path.join(pki, "other-root-ca.pem"), pem(other_root))
    write(os.path.join(pki, "intermediate-ca.pem"), pem(inter))
    write(os.path.join(pki, "chain.pem"), pem(inter))
    for label in ("vsert-auth", "vsert-auth-3072", "mismatch", "expired"):
        write(os.path.join(pki, label + ".pem"), pem(leaves[label]))
    write(os.path.join(pki, "vsert-auth.pub.pem"),
          public_key("vsert-auth").public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_pki.py WORK_DIR PKI_DIR")
    main(sys.argv[1], sys.argv[2])
