"""Maskinporten's checks on a JWT grant, for the stand-in (maskinporten.py).

Written from Digdir's JWT grant and /token pages, with PyJWT (signatures) and
cryptography (certificates), independently of the agent's C++.
"""
import base64
import binascii
import datetime
import json
import os
import re
import threading
import time

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

ALLOWED_ALGS = ("RS256", "RS384", "RS512")
# Digdir's JWT grant table: nothing else may appear in the body.
ALLOWED_CLAIMS = {"aud", "iss", "iat", "exp", "jti", "scope", "resource", "consumer_org",
                  "iss_onbehalfof", "pid", "authorization_details"}
REQUIRED_CLAIMS = ("aud", "iss", "iat", "exp", "jti", "scope")
MAX_GRANT_LIFETIME = 120       # Digdir: exp - iat <= 120 s
CLOCK_SKEW = 10                # Digdir: iat may be up to 10 s off Maskinporten's clock
MAX_ASSERTION = 32 * 1024      # bounds the JWT before any base64 or JSON work
MAX_X5C = 5                    # leaf + intermediates; real chains have 2-3
MAX_CHAIN_DEPTH = 5            # walking up from the leaf never loops forever
MAX_TRUSTED_CHAINS = 64       # distinct x5c arrays remembered as verified
MIN_RSA_BITS = 2048            # Maskinporten refuses weaker keys
ORGNO = re.compile(r"[0-9]{9}")
PID = re.compile(r"[0-9]{11}")
B64URL = re.compile(r"[A-Za-z0-9_-]*")


class Rejection(Exception):
    """An answer in Maskinporten's error format: 4xx JSON error + description."""

    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def load_pem_certificates(path):
    with open(path, "rb") as f:
        text = f.read()
    marker = b"-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate(block + marker)
            for block in text.split(marker) if b"BEGIN CERTIFICATE" in block]


def verify_issued_by(cert, parent):
    """Raises InvalidSignature (or ValueError) unless `parent` signed `cert`."""
    key = parent.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                   cert.signature_hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))
    else:
        raise ValueError("unsupported issuer key type")


def is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def valid_at(cert, now):
    return cert.not_valid_before <= now <= cert.not_valid_after


def organisation_number(cert):
    """The 9-digit organisation number in a virksomhetssertifikat's subject
    serialNumber (Buypass writes it bare, Commfides as NTRNO-nnnnnnnnn)."""
    for attribute in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        match = re.search(r"(?:^|[^0-9])([0-9]{9})$", attribute.value)
        if match:
            return match.group(1)
    return None


# --- strict JOSE parsing -------------------------------------------------------

def reject_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member %r" % key)
        result[key] = value
    return result


def b64url_json(part):
    if not B64URL.fullmatch(part):
        raise ValueError("not base64url without padding")
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(raw.decode("utf-8"), object_pairs_hook=reject_duplicates)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def unverified_parts(token):
    """(header, claims) of a compact JWS, each None when it cannot be read."""
    parts = token.split(".") if isinstance(token, str) else []
    decoded = []
    for index in (0, 1):
        try:
            decoded.append(b64url_json(parts[index]))
        except (IndexError, ValueError, UnicodeDecodeError, binascii.Error, RecursionError):
            decoded.append(None)
    return decoded[0], decoded[1]


def grant_error(description):
    return Rejection("invalid_grant", "Invalid assertion. Client authentication failed. "
                     + description)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --- grant validation -----------------------------------------------------------

