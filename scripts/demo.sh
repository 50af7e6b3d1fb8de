#!/usr/bin/env bash
# The main job on the embedded default: sets everything up, makes a SoftHSM
# demo token with a test PKI (the key generated on the token, never
# extractable), starts the stand-in Maskinporten over HTTPS, and runs
# `maskinporten-agent fetch`, which builds a grant, has the token sign it,
# exchanges it and prints the access token. Everything lives in a temporary
# folder that is removed when the demo ends.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"

export MPA_SOURCE_DIR="$root" MPA_BIN="$root/build/maskinporten-agent" MPA_KEEP_WORK=
source "$root/tests/integration/lib.sh"
make_token
start_standin
write_config "$WORK/agent.toml"

echo "demo: token 'Virksomhet Test' in $HSM, stand-in Maskinporten at $STANDIN_ISSUER" >&2
echo "demo: maskinporten-agent fetch --config agent.toml --scope altinn:instances.read" >&2
"$MPA_BIN" fetch --config "$WORK/agent.toml" --scope altinn:instances.read
