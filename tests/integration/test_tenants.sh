# Tenants on one host, end to end: the real agent (as root, its own uid)
# and a tenant's process (nobody, uid 65534) on the real socket. The
# tenant's [[allow]] rule names the delegation values it may use; anything
# else is forbidden in words, while the agent's own uid keeps every field.
# status shows the tenant only its own client; another tenant's client is
# refused as an unknown one is, naming only the clients the peer may use.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
SOCK_PY="$MPA_SOURCE_DIR/tests/integration/sock.py"
# nobody reaches the socket: group-accessible, directories passable.
mkdir -m 0711 "$WORK/run"
chmod 0711 "$WORK"
CONF="$WORK/agent.toml"
write_config "$CONF"
sed -i 's|^socket = \(.*\)|socket = \1\nsocket_mode = "0660"|' "$CONF"
cat >>"$CONF" <<CONF

$(client_table payroll)
scopes = ["altinn:enduser"]

[[allow]]
uid = 65534
clients = ["default"]
scopes = ["altinn:enduser", "altinn:instances.read"]
consumer_orgs = ["111222333"]
systemuser_orgs = ["310000001"]

[[allow]]
gid = 4242
clients = ["payroll"]
CONF
start_agent "$CONF"
as_tenant() { setpriv --reuid=65534 --regid=0 --clear-groups "$@"; }
tenant_lines() { as_tenant "$PY" "$SOCK_PY" "$SOCK" lines "$@" 2>&1; }
token_line() { printf '{"op":"token","client":"default","scopes":["altinn:enduser"]%s}' "${1:-}"; }
system_user() {
  printf ',"authorization_details":[{"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:%s"}}]' "$1"
}
error_of() { json_get "$1" '[j.get("error"), j.get("message")]'; }

# --- the tenant: its own values pass, others are forbidden in words ---
expect_contains "the tenant gets a token without delegation" "$(tenant_lines "$(token_line)")" '"ok":true'
expect_contains "and for its listed consumer_org" \
  "$(tenant_lines "$(token_line ',"consumer_org":"111222333"')")" '"ok":true'
expect_eq "the grant carried it" \
  "$(json_get "$(standin_control received)" 'j[-1]["claims"]["consumer_org"]')" "111222333"
out="$(tenant_lines "$(token_line ',"consumer_org":"999888777"')")"
expect_eq "another customer's consumer_org is forbidden, naming the field and what is accepted" \
  "$(error_of "$out")" \
  '["forbidden", "uid 65534 may not ask client \"default\" for consumer_org \"999888777\": its [[allow]] rules for this client accept consumer_org \"111222333\""]'
out="$(tenant_lines "$(token_line ',"iss_onbehalfof":"kunde-2"')")"
expect_eq "iss_onbehalfof without onbehalfof in the rule is forbidden" "$(error_of "$out")" \
  '["forbidden", "uid 65534 may not ask client \"default\" for iss_onbehalfof \"kunde-2\": its [[allow]] rules for this client accept no iss_onbehalfof"]'
out="$(tenant_lines "$(token_line ',"pid":"01017012345"')")"
expect_eq "pid without pid = true is forbidden" "$(error_of "$out")" \
  '["forbidden", "uid 65534 may not ask client \"default\" for a pid: its [[allow]] rules for this client accept no pid (pid = true)"]'
expect_not_contains "and the pid is not echoed" "$out" "01017012345"
expect_contains "its listed system user organisation passes" \
  "$(tenant_lines "$(token_line "$(system_user 310000001)")")" '"ok":true'
out="$(tenant_lines "$(token_line "$(system_user 999888777)")")"
expect_eq "another system user organisation is forbidden" "$(error_of "$out")" \
  '["forbidden", "uid 65534 may not ask client \"default\" for systemuser_org \"999888777\": its [[allow]] rules for this client accept systemuser_org \"310000001\""]'
out="$(tenant_lines "$(token_line ',"authorization_details":[{"type":"urn:altinn:consent","id":"c1","from":"urn:altinn:person:identifier-no:01017012345"}]')")"
expect_contains "a consent entry is forbidden for the tenant" "$out" '"error":"forbidden"'
expect_contains "in words" "$out" 'authorization_details[0] of type \"urn:altinn:consent\"'
out="$(tenant_lines '{"op":"invalidate","client":"default","scopes":["altinn:enduser"],"consumer_org":"999888777"}')"
expect_contains "invalidate is judged the same way" "$out" '"error":"forbidden"'
expect_eq "no refused request reached Maskinporten" \
  "$(json_get "$(standin_control received)" '[(e.get("claims") or {}).get("consumer_org") for e in j if e["path"] == "/token"].count("999888777")')" 0

# --- the agent's own uid keeps every field ---
expect_contains "the agent's own uid may ask for any consumer_org" \
  "$(agent_lines "$(token_line ',"consumer_org":"999888777"')")" '"ok":true'
expect_contains "and a pid" "$(agent_lines "$(token_line ',"pid":"01017012345"')")" '"ok":true'
expect_contains "and any system user" "$(agent_lines "$(token_line "$(system_user 999888777)")")" '"ok":true'

