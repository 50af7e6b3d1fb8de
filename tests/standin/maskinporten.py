"""A stand-in Maskinporten (and Altinn token exchange) for tests and the demo.

It validates JWT grants as Digdir documents Maskinporten does, with an
implementation independent of the agent's C++ (PyJWT + cryptography), issues
signed access tokens, answers errors in Maskinporten's format, can be told to
fail, and records what it received. See tests/standin/README.md.

  /usr/bin/python3 maskinporten.py --state-dir DIR --trusted-ca ROOT_PEM
      --client CLIENT_ID=scope1,scope2 [--client ...]
      [--kid CLIENT_ID:KID=PUBKEY_PEM ...] [--port N] [--token-lifetime SECONDS]

Only for tests: it keeps its keys in DIR and has an unauthenticated control
API under /_control/.
"""
import argparse
import datetime
import errno
import http.server
import ipaddress
import json
import os
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from grant_checks import (ALLOWED_ALGS, GrantValidator, Rejection,  # noqa: E402
                          is_int, unverified_parts)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE_PATH = "/authentication/api/v1/exchange/maskinporten"
ALTINN_ISSUER = "https://platform.tt02.altinn.no/authentication/api/v1/openid/"
MAX_BODY = 64 * 1024           # a grant with a 3-certificate x5c is ~6 KiB
MAX_DRAINED_BODY = 1024 * 1024  # a refused body up to this is read before the answer
MAX_RECEIVED = 10000           # the record is bounded even in a long demo
MAX_INJECTED_DELAY = 600       # a "slow" failure never holds a thread for ever
SOCKET_TIMEOUT = 60            # an idle or half-open client frees its thread
FAIL_MODES = ("500", "503", "429", "slow", "garbage", "drop", "400", "401", "403")
MAX_FAILURES = 100             # queued injections; a test needs a handful

DAY = datetime.timedelta(days=1)


def log(message):
    stamp = time.strftime("%H:%M:%S")
    print("standin %s %s" % (stamp, message), file=sys.stderr, flush=True)


# --- keys and certificates ---------------------------------------------------

