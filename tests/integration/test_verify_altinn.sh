# End to end: `maskinporten-agent verify-altinn` on tokens made by an
# independent JOSE implementation (PyJWT, tests/vectors/make_altinn_vectors.py)
# around the real clock. Checks exit codes and the exact words a user sees.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

V="$WORK/vectors"
"$PY" "$MPA_SOURCE_DIR/tests/vectors/make_altinn_vectors.py" "$V"
CERT="$V/altinn.pem"

# tok NAME: the vector called NAME.
tok() { vector_token "$V" "$1"; }

# verify [ARGS...] (stdin passes through): sets OUT, ERR, RC.
verify() { capture "$MPA_BIN" verify-altinn "$@"; }

# --- accepted ---
verify --cert "$CERT" - <<<"$(tok valid)"
expect_eq "valid token from stdin exits 0" "$RC" 0
expect_eq "claims come out as JSON with iss" "$(json_get "$OUT" 'j["iss"]')" "altinn.no"
expect_eq "Services parsed into services" \
  "$(json_get "$OUT" '[(s["code"], s["edition"], s["metadata"]) for s in j["services"]]')" \
  '[["4629", "2", {"inntektsaar": "2016"}], ["4630", "2", {"fraOgMed": "2017-06"}]]'
expect_eq "nothing on stderr when valid" "$ERR" ""

verify --cert "$CERT" "$(tok valid_services_string)"
expect_eq "token as an argument exits 0" "$RC" 0
expect_eq "a lone service has empty metadata" "$(json_get "$OUT" 'j["services"]')" \
  '[{"code": "4629", "edition": "2", "metadata": {}}]'

verify --cert "$CERT" <<<"$(tok valid_service_codes)"
expect_eq "no TOKEN argument reads stdin" "$RC" 0

verify --cert "$CERT" --cert "$V/altinn-next.pem" - <<<"$(tok valid_next)"
expect_eq "x5t picks the second certificate (rotation)" "$RC" 0

verify --cert "$V/both.pem" - <<<"$(tok valid_next_no_x5t)"
expect_eq "without x5t every certificate in a multi-certificate file is tried" "$RC" 0

verify --cert "$CERT" - <<<"$(tok expired_within_leeway)"
expect_eq "expired 30 s ago passes the default 60 s leeway" "$RC" 0

verify --cert "$CERT" --leeway 600 - <<<"$(tok expired)"
expect_eq "expired 120 s ago passes --leeway 600" "$RC" 0

# --- refused, with the reason in words ---
verify --cert "$CERT" - <<<"$(tok alg_none)"
expect_eq "alg none exits 1" "$RC" 1
expect_eq "alg none says so" "$ERR" \
  'error: invalid_token: alg "none" is refused; only RS256 (Altinn'"'"'s algorithm) is accepted'
expect_eq "and prints no claims" "$OUT" ""

verify --cert "$CERT" - <<<"$(tok hs256_cert_secret)"
expect_eq "HS256 with the certificate as secret is refused" "$ERR" \
  'error: invalid_token: alg "HS256" is refused; only RS256 (Altinn'"'"'s algorithm) is accepted'

verify --cert "$CERT" - <<<"$(tok rs512)"
expect_contains "RS512 is refused" "$ERR" 'alg "RS512" is refused'

verify --cert "$CERT" - <<<"$(tok x5c_header)"
expect_eq "x5c header is refused" "$ERR" \
  "error: invalid_token: the token tries to bring its own key (x5c); only the configured Altinn certificates are trusted"

verify --cert "$CERT" - <<<"$(tok jwk_header)"
expect_contains "jwk header is refused" "$ERR" "bring its own key (jwk)"

verify --cert "$CERT" - <<<"$(tok wrong_iss)"
expect_eq "wrong issuer" "$ERR" 'error: invalid_token: iss is "https://altinn.no"; only "altinn.no" is accepted'

verify --cert "$CERT" - <<<"$(tok expired)"
expect_eq "expired beyond leeway exits 1" "$RC" 1
expect_contains "expired says when and the leeway" "$ERR" "(leeway 60 s)"
expect_contains "expired says expired" "$ERR" "error: invalid_token: token expired at 20"

verify --cert "$CERT" --leeway 0 - <<<"$(tok expired_within_leeway)"
expect_contains "--leeway 0 refuses what 60 accepts" "$ERR" "(leeway 0 s)"