# --- status: the tenant sees its own client only ---
status="$(tenant_lines '{"op":"status"}')"
expect_eq "the tenant's status lists only the client it may use" \
  "$(json_get "$status" '[c["name"] for c in j["clients"]]')" '["default"]'
expect_not_contains "and nothing of the other client" "$status" "payroll"
expect_eq "nor the cache and workers every tenant shares" \
  "$(json_get "$status" '["cache" in j, "workers" in j]')" '[false, false]'
expect_eq "its token's signing queue, by the token's label" \
  "$(json_get "$status" '[q["token"] for q in j["signing"]]')" '["Virksomhet Test"]'
status="$(agent_lines '{"op":"status"}')"
expect_eq "the agent's own uid sees every client" \
  "$(json_get "$status" '[c["name"] for c in j["clients"]]')" '["default", "payroll"]'

# --- a failed exchange's words go to whom it was for (and the agent's uid, root) ---
last_error_of() { json_get "$1" '[c["last_error"] for c in j["clients"] if c["name"] == "default"][0]'; }
standin_control fail '{"mode":"400","count":1}' >/dev/null
expect_contains "the agent's uid asks for a consumer_org and Maskinporten refuses" \
  "$(agent_lines "$(token_line ',"consumer_org":"555444333"')")" '"ok":false'
own="$(last_error_of "$(agent_lines '{"op":"status"}')")"
expect_contains "the agent's uid sees the refusal's words in status" "$own" "Maskinporten"
expect_eq "the tenant sees the code only" "$(last_error_of "$(tenant_lines '{"op":"status"}')")" \
  "${own%%:*}: (an exchange another peer asked for failed; its words are in the agent's log)"
standin_control fail '{"mode":"400","count":1}' >/dev/null
expect_contains "the tenant's own request is refused" \
  "$(tenant_lines '{"op":"token","client":"default","scopes":["altinn:instances.read"],"consumer_org":"111222333"}')" '"ok":false'
expect_contains "and the tenant sees its own refusal's words" \
  "$(last_error_of "$(tenant_lines '{"op":"status"}')")" "Maskinporten"

# --- a gid rule matches a supplementary group the process holds (SO_PEERGROUPS) ---
status="$(setpriv --reuid=65534 --regid=0 --groups=4242 "$PY" "$SOCK_PY" "$SOCK" lines '{"op":"status"}' 2>&1)"
expect_eq "a process holding group 4242 may use the client of the gid 4242 rule" \
  "$(json_get "$status" '[c["name"] for c in j["clients"]]')" '["default", "payroll"]'
expect_contains "and gets its token" \
  "$(setpriv --reuid=65534 --regid=0 --groups=4242 "$PY" "$SOCK_PY" "$SOCK" lines \
    '{"op":"token","client":"payroll","scopes":["altinn:enduser"]}' 2>&1)" '"ok":true'
out="$(tenant_lines '{"op":"token","client":"payroll","scopes":["altinn:enduser"]}')"
expect_eq "without the group it may not, told as for a client that does not exist" "$(error_of "$out")" \
  '["unknown_client", "no client named \"payroll\"; this peer may use \"default\""]'

# --- an unknown client: the refusal names the clients this peer may use, no others ---
out="$(tenant_lines '{"op":"token","client":"nope","scopes":["altinn:enduser"]}')"
expect_eq "an unknown client is refused naming the tenant's own clients" "$(error_of "$out")" \
  '["unknown_client", "no client named \"nope\"; this peer may use \"default\""]'
expect_not_contains "and never another tenant's" "$out" "payroll"
out="$(tenant_lines '{"op":"invalidate","client":"nope","scopes":["altinn:enduser"]}')"
expect_eq "invalidate says the same" "$(error_of "$out")" \
  '["unknown_client", "no client named \"nope\"; this peer may use \"default\""]'
out="$(tenant_lines '{"op":"token","scopes":["altinn:enduser"]}')"
expect_eq "no client named among several: the same list, not how many there are" "$(error_of "$out")" \
  '["unknown_client", "say which client with \"client\"; this peer may use \"default\""]'
out="$(setpriv --reuid=65534 --regid=0 --groups=4242 "$PY" "$SOCK_PY" "$SOCK" lines \
  '{"op":"token","client":"nope","scopes":["altinn:enduser"]}' 2>&1)"
expect_eq "a gid rule's client is named for a member of the group" "$(json_get "$out" 'j["message"]')" \
  'no client named "nope"; this peer may use "default", "payroll"'
out="$(agent_lines '{"op":"token","client":"nope","scopes":["altinn:enduser"]}')"
expect_eq "the agent's own uid is told every client" "$(json_get "$out" 'j["message"]')" \
  'no client named "nope"; this peer may use "default", "payroll"'
err="$(as_tenant "$MPA_BIN" token --socket "$SOCK" --client nope --scope altinn:enduser 2>&1)" && rc=0 || rc=$?
expect_eq "the CLI prints it with its code" "$rc:$err" \
  '1:error: unknown_client: no client named "nope"; this peer may use "default"'

finish
