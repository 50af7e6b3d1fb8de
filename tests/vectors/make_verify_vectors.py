#!/usr/bin/python3
"""Test vectors for the Maskinporten token verifier (agent/verify), made by an
independent JOSE implementation (PyJWT + cryptography; run with Debian's
/usr/bin/python3).

    make_verify_vectors.py OUTDIR [--now EPOCH]

Writes to OUTDIR:
  jwks.json          the issuer's key set: key-a
  jwks-rotated.json  the set after a rotation: key-a and key-b
  jwks-small.json    a set with a 1024-bit key (must be refused as configuration)
  tokens.json        {"name": "compact JWS", ...}; tests/unit/verify/test_verify.cpp
                     and tests/integration/test_verify_token.sh say what each must do
The issuer is https://issuer.test/, the scope "test:read test:write", the
consumer 0192:910514458; tokens are made around EPOCH (default: the clock).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os

import datetime
import time

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://issuer.test/"
CONSUMER = {"authority": "iso6523-actorid-upis", "ID": "0192:910514458"}
PERSON = "11025802170"          # valid check digits (a synthetic person)
PERSON_BAD = "11025802171"      # last check digit wrong


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64int(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def jwk(key, kid):
    pub = key.public_key().public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64int(pub.n), "e": b64int(pub.e)}


def raw_token(header: dict, payload_text: str, key) -> str:
    """RS256 over a payload given as text (for repeated members and the like)."""
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(payload_text.encode()))
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


def claims(now, **changes):
    c = {"scope": "test:read test:write", "iss": ISSUER, "client_amr": "private_key_jwt",
         "token_type": "Bearer", "exp": now + 120, "iat": now - 5,
         "client_id": "0b1c2d3e-0000-4000-8000-000000000001",
         "jti": "vector-jti", "consumer": CONSUMER}
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def utc_text(epoch, fraction=""):
    at = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "+00:00"


def consent(now, **changes):
    d = {"type": "urn:altinn:consent", "id": "93413201-b7e8-4ec3-a899-580fc02c6aeb",
         "from": "urn:altinn:person:identifier-no:" + PERSON,
         "to": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
         "consented": utc_text(now - 86400, ".409251"),
         "validTo": utc_text(now + 365 * 86400, ".639509"),
         "consentRights": [{"action": ["consent"],
                            "resource": [{"type": "urn:altinn:resource",
                                          "value": "samtykke-test"}],
                            "metadata": {"inntektsaar": "2022"}}]}
    d.update(changes)
    return d


SYSTEM_USER = {"type": "urn:altinn:systemuser",
               "systemuser_org": {"authority": "iso6523-actorid-upis", "id": "0192:314168267"},
               "systemuser_id": ["ebe4a681-0a8c-429e-a36f-8f9ca942b59f"],
               "system_id": "991825827_smartcloud"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--now", type=int, default=int(time.time()))
    args = p.parse_args()
    now = args.now
    os.makedirs(args.outdir, exist_ok=True)

    key_a = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_b = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_c = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)

    def write(name, obj):
        with open(os.path.join(args.outdir, name), "w") as f:
            json.dump(obj, f)

    write("jwks.json", {"keys": [jwk(key_a, "key-a")]})
    write("jwks-rotated.json", {"keys": [jwk(key_a, "key-a"), jwk(key_b, "key-b")]})
    write("jwks-small.json", {"keys": [jwk(small, "small")]})

    def sign(payload, key=key_a, kid="key-a", alg="RS256", extra=None):
        headers = {"kid": kid} if kid else {}
        headers.update(extra or {})
        return jwt.encode(payload, key, algorithm=alg, headers=headers)

    t = {}
    t["valid"] = sign(claims(now))
    t["valid_consent"] = sign(claims(now, authorization_details=[consent(now)]))
    t["valid_consent_metaData"] = sign(claims(now, authorization_details=[consent(
        now, consentRights=[{"action": ["consent"],
                             "resource": [{"type": "urn:altinn:resource",
                                           "value": "standard-samtykke-for-dele-data"}],
                             "metaData": {"inntektsaar": "2028"}}])]))
    t["valid_consent_from_org"] = sign(claims(now, authorization_details=[consent(
        now, **{"from": "urn:altinn:organization:identifier-no:910514458"})]))
    t["valid_systemuser"] = sign(claims(now, authorization_details=[SYSTEM_USER]))
    t["valid_unknown_type"] = sign(claims(now, authorization_details=[
        {"type": "urn:example:other", "anything": {"kept": [1, 2]}}]))
    t["valid_typ_at_jwt"] = sign(claims(now), extra={"typ": "at+jwt"})
    t["rotated_kid"] = sign(claims(now), key=key_b, kid="key-b")

    header_none = b64url(json.dumps({"alg": "none", "kid": "key-a"}).encode())
    t["alg_none"] = header_none + "." + b64url(json.dumps(claims(now)).encode()) + "."
    # HS256 keyed with the bytes of the published key: the classic
    # "public key as HMAC secret" confusion.
    secret = key_a.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_input = (b64url(json.dumps({"alg": "HS256", "kid": "key-a"}).encode()) + "." +
                b64url(json.dumps(claims(now)).encode()))
    t["hs256_jwks_key"] = hs_input + "." + b64url(
        hmac.new(secret, hs_input.encode(), hashlib.sha256).digest())
    t["rs512"] = sign(claims(now), alg="RS512")
    t["unknown_kid"] = sign(claims(now), key=key_c, kid="key-c")
    t["other_key_known_kid"] = sign(claims(now), key=key_c, kid="key-a")
    t["no_kid"] = sign(claims(now), kid=None)
    t["jwk_header"] = sign(claims(now), extra={"jwk": jwk(key_c, "key-c")})
    t["jku_header"] = sign(claims(now), extra={"jku": "https://evil.example/jwks"})
    t["x5c_header"] = sign(claims(now), extra={"x5c": ["MIIB"]})
    t["expired"] = sign(claims(now, exp=now - 120, iat=now - 240))
    t["iat_future"] = sign(claims(now, iat=now + 300, exp=now + 420))
    t["nbf_future"] = sign(claims(now, nbf=now + 300))
    t["missing_exp"] = sign(claims(now, exp=None))
    t["wrong_issuer"] = sign(claims(now, iss="https://maskinporten.no/"))
    t["issuer_without_slash"] = sign(claims(now, iss="https://issuer.test"))
    t["scope_read_only"] = sign(claims(now, scope="test:read"))
    t["scope_prefix_only"] = sign(claims(now, scope="test:write2"))
    t["other_consumer"] = sign(claims(now, consumer={"authority": "iso6523-actorid-upis",
                                                     "ID": "0192:991825827"}))
    t["consent_ended"] = sign(claims(now, authorization_details=[consent(
        now, validTo=utc_text(now - 10 * 86400, ".836"))]))
    t["consent_from_bad_check_digit"] = sign(claims(now, authorization_details=[consent(
        now, **{"from": "urn:altinn:person:identifier-no:" + PERSON_BAD})]))
    t["consent_both_metadata"] = sign(claims(now, authorization_details=[consent(
        now, consentRights=[{"action": ["consent"],
                             "resource": [{"type": "urn:altinn:resource", "value": "x"}],
                             "metadata": {"a": "1"}, "metaData": {"a": "2"}}])]))
    t["systemuser_bad_org"] = sign(claims(now, authorization_details=[dict(
        SYSTEM_USER, systemuser_org={"authority": "iso6523-actorid-upis", "id": "314168267"})]))
    body = json.dumps(claims(now))
    t["duplicate_iss"] = raw_token({"alg": "RS256", "kid": "key-a"},
                                   body[:-1] + ', "iss": "' + ISSUER + '"}', key_a)
    t["duplicate_in_consent"] = raw_token(
        {"alg": "RS256", "kid": "key-a"},
        json.dumps(claims(now, authorization_details=[consent(now)]))
        .replace('"id": "93413201', '"id": "x", "id": "93413201'), key_a)
    t["deep_nesting"] = raw_token({"alg": "RS256", "kid": "key-a"},
                                  body[:-1] + ', "deep": ' + "[" * 40 + "]" * 40 + "}", key_a)
    t["oversized"] = sign(claims(now, padding="x" * 33000))
    parts = t["valid"].split(".")
    tampered = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
    tampered["scope"] = "test:read test:write test:admin"
    t["tampered_payload"] = parts[0] + "." + b64url(json.dumps(tampered).encode()) + "." + parts[2]
    t["two_parts"] = parts[0] + "." + parts[1]
    write("tokens.json", t)


if __name__ == "__main__":
    main()