verify --cert "$CERT" - <<<"$(tok nbf_future)"
expect_contains "nbf in the future" "$ERR" "error: invalid_token: token not valid before"

verify --cert "$CERT" - <<<"$(tok valid_to_date_past)"
expect_contains "consent past its ValidToDate" "$ERR" "(ValidToDate)"

verify --cert "$CERT" - <<<"$(tok bad_signature)"
expect_eq "tampered payload" "$ERR" \
  "error: invalid_token: signature does not verify with any configured Altinn certificate"

verify --cert "$CERT" - <<<"$(tok unconfigured_key)"
expect_eq "key nobody configured" "$ERR" \
  "error: invalid_token: signature does not verify with any configured Altinn certificate"

verify --cert "$CERT" - <<<"$(tok valid_next)"
expect_contains "rotated token without the new certificate names the thumbprint" "$ERR" \
  "no configured certificate has thumbprint x5t"

# A rotation left an expired certificate in the configuration.
verify --cert "$V/with-expired.pem" - <<<"$(tok signed_by_expired_cert)"
expect_eq "a token signed by an expired certificate exits 1" "$RC" 1
expect_contains "saying which certificate expired when" "$ERR" \
  "error: invalid_token: signed by Altinn certificate /C=NO/O=Altinn test stand-in/CN=altinn stand-in (retired), which expired on "
expect_contains "and the expired certificate is named as a warning when loaded" "$ERR" \
  "warning: Altinn certificate /C=NO/O=Altinn test stand-in/CN=altinn stand-in (retired) expired on "
verify --cert "$V/with-expired.pem" - <<<"$(tok valid)"
expect_eq "the current certificate beside it still verifies" "$RC" 0
verify --cert "$CERT" --cert "$V/future.pem" - <<<"$(tok signed_by_future_cert)"
expect_contains "a certificate not yet valid is not trusted either" "$ERR" "which is not valid before "

verify --cert "$CERT" - <<<"$(tok offered_by_bad_check_digit)"
expect_eq "wrong check digit names the claim, not the number" "$ERR" \
  "error: invalid_token: OfferedBy is not a valid national identity number (date part or mod-11 check digits)"

verify --cert "$CERT" - <<<"$(tok malformed_services)"
expect_contains "malformed service string" "$ERR" 'Services entry "4629-2" is not CODE_EDITION'

verify --cert "$CERT" "$(tok two_parts)"
expect_eq "two parts" "$ERR" "error: invalid_token: expected three base64url parts separated by dots, found 2"

verify --cert "$CERT" "$(tok oversized)"
expect_contains "oversized token as an argument" "$ERR" "bytes; at most 16384 are accepted"

verify --cert "$CERT" - <<<"$(tok oversized)"
expect_eq "oversized token on stdin is not read whole" "$ERR" \
  "error: invalid_token: the token on stdin is longer than 16384 bytes"

# --- certificates that cannot be used ---
verify --cert "$V/ec.pem" - <<<"$(tok valid)"
expect_eq "EC certificate exits 1" "$RC" 1
expect_contains "EC certificate is named" "$ERR" "$V/ec.pem: certificate"
expect_contains "and why" "$ERR" "has no RSA public key"

verify --cert "$V/nope.pem" - <<<"$(tok valid)"
expect_contains "missing certificate file is named" "$ERR" "$V/nope.pem: cannot read"

# --- usage ---
verify - <<<"$(tok valid)"
expect_eq "no --cert is a usage error" "$RC" 2
expect_contains "and says what is missing" "$ERR" "at least one --cert PEM is required"

verify --cert "$CERT" --leeway soon - <<<"$(tok valid)"
expect_eq "non-numeric leeway is a usage error" "$RC" 2

verify --cert "$CERT" --leeway 601 - <<<"$(tok valid)"
expect_eq "leeway over 600 is a usage error" "$RC" 2

verify --cert "$CERT" a b
expect_eq "two tokens is a usage error" "$RC" 2

verify --cert "$CERT" --insecure a
expect_eq "unknown option is a usage error" "$RC" 2

verify --cert "$CERT" - </dev/null
expect_eq "empty stdin is a usage error" "$RC" 2

verify --help
expect_eq "--help exits 0" "$RC" 0
expect_contains "--help shows usage" "$OUT" "usage: maskinporten-agent verify-altinn --cert PEM"
expect_contains "--help explains x5t" "$OUT" "x5t"

finish