def write_file(path, data, mode=0o644):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def make_tls_identity(state_dir):
    """A throwaway CA and a server certificate for localhost; returns the
    paths of the server certificate and key. Writes DIR/tls-ca.pem."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in Maskinporten TLS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - DAY).not_valid_after(now + 30 * DAY)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY).not_valid_after(now + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(san, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    cert_path = os.path.join(state_dir, "tls-server.pem")
    key_path = os.path.join(state_dir, "tls-server.key")
    write_file(os.path.join(state_dir, "tls-ca.pem"), ca.public_bytes(pem))
    write_file(cert_path, cert.public_bytes(pem))
    write_file(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), 0o600)
    return cert_path, key_path


# --- access tokens ------------------------------------------------------------------

def utc_text(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat()


def issued_authorization_detail(asked, consumer, now):
    """What Maskinporten puts in the token for what the grant asked, in the
    shapes of Altinn's "validate consent" and "system user" pages: a consent
    gains to, consented, validTo and consentRights; a system user gains its
    systemuser_id and system_id. Other entries are copied."""
    if not isinstance(asked, dict):
        return asked
    if asked.get("type") == "urn:altinn:consent":
        issued = {"type": "urn:altinn:consent", "id": asked.get("id"), "from": asked.get("from"),
                  "to": {"authority": "iso6523-actorid-upis", "ID": "0192:%s" % consumer},
                  "consented": utc_text(now - 3600), "validTo": utc_text(now + 365 * 86400),
                  "consentRights": [{"action": ["consent"],
                                     "resource": [{"type": "urn:altinn:resource",
                                                   "value": "standin-samtykke"}],
                                     "metaData": {"inntektsaar": "2025"}}]}
        return issued
    if asked.get("type") == "urn:altinn:systemuser":
        org = asked.get("systemuser_org")
        number = org.get("ID", "").split(":")[-1] if isinstance(org, dict) else ""
        return {"type": "urn:altinn:systemuser",
                "systemuser_org": {"authority": "iso6523-actorid-upis", "id": "0192:" + number},
                "systemuser_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, "standin:" + number))],
                "system_id": "%s_standin" % consumer}
    return asked


class TokenSigner:
    """The stand-in's own RSA key: signs access tokens and Altinn tokens."""

    def __init__(self, issuer):
        self.issuer = issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "standin-" + uuid.uuid4().hex[:12]

    def jwks(self):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.pop("key_ops", None)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        previous = getattr(self, "previous_jwk", None)
        return {"keys": [jwk] + ([previous] if previous else [])}

    def sign(self, claims, typ):
        return jwt.encode(claims, self.key, algorithm="RS256",
                          headers={"kid": self.kid, "typ": typ})

    def access_token(self, grant, scopes, org, lifetime, client_amr):
        now = int(time.time())
        claims = {"iss": self.issuer, "client_id": grant["iss"], "client_amr": client_amr,
                  "token_type": "Bearer", "scope": " ".join(scopes), "iat": now,
                  "exp": now + lifetime, "jti": str(uuid.uuid4())}
        consumer = grant.get("consumer_org") or org
        if consumer:
            claims["consumer"] = {"authority": "iso6523-actorid-upis", "ID": "0192:" + consumer}
        if grant.get("consumer_org") and org:
            claims["supplier"] = {"authority": "iso6523-actorid-upis", "ID": "0192:" + org}
        if "resource" in grant:
            claims["aud"] = grant["resource"]
        for name in ("iss_onbehalfof", "pid", "authorization_details"):
            if name in grant:
                claims[name] = grant[name]
        if isinstance(grant.get("authorization_details"), list):
            claims["authorization_details"] = [
                issued_authorization_detail(d, consumer, now) for d in grant["authorization_details"]]
        return self.sign(claims, "at+jwt"), claims

    def rotate(self):
        """A new signing key; the old one stays in the JWKS beside it (the
        switch-over an issuer makes), and new tokens are signed by the new."""
        self.previous_jwk = self.jwks()["keys"][0]
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "standin-" + uuid.uuid4().hex[:12]
        return self.kid

    def verify_access_token(self, token):
        """The claims of an unexpired token this stand-in issued, or raises."""
        return jwt.decode(token, self.key.public_key(), algorithms=["RS256"],
                          issuer=self.issuer, options={"require": ["exp", "iat", "scope"],
                                                       "verify_aud": False})

    def altinn_token(self, mp_claims, lifetime):
        now = int(time.time())
        claims = {"iss": ALTINN_ISSUER, "iat": now, "nbf": now,
                  "exp": min(mp_claims["exp"], now + lifetime), "scope": mp_claims["scope"],
                  "client_id": mp_claims.get("client_id"), "jti": str(uuid.uuid4())}
        consumer = mp_claims.get("consumer")
        if isinstance(consumer, dict) and isinstance(consumer.get("ID"), str):
            claims["urn:altinn:orgNumber"] = consumer["ID"].split(":")[-1]
        return self.sign(claims, "JWT")


# --- what the control API can change ---------------------------------------------------

class ControlState:
    """Recorded requests, injected failures, settings and counters."""

    def __init__(self, token_lifetime):
        self.default_lifetime = token_lifetime
        self.lock = threading.Lock()
        self.hold_changed = threading.Condition(self.lock)
        self.held = {"/token": 0, EXCHANGE_PATH: 0, "/jwk": 0}   # requests waiting now, per path
        self.reset()

    def reset(self):
        with self.lock:
            self.received = []
            self.failures = []
            self.token_lifetime = self.default_lifetime
            self.delay = 0.0
            self.holding = set()      # paths whose requests wait for a release
            self.hold_changed.notify_all()
            self.stats = {"token_requests": 0, "tokens_issued": 0, "exchanges": 0}

    def wait_if_held(self, path):
        """Keeps a request on a held path waiting until the path is released
        (or reset), at most MAX_INJECTED_DELAY s; `held` counts the waiting."""
        with self.lock:
            if path not in self.holding:
                return False
            self.held[path] += 1
            try:
                self.hold_changed.wait_for(lambda: path not in self.holding, MAX_INJECTED_DELAY)
            finally:
                self.held[path] -= 1
            return True

    def record(self, entry):
        with self.lock:
            self.received.append(entry)
            del self.received[:-MAX_RECEIVED]

    def count(self, name):
        with self.lock:
            self.stats[name] += 1

    def take_failure(self, path):
        with self.lock:
            for failure in self.failures:
                if failure["path"] == path and failure["count"] > 0:
                    failure["count"] -= 1
                    return dict(failure)
            self.failures = [f for f in self.failures if f["count"] > 0]
            return None


