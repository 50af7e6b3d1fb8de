#!/usr/bin/env bash
# The direction of the layout, checked on every #include "..." outside
# tests/ (the CMake targets check the same on links):
#   - pkcs11/'s headers other than pkcs11/pkcs11.h are private to pkcs11/;
#   - common/ includes only common/; protocol/ and pkcs11/ only themselves
#     and common/;
#   - the agent core (config, jwt, http, maskinporten, verify, altinn, cache,
#     engine, signer_helper, metrics) never includes the daemon's parts (server,
#     access, ops, service), the CLI or protocol/ (the wire format is the
#     daemon's and the CLI's business; the core's types are in common/ and
#     its own folders);
#   - the daemon's parts stand on each other in one direction: server
#     (socket I/O) <- access (who may do what) <- ops (each op) <- service
#     (process life) <- cli; none includes a part above it.
# Prints each offending line and exits 1, or prints a count and exits 0.
#   tests/layout/check_includes.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"

bad=0
refuse() { echo "layout: $1: includes $2 ($3)"; bad=$((bad + 1)); }

checked=0
while IFS= read -r file; do
  dir=${file%/*}
  while IFS= read -r inc; do
    checked=$((checked + 1))
    case "$inc" in
      pkcs11/pkcs11.h) ;;
      pkcs11/*) [[ $dir == pkcs11 ]] || refuse "$file" "$inc" "pkcs11/ internals are private" ;;
    esac
    case "$dir" in
      common) [[ $inc == common/* ]] || refuse "$file" "$inc" "common/ stands on nothing else" ;;
      protocol) [[ $inc == common/* || $inc == protocol/* ]] ||
        refuse "$file" "$inc" "protocol/ stands alone" ;;
      pkcs11) [[ $inc == common/* || $inc == pkcs11/* ]] ||
        refuse "$file" "$inc" "pkcs11/ stands alone" ;;
      agent/config | agent/jwt | agent/http | agent/maskinporten | agent/verify | agent/altinn | agent/cache | agent/engine | agent/signer_helper | agent/metrics)
        if [[ $inc =~ ^agent/(server|access|ops|service|cli)/ ]]; then
          refuse "$file" "$inc" "the core does not see the daemon or the CLI"
        elif [[ $inc == protocol/* ]]; then
          refuse "$file" "$inc" "the core does not see the wire format (protocol/)"
        fi ;;
      agent/server) [[ $inc =~ ^agent/(access|ops|service|cli)/ ]] &&
        refuse "$file" "$inc" "the server does not see access rules, ops, process life or the CLI" ;;
      agent/access) [[ $inc =~ ^agent/(ops|service|cli)/ ]] &&
        refuse "$file" "$inc" "access rules do not see the ops, process life or the CLI" ;;
      agent/ops) [[ $inc =~ ^agent/(service|cli)/ ]] &&
        refuse "$file" "$inc" "the ops do not see process life or the CLI" ;;
      agent/service) [[ $inc == agent/cli/* ]] && refuse "$file" "$inc" "the daemon does not see the CLI" ;;
    esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files '*.h' '*.cpp' | grep -vE '^(tests|bench|fuzz)/')

if ((bad)); then
  echo "layout: $bad include(s) against the direction"
  exit 1
fi
echo "layout: $checked includes follow the direction"
