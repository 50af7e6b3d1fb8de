#!/usr/bin/env bash
# The main job on the embedded default: sets everything up, makes a SoftHSM
# demo token with a test PKI (the key generated on the token, never
# extractable), starts the stand-in Maskinporten over HTTPS, and runs
# `maskinporten-agent fetch`, which builds a grant, has the token sign it,
# exchanges it and prints the access token. Everything lives in a temporary
# folder that is removed when the demo ends, unless asked to keep it:
#
#   scripts/demo.sh           the demo; its folder removed at the end
#   scripts/demo.sh --keep    the folder kept (its agent.toml, the token in
#                             hsm/, the stand-in's log); its path is printed
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keep=
case "${1:-}" in
  --keep) keep=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac
MPA_SKIP_BUILD=1 "$root/scripts/setup.sh"
# Only what the demo runs: the agent (not the tests).
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target maskinporten-agent

export MPA_SOURCE_DIR="$root" MPA_BIN="$root/build/maskinporten-agent" MPA_KEEP_WORK="$keep"
source "$root/tests/integration/lib.sh"
make_token
start_standin
write_config "$WORK/agent.toml"

echo "demo: token 'Virksomhet Test' in $HSM, stand-in Maskinporten at $STANDIN_ISSUER" >&2
echo "demo: maskinporten-agent fetch --config agent.toml --scope altinn:instances.read" >&2
echo "demo: the folder is $WORK (agent.toml, hsm/, standin/)${keep:+; kept}" >&2
"$MPA_BIN" fetch --config "$WORK/agent.toml" --scope altinn:instances.read