def parse_fail_request(body):
    allowed = {"mode", "count", "retry_after", "delay", "path"}
    if set(body) - allowed:
        raise ValueError("unknown keys %s" % sorted(set(body) - allowed))
    failure = {"mode": body.get("mode"), "count": body.get("count", 1),
               "retry_after": body.get("retry_after", 1), "delay": body.get("delay", 5),
               "path": body.get("path", "/token")}
    if failure["mode"] not in FAIL_MODES:
        raise ValueError("mode must be one of %s" % ", ".join(FAIL_MODES))
    if not is_int(failure["count"]) or failure["count"] < 1:
        raise ValueError("count must be a positive integer")
    if not is_int(failure["retry_after"]) or failure["retry_after"] < 0:
        raise ValueError("retry_after must be a non-negative integer")
    if not isinstance(failure["delay"], (int, float)) or isinstance(failure["delay"], bool) \
            or not 0 <= failure["delay"] <= MAX_INJECTED_DELAY:
        raise ValueError("delay must be a number of seconds from 0 to %d" % MAX_INJECTED_DELAY)
    if failure["path"] not in ("/token", EXCHANGE_PATH):
        raise ValueError("path must be /token or %s" % EXCHANGE_PATH)
    return failure


# --- HTTP --------------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin-maskinporten"
    sys_version = ""
    timeout = SOCKET_TIMEOUT

    # One line per request is written by `finish_request_log`, not here.
    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        log("%s %s" % (self.client_address[0], format % args))

    @property
    def app(self):
        return self.server.app

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        self.note = ""
        self.status = None
        path = urllib.parse.urlsplit(self.path).path
        try:
            self.app.route(self, method, path)
        except Rejection as r:
            self.note += " " + r.description
            self.send_json(r.status, {"error": r.error, "error_description": r.description})
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout) as e:
            self.close_connection = True
            self.note += " (client gone: %s)" % type(e).__name__
        except Exception as e:  # never let bad input take the server down
            frame = traceback.extract_tb(e.__traceback__)[-1]
            self.note += " (bug: %s: %s at %s:%d)" % (type(e).__name__, e,
                                                     os.path.basename(frame.filename), frame.lineno)
            try:
                self.send_json(500, {"error": "server_error", "error_description": "internal"})
            except OSError:
                self.close_connection = True
        log("%s %s %s %s%s" % (self.client_address[0], method, path,
                               self.status if self.status is not None else "-", self.note))

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise Rejection("invalid_request", "chunked request bodies are not accepted")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            # Read what the client is sending before the refusal, so that it
            # reads the answer instead of a broken pipe (within a bound).
            if length.isdigit() and int(length) <= MAX_DRAINED_BODY:
                self.rfile.read(int(length))
            raise Rejection("invalid_request", "Content-Length missing, bad or over %d" % MAX_BODY)
        return self.rfile.read(int(length))

    def send_body(self, status, body, content_type, extra_headers=()):
        self.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in extra_headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, value, extra_headers=()):
        body = (json.dumps(value) + "\n").encode()
        self.send_body(status, body, "application/json;charset=UTF-8", extra_headers)

    def drop(self):
        """Close without an answer: the client sees an empty reply or a reset."""
        self.close_connection = True
        self.status = "dropped"
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class StandIn:
    """Routes requests; owns the validator, the signer and the control state."""

    def __init__(self, validator, signer, control):
        self.validator = validator
        self.signer = signer
        self.control = control

    @property
    def issuer(self):
        return self.signer.issuer

    def route(self, h, method, path):
        routes = {
            ("GET", "/.well-known/oauth-authorization-server"): self.well_known,
            ("GET", "/jwk"): self.jwk,
            ("POST", "/token"): self.token,
            ("GET", EXCHANGE_PATH): self.exchange,
            ("GET", "/_control/received"): self.control_received,
            ("GET", "/_control/stats"): self.control_stats,
            ("POST", "/_control/reset"): self.control_reset,
            ("POST", "/_control/fail"): self.control_fail,
            ("POST", "/_control/settings"): self.control_settings,
            ("POST", "/_control/hold"): self.control_hold,
            ("POST", "/_control/release"): self.control_release,
            ("POST", "/_control/rotate_key"): self.control_rotate_key,
        }
        handler = routes.get((method, path))
        if handler is not None:
            handler(h)
        elif any(p == path for _, p in routes):
            h.read_body()
            h.send_json(405, {"error": "invalid_request",
                              "error_description": "method %s not allowed on %s" % (method, path)})
        else:
            h.read_body()
            h.send_json(404, {"error": "not_found", "error_description": "no such path: %s" % path})

    def well_known(self, h):
        h.send_json(200, {
            "issuer": self.issuer,
            "token_endpoint": self.issuer + "token",
            "jwks_uri": self.issuer + "jwk",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "grant_types_supported": [JWT_BEARER],
            "token_endpoint_auth_signing_alg_values_supported": list(ALLOWED_ALGS),
        })

    def jwk(self, h):
        if self.control.wait_if_held("/jwk"):
            h.note += " held"
        h.send_json(200, self.signer.jwks())

    # --- /token

    def token(self, h):
        entry = {"path": "/token", "status": None, "jti": None, "claims": None, "header": None,
                 "error": None, "time": round(time.time(), 3)}
        self.control.count("token_requests")
        try:
            self.answer_token(h, entry)
        finally:
            entry["status"] = h.status if isinstance(h.status, int) else None
            self.control.record(entry)

    def answer_token(self, h, entry):
        try:
            assertion = self.parse_token_request(h)
        except Rejection as r:
            entry["error"] = r.description
            h.send_json(r.status, {"error": r.error, "error_description": r.description})
            return
        entry["header"], entry["claims"] = unverified_parts(assertion)
        if isinstance(entry["claims"], dict) and isinstance(entry["claims"].get("jti"), str):
            entry["jti"] = entry["claims"]["jti"]
        h.note = " jti=%s" % entry["jti"]
        if self.inject_failure(h, "/token", entry):
            return
        try:
            header, claims, org = self.validator.validate(assertion, self.issuer)
            scopes = self.validator.check_scopes(claims["iss"], claims["scope"])
        except Rejection as r:
            entry["error"] = r.description
            h.note += " %s: %s" % (r.error, r.description)
            h.send_json(r.status, {"error": r.error, "error_description": r.description})
            return
        entry["header"], entry["claims"] = header, claims
        if self.control.wait_if_held("/token"):
            h.note += " held"
        with self.control.lock:
            lifetime, delay = self.control.token_lifetime, self.control.delay
        amr = "virksomhetssertifikat" if "x5c" in header else "private_key_jwt"
        token, _ = self.signer.access_token(claims, scopes, org, lifetime, amr)
        if delay:
            time.sleep(delay)
        self.control.count("tokens_issued")
        h.note += " issued scope=%s lifetime=%d" % (" ".join(scopes), lifetime)
        h.send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime,
                          "scope": " ".join(scopes)})

    def parse_token_request(self, h):
        body = h.read_body()
        content_type = h.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise Rejection("invalid_request", "Content-Type must be "
                            "application/x-www-form-urlencoded, got %r" % content_type)
        try:
            fields = urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True,
                                            strict_parsing=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            raise Rejection("invalid_request", "Malformed form body") from None
        form = {}
        for name, value in fields:
            if name in form:
                raise Rejection("invalid_request", "Parameter %s given more than once" % name)
            form[name] = value
        unknown = set(form) - {"grant_type", "assertion"}
        if unknown:
            raise Rejection("invalid_request", "Unknown parameter(s): %s"
                            % ", ".join(sorted(unknown)))
        if form.get("grant_type") != JWT_BEARER:
            raise Rejection("invalid_request", "Invalid grant_type %r, must be %s"
                            % (form.get("grant_type"), JWT_BEARER))
        if not form.get("assertion"):
            raise Rejection("invalid_request", "Missing parameter: assertion")
        return form["assertion"]

    def inject_failure(self, h, path, entry):
        """Answers with an injected failure and returns True, or returns False."""
        failure = self.control.take_failure(path)
        if failure is None:
            return False
        mode = failure["mode"]
        h.note += " injected=%s" % mode
        if mode == "slow":
            time.sleep(failure["delay"])
            return False
        entry["error"] = "injected failure: %s" % mode
        if mode == "drop":
            h.drop()
        elif mode == "garbage":
            h.send_body(200, b"<html><body>502 Bad Gateway</body></html>\n",
                        "application/json;charset=UTF-8")
        elif mode == "429":
            h.send_json(429, {"error": "too_many_requests",
                              "error_description": "Rate limit exceeded"},
                        [("Retry-After", str(failure["retry_after"]))])
        elif mode == "503":
            h.send_body(503, b"Service Unavailable\n", "text/plain",
                        [("Retry-After", str(failure["retry_after"]))])
        elif mode == "500":
            h.send_json(500, {"error": "server_error",
                              "error_description": "An unexpected error occurred"})
        elif mode == "401" and path == EXCHANGE_PATH:
            h.send_body(401, b"", "text/plain",
                        [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        elif mode == "403" and path == EXCHANGE_PATH:
            h.send_body(403, b"Forbidden\n", "text/plain")
        elif mode == "401":
            h.send_json(401, {"error": "invalid_client", "error_description":
                              "Injected failure: client authentication failed"})
        elif mode == "403":
            h.send_json(403, {"error": "access_denied",
                              "error_description": "Injected failure: access denied"})
        else:
            h.send_json(400, {"error": "invalid_request",
                              "error_description": "Injected failure: bad request"})
        return True

    # --- Altinn exchange

    def exchange(self, h):
        entry = {"path": EXCHANGE_PATH, "status": None, "jti": None, "claims": None,
                 "header": None, "error": None, "time": round(time.time(), 3)}
        try:
            self.answer_exchange(h, entry)
        finally:
            entry["status"] = h.status if isinstance(h.status, int) else None
            self.control.record(entry)

    def answer_exchange(self, h, entry):
        h.read_body()
        authorization = h.headers.get("Authorization", "")
        scheme, _, bearer = authorization.partition(" ")
        bearer = bearer.strip()
        entry["header"], entry["claims"] = unverified_parts(bearer)
        if isinstance(entry["claims"], dict) and isinstance(entry["claims"].get("jti"), str):
            entry["jti"] = entry["claims"]["jti"]
        if self.inject_failure(h, EXCHANGE_PATH, entry):
            return
        if scheme.lower() != "bearer" or not bearer:
            return self.unauthorized(h, entry, "missing Bearer token")
        try:
            claims = self.signer.verify_access_token(bearer)
        except jwt.PyJWTError as e:
            return self.unauthorized(h, entry, "%s: %s" % (type(e).__name__, e))
        entry["claims"] = claims
        if self.control.wait_if_held(EXCHANGE_PATH):
            h.note += " held"
        with self.control.lock:
            lifetime = self.control.token_lifetime
        token = self.signer.altinn_token(claims, lifetime)
        self.control.count("exchanges")
        h.note += " exchanged jti=%s" % claims.get("jti")
        h.send_body(200, token.encode(), "text/plain; charset=utf-8")

    def unauthorized(self, h, entry, reason):
        entry["error"] = reason
        h.note += " " + reason
        h.send_body(401, b"", "text/plain", [("WWW-Authenticate", 'Bearer error="invalid_token"')])

    # --- control API

    def control_received(self, h):
        with self.control.lock:
            received = list(self.control.received)
        h.send_json(200, received)

    def control_stats(self, h):
        with self.control.lock:
            stats = dict(self.control.stats, held=sum(self.control.held.values()))
        h.send_json(200, stats)

    def control_body(self, h):
        body = h.read_body()
        if not body.strip():
            return {}
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("body must be a JSON object") from None
        if not isinstance(value, dict):
            raise ValueError("body must be a JSON object")
        return value

    def control_reset(self, h):
        try:
            self.control_body(h)
        except ValueError as e:
            return h.send_json(400, {"error": str(e)})
        self.control.reset()
        h.send_json(200, {"ok": True})

    def control_fail(self, h):
        try:
            failure = parse_fail_request(self.control_body(h))
        except ValueError as e:
            return h.send_json(400, {"error": str(e)})
        with self.control.lock:
            if len(self.control.failures) >= MAX_FAILURES:
                return h.send_json(400, {"error": "more than %d failures queued" % MAX_FAILURES})
            self.control.failures.append(failure)
        h.note += " %s x%d on %s" % (failure["mode"], failure["count"], failure["path"])
        h.send_json(200, {"ok": True, "failure": failure})

    def hold_paths(self, h):
        body = self.control_body(h)
        if set(body) - {"path"}:
            raise ValueError("unknown keys %s" % sorted(set(body) - {"path"}))
        path = body.get("path", "/token")
        if path not in ("/token", EXCHANGE_PATH, "/jwk"):
            raise ValueError("path must be /token, /jwk or %s" % EXCHANGE_PATH)
        return path

    def control_hold(self, h):
        try:
            path = self.hold_paths(h)
        except ValueError as e:
            return h.send_json(400, {"error": str(e)})
        with self.control.lock:
            self.control.holding.add(path)
        h.note += " holding %s" % path
        h.send_json(200, {"ok": True, "holding": path})

    def control_release(self, h):
        try:
            path = self.hold_paths(h)
        except ValueError as e:
            return h.send_json(400, {"error": str(e)})
        with self.control.lock:
            self.control.holding.discard(path)
            self.control.hold_changed.notify_all()
            released = self.control.held[path]
        h.note += " released %s" % path
        h.send_json(200, {"ok": True, "released": released})

    def control_rotate_key(self, h):
        h.read_body()
        kid = self.signer.rotate()
        h.note = " rotated to %s" % kid
        h.send_json(200, {"ok": True, "kid": kid})

    def control_settings(self, h):
        try:
            body = self.control_body(h)
            lifetime = body.get("token_lifetime")
            delay = body.get("delay")
            unknown = set(body) - {"token_lifetime", "delay"}
            if unknown:
                raise ValueError("unknown keys %s" % sorted(unknown))
            if lifetime is not None and (not is_int(lifetime) or not 1 <= lifetime <= 86400):
                raise ValueError("token_lifetime must be an integer from 1 to 86400")
            if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float))
                                      or not 0 <= delay <= MAX_INJECTED_DELAY):
                raise ValueError("delay must be a number from 0 to %d" % MAX_INJECTED_DELAY)
        except ValueError as e:
            return h.send_json(400, {"error": str(e)})
        with self.control.lock:
            if lifetime is not None:
                self.control.token_lifetime = lifetime
            if delay is not None:
                self.control.delay = float(delay)
            settings = {"token_lifetime": self.control.token_lifetime, "delay": self.control.delay}
        h.send_json(200, {"ok": True, "settings": settings})