class GrantValidator:
    """Maskinporten's checks on a JWT grant, in the order it reports them."""

    def __init__(self, trusted_ca, clients, kids):
        self.root = x509.load_pem_x509_certificate(open(trusted_ca, "rb").read())
        self.intermediates = {}
        chain = os.path.join(os.path.dirname(os.path.abspath(trusted_ca)), "chain.pem")
        if os.path.exists(chain):
            for cert in load_pem_certificates(chain):
                self.intermediates[cert.subject] = cert
        self.clients = clients          # client id -> set of allowed scopes
        self.kids = kids                # (client id, kid) -> public key
        self.seen_jtis = set()
        self.lock = threading.Lock()
        # cryptography's certificate objects cache parsed extensions in a
        # RefCell: threads sharing the trusted certificates get "Already
        # borrowed" unless chain checks take turns.
        self.pki_lock = threading.Lock()
        # x5c arrays already found trusted -> (leaf, organisation number,
        # the chain's certificates): the same bytes verify the same way, so
        # only their validity in time is checked again. Every grant's own
        # signature is still verified. Bounded; cleared when full.
        self.trusted_chains = {}

    def validate(self, assertion, audience):
        """Returns (header, claims, org_from_certificate) or raises Rejection."""
        if len(assertion) > MAX_ASSERTION:
            raise Rejection("invalid_request", "Invalid assertion. Invalid parameter value: "
                            "the assertion is longer than %d bytes" % MAX_ASSERTION)
        parts = assertion.split(".")
        try:
            if len(parts) != 3 or not B64URL.fullmatch(parts[2]):
                raise ValueError("not a compact JWS with three parts")
            header = b64url_json(parts[0])
            claims = b64url_json(parts[1])
        except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError) as e:
            raise Rejection("invalid_request",
                            "Invalid assertion. Invalid parameter value: %s" % e) from None
        self.check_header(header)
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss not in self.clients:
            raise Rejection("invalid_client", "Invalid assertion. Client authentication failed. "
                            "Client not found: %r" % (iss,))
        key, org = self.signing_key(header, iss)
        try:
            jwt.PyJWS().decode(assertion, key, algorithms=[header["alg"]])
        except jwt.PyJWTError as e:
            raise grant_error("Could not validate JWT Signature (%s)" % e) from None
        self.check_claims(claims, audience)
        self.check_replay(claims["jti"])
        return header, claims, org

    def check_header(self, header):
        keys = set(header)
        if keys not in ({"alg", "x5c"}, {"alg", "kid"}):
            raise grant_error("JWT header must have alg and exactly one of x5c or kid, "
                              "nothing else; got %s" % sorted(keys))
        if header["alg"] not in ALLOWED_ALGS:
            raise grant_error("Unsupported signing algorithm %r; supported: %s"
                              % (header["alg"], ", ".join(ALLOWED_ALGS)))

    def signing_key(self, header, iss):
        if "kid" in header:
            key = self.kids.get((iss, header["kid"])) if isinstance(header["kid"], str) else None
            if key is None:
                raise grant_error("No key with kid %r is registered on client %s"
                                  % (header["kid"], iss))
            return key, None
        with self.pki_lock:
            return self.trusted_key(header["x5c"])

    def trusted_key(self, x5c):
        cache_key = tuple(x5c) if isinstance(x5c, list) and all(isinstance(c, str) for c in x5c) \
            else None
        cached = self.trusted_chains.get(cache_key) if cache_key else None
        now = datetime.datetime.utcnow()
        if cached and all(valid_at(c, now) for c in cached[2]):
            return cached[0], cached[1]
        leaf, chain = self.trusted_leaf(x5c)
        found = (leaf.public_key(), organisation_number(leaf), chain)
        if len(self.trusted_chains) >= MAX_TRUSTED_CHAINS:
            self.trusted_chains.clear()
        self.trusted_chains[cache_key] = found
        return found[0], found[1]

    def trusted_leaf(self, x5c):
        if not isinstance(x5c, list) or not 1 <= len(x5c) <= MAX_X5C \
                or not all(isinstance(c, str) for c in x5c):
            raise grant_error("Failed to extract certificate from jwt: x5c must be an array "
                              "of 1 to %d strings" % MAX_X5C)
        try:
            chain = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
                     for c in x5c]
        except (ValueError, binascii.Error) as e:
            raise grant_error("Failed to extract certificate from jwt: x5c entries must be "
                              "standard base64 DER (%s)" % e) from None
        now = datetime.datetime.utcnow()
        leaf = chain[0]
        if not valid_at(leaf, now):
            raise grant_error("Certificate is expired or not yet valid: %s"
                              % leaf.subject.rfc4514_string())
        if is_ca(leaf):
            raise grant_error("Certificate is a CA certificate, not an end-entity certificate: %s"
                              % leaf.subject.rfc4514_string())
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
            raise grant_error("Certificate key must be RSA of at least %d bits" % MIN_RSA_BITS)
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.digital_signature:
                raise grant_error("Certificate key usage does not allow digitalSignature")
        except x509.ExtensionNotFound:
            pass
        path = self.check_chain(leaf, chain[1:], now)
        return leaf, path

    def check_chain(self, leaf, presented, now):
        """The path from leaf to the root, every link verified."""
        known = dict(self.intermediates)
        known.update({c.subject: c for c in presented})
        known[self.root.subject] = self.root
        cert = leaf
        path = [leaf]
        for _ in range(MAX_CHAIN_DEPTH):
            parent = known.get(cert.issuer)
            untrusted = grant_error("Certificate is not issued by a trusted CA: %s"
                                    % cert.issuer.rfc4514_string())
            if parent is None or parent is cert or not is_ca(parent) or not valid_at(parent, now):
                raise untrusted
            try:
                verify_issued_by(cert, parent)
            except (InvalidSignature, ValueError):
                raise untrusted from None
            path.append(parent)
            if parent.subject == self.root.subject:
                return path
            cert = parent
        raise grant_error("Certificate chain is longer than %d" % MAX_CHAIN_DEPTH)

    def check_claims(self, claims, audience):
        extra = set(claims) - ALLOWED_CLAIMS
        if extra:
            raise grant_error("Claim(s) not allowed in JWT grant: %s" % ", ".join(sorted(extra)))
        missing = [c for c in REQUIRED_CLAIMS if c not in claims]
        if missing:
            raise grant_error("Missing required claim(s): %s" % ", ".join(missing))
        if claims["aud"] != audience:
            raise grant_error("Invalid JWT claim aud: %r, expected %r"
                              % (claims["aud"], audience))
        if not is_int(claims["iat"]) or not is_int(claims["exp"]):
            raise grant_error("iat and exp must be integer NumericDates")
        now = int(time.time())
        if claims["exp"] - claims["iat"] > MAX_GRANT_LIFETIME:
            raise grant_error("Lifetime of JWT grant is too long: exp - iat = %d s, max %d s"
                              % (claims["exp"] - claims["iat"], MAX_GRANT_LIFETIME))
        if claims["exp"] <= claims["iat"]:
            raise grant_error("exp must be after iat")
        if claims["iat"] > now + CLOCK_SKEW:
            raise grant_error("JWT is issued in the future: iat is %d s ahead"
                              % (claims["iat"] - now))
        if claims["exp"] < now - CLOCK_SKEW:
            raise grant_error("JWT is expired")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise grant_error("jti must be a non-empty string")
        if not isinstance(claims["scope"], str) or not claims["scope"].split():
            raise grant_error("scope must be a non-empty space-separated string")
        self.check_optional_claims(claims)

    def check_optional_claims(self, claims):
        if "consumer_org" in claims and "iss_onbehalfof" in claims:
            raise grant_error("consumer_org and iss_onbehalfof cannot be used together")
        if "consumer_org" in claims and not (isinstance(claims["consumer_org"], str)
                                             and ORGNO.fullmatch(claims["consumer_org"])):
            raise grant_error("consumer_org must be a 9-digit organisation number")
        if "iss_onbehalfof" in claims and not (isinstance(claims["iss_onbehalfof"], str)
                                               and claims["iss_onbehalfof"]):
            raise grant_error("iss_onbehalfof must be a non-empty string")
        if "pid" in claims and not (isinstance(claims["pid"], str)
                                    and PID.fullmatch(claims["pid"])):
            raise grant_error("pid must be an 11-digit national identity number")
        resource = claims.get("resource", "x")
        if not (isinstance(resource, str) and resource) and not (
                isinstance(resource, list) and resource
                and all(isinstance(r, str) and r for r in resource)):
            raise grant_error("resource must be a string or a non-empty array of strings")
        details = claims.get("authorization_details", [{"type": "x"}])
        if not (isinstance(details, list) and details and all(
                isinstance(d, dict) and isinstance(d.get("type"), str) for d in details)):
            raise grant_error("authorization_details must be an array of objects with a type")

    def check_replay(self, jti):
        with self.lock:
            if jti in self.seen_jtis:
                raise grant_error("Grant is used before: jti %s" % jti)
            self.seen_jtis.add(jti)

    def check_scopes(self, iss, scope):
        requested = list(dict.fromkeys(scope.split()))
        refused = [s for s in requested if s not in self.clients[iss]]
        if refused:
            raise Rejection("invalid_scope", "MP-050 Token request contains invalid scopes for "
                            "client %s: %s" % (iss, " ".join(refused)))
        return requested
