"""Makes a software test PKI and JWT grants signed with it, good and bad, for
the stand-in's self-test (tests/integration/test_standin.sh). The fixture
token's keys are not extractable, so these grants use software keys.

  /usr/bin/python3 make_grant.py pki DIR
  /usr/bin/python3 make_grant.py grant --pki DIR --aud AUD --iss CLIENT_ID
      --scope "a b" [--alg RS256|RS384|RS512|HS256|none] [--x5c leaf|chain|other|
      expired|urlsafe|root] [--kid KID] [--lifetime 120] [--iat-offset 0] [--jti ID]
      [--claim NAME=JSON ...] [--drop NAME ...] [--header NAME=JSON ...]
      [--tamper] [--cert LEAF_PEM --unsigned]

With --unsigned it prints the JWS signing input only, for a key that signs
elsewhere (the fixture token, through pkcs11-tool).

`pki` writes root-ca.{pem,key}, chain.pem (the intermediate), leaf.{pem,key,pub.pem}
(subject serialNumber 999888777, issued by the intermediate), expired.{pem,key}
and other-leaf.{pem,key} under an unrelated root (other-root-ca.pem).
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
RSA_HASHES = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}
PEM = serialization.Encoding.PEM


def name(common_name, serial=None):
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Selvtest AS")]
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def issue(subject, key, issuer, issuer_key, ca, not_before=NOW - DAY, not_after=NOW + 30 * DAY):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
                           critical=True)
            .sign(issuer_key, hashes.SHA256()))


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def save(directory, label, cert, key=None):
    with open(os.path.join(directory, label + ".pem"), "wb") as f:
        f.write(cert.public_bytes(PEM))
    if key is not None:
        with open(os.path.join(directory, label + ".key"), "wb") as f:
            f.write(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))


def make_pki(directory):
    os.makedirs(directory, exist_ok=True)
    root_key, other_root_key, inter_key = new_key(), new_key(), new_key()
    root = issue(name("Selvtest Root CA"), root_key, name("Selvtest Root CA"), root_key, True)
    other = issue(name("Other Root CA"), other_root_key, name("Other Root CA"), other_root_key,
                  True)
    inter = issue(name("Selvtest Intermediate CA"), inter_key, root.subject, root_key, True)
    leaf_key, expired_key, other_leaf_key = new_key(), new_key(), new_key()
    leaf_name = name("Selvtest AS", serial="999888777")
    save(directory, "root-ca", root, root_key)
    save(directory, "other-root-ca", other)
    save(directory, "chain", inter)
    save(directory, "leaf", issue(leaf_name, leaf_key, inter.subject, inter_key, False), leaf_key)
    save(directory, "expired", issue(leaf_name, expired_key, inter.subject, inter_key, False,
                                     NOW - 60 * DAY, NOW - DAY), expired_key)
    save(directory, "other-leaf", issue(leaf_name, other_leaf_key, other.subject,
                                        other_root_key, False), other_leaf_key)
    with open(os.path.join(directory, "leaf.pub.pem"), "wb") as f:
        f.write(leaf_key.public_key().public_bytes(
            PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def load(directory, label):
    with open(os.path.join(directory, label + ".pem"), "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    key = None
    if os.path.exists(os.path.join(directory, label + ".key")):
        with open(os.path.join(directory, label + ".key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    return cert, key


def der_b64(cert, urlsafe=False):
    der = cert.public_bytes(serialization.Encoding.DER)
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(der).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def header_and_key(args):
    label = {"other": "other-leaf", "expired": "expired", "root": "root-ca"}.get(args.x5c, "leaf")
    if args.cert:
        with open(args.cert, "rb") as f:
            cert, key = x509.load_pem_x509_certificate(f.read()), None
    else:
        cert, key = load(args.pki, label)
    header = {"alg": args.alg}
    if args.kid:
        header["kid"] = args.kid
    elif args.x5c == "chain":
        header["x5c"] = [der_b64(cert), der_b64(load(args.pki, "chain")[0])]
    else:
        header["x5c"] = [der_b64(cert, urlsafe=args.x5c == "urlsafe")]
    for item in args.header:
        field, _, value = item.partition("=")
        header[field] = json.loads(value)
    return header, key


def sign(signing_input, alg, key):
    if alg in RSA_HASHES:
        return key.sign(signing_input, padding.PKCS1v15(), RSA_HASHES[alg])
    if alg == "HS256":
        return hmac.new(b"secret", signing_input, hashlib.sha256).digest()
    return b""


def make_grant(args):
    header, key = header_and_key(args)
    now = int(time.time()) + args.iat_offset
    claims = {"aud": args.aud, "iss": args.iss, "iat": now, "exp": now + args.lifetime,
              "jti": args.jti or str(uuid.uuid4()), "scope": args.scope}
    for item in args.claim:
        field, _, value = item.partition("=")
        claims[field] = json.loads(value)
    for field in args.drop:
        claims.pop(field, None)
    signing_input = (b64url(json.dumps(header).encode()) + "."
                     + b64url(json.dumps(claims).encode())).encode()
    if args.unsigned:
        return signing_input.decode()
    signature = bytearray(sign(signing_input, args.alg, key))
    if args.tamper and signature:
        signature[-1] ^= 1
    return signing_input.decode() + "." + b64url(bytes(signature))


def main(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    pki = sub.add_parser("pki")
    pki.add_argument("dir")
    grant = sub.add_parser("grant")
    grant.add_argument("--pki", default=".")
    grant.add_argument("--aud", required=True)
    grant.add_argument("--iss", required=True)
    grant.add_argument("--scope", required=True)
    grant.add_argument("--alg", default="RS256")
    grant.add_argument("--x5c", default="leaf",
                       choices=["leaf", "chain", "other", "expired", "urlsafe", "root"])
    grant.add_argument("--kid")
    grant.add_argument("--lifetime", type=int, default=120)
    grant.add_argument("--iat-offset", type=int, default=0)
    grant.add_argument("--jti")
    grant.add_argument("--claim", action="append", default=[])
    grant.add_argument("--drop", action="append", default=[])
    grant.add_argument("--header", action="append", default=[])
    grant.add_argument("--tamper", action="store_true")
    grant.add_argument("--cert", help="x5c leaf from this PEM (with --unsigned: signed elsewhere)")
    grant.add_argument("--unsigned", action="store_true", help="print the JWS signing input only")
    args = parser.parse_args(argv)
    if args.command == "pki":
        make_pki(args.dir)
    else:
        print(make_grant(args))


if __name__ == "__main__":
    main(sys.argv[1:])