class TlsServer(http.server.ThreadingHTTPServer):
    """HTTPS; the handshake runs in the request's thread, so a slow or
    broken client never blocks accept()."""
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, family, tls_context, app):
        self.address_family = family
        self.tls_context = tls_context
        self.app = app
        super().__init__(address, Handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        # Plain bind (not HTTPServer's, which looks up the host name).
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def get_request(self):
        sock, address = self.socket.accept()
        return self.tls_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        log("%s connection error: %s: %s" % (client_address[0], type(error).__name__, error))


def bind_servers(port, context, app):
    """The IPv4 server on 127.0.0.1 and, where the host has IPv6, one on ::1
    with the same port, so that "localhost" reaches the stand-in whichever
    address a client tries first."""
    for _ in range(20):
        v4 = TlsServer(("127.0.0.1", port), socket.AF_INET, context, app)
        chosen = v4.server_address[1]
        try:
            v6 = TlsServer(("::1", chosen, 0, 0), socket.AF_INET6, context, app)
            return [v4, v6]
        except OSError as e:
            if e.errno == errno.EADDRINUSE and port == 0:
                v4.server_close()
                continue
            return [v4]
    raise SystemExit("standin: could not find a port free on both 127.0.0.1 and ::1")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Stand-in Maskinporten for tests.")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--trusted-ca", required=True)
    parser.add_argument("--client", action="append", required=True,
                        help="CLIENT_ID=scope1,scope2,...")
    parser.add_argument("--kid", action="append", default=[], help="CLIENT_ID:KID=PUBKEY_PEM")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-lifetime", type=int, default=120)
    args = parser.parse_args(argv)
    clients = {}
    for spec in args.client:
        client_id, sep, scopes = spec.partition("=")
        if not sep or not client_id:
            parser.error("--client wants CLIENT_ID=scope1,scope2: %r" % spec)
        clients[client_id] = {s for s in scopes.split(",") if s}
    kids = {}
    for spec in args.kid:
        left, sep, path = spec.partition("=")
        client_id, sep2, kid = left.partition(":")
        if not (sep and sep2 and client_id and kid and path):
            parser.error("--kid wants CLIENT_ID:KID=PUBKEY_PEM: %r" % spec)
        if client_id not in clients:
            parser.error("--kid names client %s, which no --client registers" % client_id)
        with open(path, "rb") as f:
            kids[(client_id, kid)] = serialization.load_pem_public_key(f.read())
    if not 1 <= args.token_lifetime <= 86400:
        parser.error("--token-lifetime must be from 1 to 86400")
    return args, clients, kids


def main(argv):
    args, clients, kids = parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    validator = GrantValidator(args.trusted_ca, clients, kids)
    cert_path, key_path = make_tls_identity(args.state_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    control = ControlState(args.token_lifetime)
    app = StandIn(validator, None, control)
    servers = bind_servers(args.port, context, app)
    port = servers[0].server_address[1]
    app.signer = TokenSigner("https://localhost:%d/" % port)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    write_file(os.path.join(args.state_dir, "port"), b"%d\n" % port)
    log("listening on https://localhost:%d/ (%s), clients: %s"
        % (port, ", ".join(s.server_address[0] for s in servers), ", ".join(sorted(clients))))
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
