#!/usr/bin/python3
"""Test vectors for the Altinn consent-token verifier, made by an independent
JOSE implementation (PyJWT + cryptography; run with Debian's /usr/bin/python3).

    make_altinn_vectors.py OUTDIR [--now EPOCH]

Writes to OUTDIR:
  altinn.pem        stand-in for Altinn's signing certificate (RSA 2048)
  altinn-next.pem   a second certificate, as during Altinn's key rotation
  other.pem         a certificate nobody configures (its key signs "unconfigured")
  both.pem          altinn.pem and altinn-next.pem in one file
  ec.pem            an EC certificate (not RSA: must be refused as configuration)
  expired.pem       a retired certificate, expired 40 days before EPOCH
  future.pem        a certificate valid only from 10 days after EPOCH
  with-expired.pem  altinn.pem and expired.pem in one file (a rotation left behind)
  not-a-cert.pem    text that is not PEM at all
  tokens.json       {"name": "compact JWS", ...}; the C++ test says what each must do
  now               the EPOCH the tokens were made around (default: the clock)

The names in tokens.json are the contract with tests/unit/test_altinn.cpp and
tests/integration/test_verify_altinn.sh.
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

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_cert(common_name: str, key, now: int, valid_from_days=-1, valid_to_days=365):
    """Self-signed, valid from/to these many days around `now` (epoch seconds)."""
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Altinn test stand-in"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at + datetime.timedelta(days=valid_from_days))
            .not_valid_after(at + datetime.timedelta(days=valid_to_days))
            .sign(key, hashes.SHA256()))


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def x5t(cert) -> str:
    return b64url(cert.fingerprint(hashes.SHA1()))


def with_check_digits(first_nine: str) -> str:
    """A national identity number from its first nine digits (mod-11, Skatteetaten)."""
    digits = [int(c) for c in first_nine]
    for weights in ([3, 7, 6, 1, 8, 9, 4, 5, 2], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]):
        k = 11 - sum(w * d for w, d in zip(weights, digits)) % 11
        if k == 10:
            raise ValueError("no valid check digit for " + first_nine)
        digits.append(0 if k == 11 else k)
    return "".join(map(str, digits))


def sign_raw(header_json: str, payload_json: str, key) -> str:
    """RS256 over hand-written JSON (for what PyJWT will not write, e.g. duplicate keys)."""
    signing_input = b64url(header_json.encode()) + "." + b64url(payload_json.encode())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--now", type=int, default=int(time.time()))
    args = parser.parse_args()
    now = args.now
    out = args.outdir
    os.makedirs(out, exist_ok=True)

    key_a = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_b = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_c = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_ec = ec.generate_private_key(ec.SECP256R1())
    key_old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert_a = make_cert("altinn stand-in", key_a, now)
    cert_b = make_cert("altinn stand-in (next)", key_b, now)
    cert_c = make_cert("someone else", key_c, now)
    cert_ec = make_cert("altinn stand-in (EC)", key_ec, now)
    cert_old = make_cert("altinn stand-in (retired)", key_old, now, -400, -40)
    cert_new = make_cert("altinn stand-in (future)", key_new, now, 10, 400)

    files = {
        "altinn.pem": pem(cert_a),
        "altinn-next.pem": pem(cert_b),
        "other.pem": pem(cert_c),
        "both.pem": pem(cert_a) + pem(cert_b),
        "ec.pem": pem(cert_ec),
        "expired.pem": pem(cert_old),
        "future.pem": pem(cert_new),
        "with-expired.pem": pem(cert_a) + pem(cert_old),
        "not-a-cert.pem": b"this is not a certificate\n",
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    def claims(**changes):
        c = {
            "Services": ["4629_2", "4629_2_inntektsaar=2016", "4630_2_fraOgMed=2017-06"],
            "AuthorizationCode": "c7dbe642-0fc1-4c3b-8959-8a92e3e1f17d",
            "OfferedBy": "11025802170",
            "CoveredBy": "910514458",
            "DelegatedDate": now - 3600,
            "ValidToDate": now + 30 * 86400,
            "iss": "altinn.no",
            "exp": now + 30,
            "nbf": now - 30,
        }
        for k, v in changes.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def rs(payload, key=key_a, cert=cert_a, alg="RS256", thumbprint=True, **extra_headers):
        headers = {"typ": "JWT"}
        if thumbprint:
            headers["x5t"] = x5t(cert)
        headers.update(extra_headers)
        return jwt.encode(payload, key, algorithm=alg, headers=headers)

    valid = rs(claims())
    h, p, s = valid.split(".")
    other_payload = b64url(json.dumps(claims(CoveredBy="991825827")).encode())
    jwk_a = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key_a.public_key()))
    x5c_a = [base64.b64encode(cert_a.public_bytes(serialization.Encoding.DER)).decode()]

    # HS256 "signed" with the certificate's PEM bytes as the HMAC secret: the
    # classic algorithm-confusion attack. PyJWT refuses to make it, so by hand.
    hs_input = (b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode()) + "." +
                b64url(json.dumps(claims()).encode()))
    hs_sig = hmac.new(pem(cert_a), hs_input.encode(), hashlib.sha256).digest()

    # A D-number: day of birth + 40 (11.02.58 -> 51.02.58).
    D_NUMBER = with_check_digits("510258021")
    tokens = {
        # Accepted.
        "valid": valid,
        "valid_services_string": rs(claims(Services="4629_2")),
        "valid_service_codes": rs(claims(Services=None, ServiceCodes=["4629_2", "4630_2"])),
        "valid_service_codes_string": rs(claims(Services=None, ServiceCodes="4629_2")),
        "valid_comma_services": rs(claims(Services=["4630,2,fraOgMed=november 2016,tilOgMed=januar 2017"])),
        "valid_no_x5t": rs(claims(), thumbprint=False),
        "valid_next": rs(claims(), key=key_b, cert=cert_b),
        "valid_next_no_x5t": rs(claims(), key=key_b, cert=cert_b, thumbprint=False),
        "valid_d_number_and_org": rs(claims(OfferedBy=D_NUMBER, CoveredBy="984851006")),
        "valid_synthetic_person": rs(claims(OfferedBy="25922947409")),
        "expired_within_leeway": rs(claims(exp=now - 30, nbf=now - 90)),
        # Refused.
        "alg_none": jwt.encode(claims(), None, algorithm="none"),
        "hs256_cert_secret": hs_input + "." + b64url(hs_sig),
        "rs512": rs(claims(), alg="RS512"),
        "ps256": rs(claims(), alg="PS256"),
        "jwk_header": rs(claims(), jwk=jwk_a),
        "x5c_header": rs(claims(), x5c=x5c_a),
        "jku_header": rs(claims(), jku="https://evil.example/jwks"),
        "x5u_header": rs(claims(), x5u="https://evil.example/cert.pem"),
        "crit_header": rs(claims(), crit=["exp"]),
        "typ_not_jwt": rs(claims(), typ="at+jwt"),
        "wrong_iss": rs(claims(iss="https://altinn.no")),
        "missing_exp": rs(claims(exp=None)),
        "exp_not_integer": rs(claims(exp=str(now + 30))),
        "expired": rs(claims(exp=now - 120, nbf=now - 180)),
        "nbf_future": rs(claims(nbf=now + 120)),
        "valid_to_date_past": rs(claims(ValidToDate=now - 10)),
        "bad_signature": h + "." + other_payload + "." + s,
        "unknown_x5t": rs(claims(), thumbprint=False, x5t=x5t(cert_c)),
        "unconfigured_key": rs(claims(), key=key_c, cert=cert_c, thumbprint=False),
        "signed_by_expired_cert": rs(claims(), key=key_old, cert=cert_old),
        "signed_by_expired_cert_no_x5t": rs(claims(), key=key_old, cert=cert_old, thumbprint=False),
        "signed_by_future_cert": rs(claims(), key=key_new, cert=cert_new),
        "offered_by_bad_check_digit": rs(claims(OfferedBy="11025802171")),
        "covered_by_bad_check_digit": rs(claims(CoveredBy="910514459")),
        "offered_by_wrong_length": rs(claims(OfferedBy="1102580217")),
        "malformed_services": rs(claims(Services=["4629-2"])),
        "services_missing": rs(claims(Services=None)),
        "bad_authorization_code": rs(claims(AuthorizationCode="not-a-guid")),
        "duplicate_iss": sign_raw('{"typ":"JWT","alg":"RS256"}',
                                  json.dumps(claims())[:-1] + ', "iss": "evil.example"}', key_a),
        "oversized": rs(claims(padding="x" * (17 * 1024))),
        "two_parts": h + "." + p,
        "garbage_base64": "!!!." + p + "." + s,
        "header_not_json": b64url(b"not json") + "." + p + "." + s,
    }
    with open(os.path.join(out, "tokens.json"), "w") as f:
        json.dump(tokens, f, indent=1)
    with open(os.path.join(out, "now"), "w") as f:
        f.write(str(now) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
