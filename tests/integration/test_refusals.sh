# Refusals a person can act on (issue 12, item 4), through the real agent:
# a scope outside the client's list names the scopes it may ask for, and
# "exchange":"altinn" on a client with no altinn_exchange_endpoint is a
# request error in words, answered before any grant is signed, on the
# socket and by `fetch --exchange altinn` alike.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
{
  echo
  client_table bare
  echo 'scopes = ["altinn:instances.read"]'
} >>"$CONF"
start_agent "$CONF"

out="$(agent_lines '{"op":"token","client":"default","scopes":["not:mine"]}')"
expect_eq "a scope outside the client's list is invalid_scope" "$(json_get "$out" 'j["error"]')" invalid_scope
expect_eq "and the refusal lists the scopes it may ask for" "$(json_get "$out" 'j["message"]')" \
  'scope "not:mine" is not in client "default"'"'"'s scopes; it may ask for altinn:enduser, altinn:instances.read, skatteetaten:test, nav:test/api'

before="$(json_get "$(standin_control stats)" 'j["token_requests"]')"
out="$(agent_lines '{"op":"token","client":"bare","scopes":["altinn:instances.read"],"exchange":"altinn"}')"
expect_eq "exchange altinn without an endpoint is invalid_request, not internal" \
  "$(json_get "$out" 'j["error"]')" invalid_request
expect_eq "in words that say what to set" "$(json_get "$out" 'j["message"]')" \
  'client "bare" has no altinn_exchange_endpoint, so it cannot make Altinn tokens; set altinn_exchange_endpoint in its [[client]] table (environment "custom" has no default) to use "exchange":"altinn"'
expect_eq "and no grant went to Maskinporten for it" \
  "$(json_get "$(standin_control stats)" 'j["token_requests"]')" "$before"
err="$("$MPA_BIN" token --socket "$SOCK" --client bare --scope altinn:instances.read --exchange altinn 2>&1)" && rc=0 || rc=$?
expect_eq "the CLI says the same with its code" "$rc:$(cut -c1-69 <<<"$err")" \
  '1:error: invalid_request: client "bare" has no altinn_exchange_endpoint'
out="$(agent_lines '{"op":"token","client":"bare","scopes":["altinn:instances.read"]}')"
expect_eq "the same client still gets Maskinporten tokens" "$(json_get "$out" 'j["ok"]')" True

# --- fetch --exchange altinn: the socket's words and code, before any grant ---
before="$(json_get "$(standin_control stats)" 'j["token_requests"]')"
err="$("$MPA_BIN" fetch --config "$CONF" --client bare --scope altinn:instances.read --exchange altinn 2>&1)" && rc=0 || rc=$?
expect_eq "fetch --exchange altinn without an endpoint: invalid_request in the socket's words" "$rc:$err" \
  '1:error: invalid_request: client "bare" has no altinn_exchange_endpoint, so it cannot make Altinn tokens; set altinn_exchange_endpoint in its [[client]] table (environment "custom" has no default) to use "exchange":"altinn"'
expect_eq "and the stand-in received no grant for it" \
  "$(json_get "$(standin_control stats)" 'j["token_requests"]')" "$before"

finish
