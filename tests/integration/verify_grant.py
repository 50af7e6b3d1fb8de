"""Verifies a Maskinporten grant with an implementation independent of ours
(PyJWT + cryptography): header keys, x5c chain to the test root, signature,
claim whitelist, lifetime. Prints the claims as JSON; exits 1 with the
reason otherwise. Run with /usr/bin/python3.

usage: verify_grant.py GRANT ROOT_CA_PEM AUDIENCE [PUBKEY_PEM_FOR_KID]
"""
import base64
import json
import sys

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

ALLOWED_CLAIMS = {"aud", "iss", "iat", "exp", "jti", "scope", "resource", "consumer_org",
                  "iss_onbehalfof", "pid", "authorization_details"}


def fail(message):
    print("verify_grant: " + message, file=sys.stderr)
    sys.exit(1)


def load_pem_certificates(path):
    text = open(path, "rb").read()
    marker = b"-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate(block + marker)
            for block in text.split(marker) if b"BEGIN CERTIFICATE" in block]


def main():
    grant, root_pem, audience = sys.argv[1], sys.argv[2], sys.argv[3]
    header = jwt.get_unverified_header(grant)
    if header.get("alg") not in ("RS256", "RS384", "RS512"):
        fail("alg %r" % header.get("alg"))
    if set(header) not in ({"alg", "x5c"}, {"alg", "kid"}):
        fail("header keys %s" % sorted(header))
    if "x5c" in header:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
                 for c in header["x5c"]]
        root = x509.load_pem_x509_certificate(open(root_pem, "rb").read())
        # Intermediates not in x5c come from the test PKI beside the root.
        known = {c.subject: c for c in load_pem_certificates(
            root_pem.replace("root-ca.pem", "chain.pem"))}
        known.update({c.subject: c for c in chain[1:]})
        known[root.subject] = root
        cert = chain[0]
        for _ in range(5):
            parent = known.get(cert.issuer)
            if parent is None:
                fail("no issuer for %s" % cert.subject.rfc4514_string())
            parent.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                       padding.PKCS1v15(), cert.signature_hash_algorithm)
            if parent.subject == root.subject:
                break
            cert = parent
        else:
            fail("chain too long")
        key = chain[0].public_key()
    else:
        key = serialization.load_pem_public_key(open(sys.argv[4], "rb").read())
    claims = jwt.decode(grant, key, algorithms=[header["alg"]], audience=audience,
                        options={"require": ["aud", "iss", "iat", "exp", "jti", "scope"]})
    extra = set(claims) - ALLOWED_CLAIMS
    if extra:
        fail("claims not allowed by Maskinporten: %s" % sorted(extra))
    if not 0 < claims["exp"] - claims["iat"] <= 120:
        fail("exp - iat = %d" % (claims["exp"] - claims["iat"]))
    print(json.dumps({"header": header, "claims": claims}, sort_keys=True))


if __name__ == "__main__":
    try:
        main()
    except jwt.PyJWTError as e:
        fail("%s: %s" % (type(e).__name__, e))
