# The agent daemon end to end: the real binary on its real socket, a real
# SoftHSM token, the stand-in Maskinporten over real TLS.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin
CONF="$WORK/agent.toml"
write_config "$CONF"
# A short margin and few connections, so refresh-ahead and the connection
# limit can be seen; mode 0660 in a directory others may pass through, so
# that another uid reaches the socket and SO_PEERCRED decides.
sed -i 's/^refresh_margin_seconds = 30/refresh_margin_seconds = 5\nmax_connections = 64\nsocket_mode = "0660"/' "$CONF"
mkdir -m 0711 "$WORK/run"
chmod 0711 "$WORK"
start_agent "$CONF"
received_count() { json_get "$(standin_control stats)" 'j["token_requests"]'; }
cache_misses() { json_get "$("$MPA_BIN" status --socket "$SOCK" --json)" 'j["cache"]["misses"]'; }
SOCK_PY="$MPA_SOURCE_DIR/tests/integration/sock.py"

# --- the CLI client, and caching ---
token1="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)"
expect_eq "token prints a Maskinporten access token" "$(json_get "$(jwt_part "$token1" 1)" 'j["scope"]')" "altinn:instances.read"
token2="$(MASKINPORTEN_AGENT_SOCKET="$SOCK" "$MPA_BIN" token --scope altinn:instances.read)"
expect_eq "a second request is served from the cache" "$token2" "$token1"
expect_eq "one exchange for two requests" "$(received_count)" 1
json="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read --json)"
expect_eq "token --json has the response fields" "$(json_get "$json" 'sorted(j)')" \
  '["access_token", "expires_at", "expires_in", "ok", "scope", "token_type"]'
other="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser)"
expect_not_contains "another scope set gets another token" "$other" "$token1"
"$MPA_BIN" token --socket "$SOCK" --scope altinn:enduser --consumer-org 999888777 >/dev/null
expect_eq "consumer_org makes its own cache entry" "$(received_count)" 3
expect_eq "the grant carried consumer_org" \
  "$(json_get "$(standin_control received)" 'j[-1]["claims"]["consumer_org"]')" "999888777"

out="$("$MPA_BIN" token --socket "$SOCK" --scope not:mine 2>&1)" && rc=0 || rc=$?
expect_eq "a scope outside the client's list exits 1" "$rc" 1
expect_contains "and says invalid_scope" "$out" "invalid_scope"

# --- single flight: 60 identical concurrent misses, one grant ---
# The stand-in holds the exchange until all 60 requests wait in the agent.
# (An exchange may wait up to timeout_seconds, 15 s, here: the 3 s retry
# deadline comes later.)
single_flight='{"op":"token","scopes":["nav:test/api"]}'
standin_control reset '{}' >/dev/null
standin_control hold '{}' >/dev/null
before="$(received_count)"
misses_before="$(cache_misses)"
"$PY" "$SOCK_PY" "$SOCK" parallel 60 "$single_flight" >"$WORK/parallel.out" &
parallel_pid=$!
all_waiting() { standin_held 1 && (( $(cache_misses) - misses_before == 60 )); }
wait_for all_waiting && ok "60 concurrent identical requests wait for one held exchange" \
  || not_ok "60 concurrent identical requests wait for one held exchange"
standin_control release '{}' >/dev/null
wait "$parallel_pid" || true
answers="$(cat "$WORK/parallel.out")"
expect_eq "60 concurrent identical requests all succeed" "$(grep -c '"ok":true' <<<"$answers")" 60
expect_eq "and share one token" "$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$answers" | sort -u | wc -l)" 1
expect_eq "60 concurrent identical requests make one grant" "$(( $(received_count) - before ))" 1

# --- status and invalidate ---
status="$("$MPA_BIN" status --socket "$SOCK" --json)"
expect_eq "status: token present and logged in" \
  "$(json_get "$status" '[j["clients"][0]["token_present"], j["clients"][0]["logged_in"]]')" '[true, true]'
expect_contains "status: certificate subject" "$(json_get "$status" 'j["clients"][0]["certificate_subject"]')" "999888777"
expect_eq "status: cache entries" "$(json_get "$status" 'j["cache"]["entries"]')" 4
human="$("$MPA_BIN" status --socket "$SOCK")"
expect_contains "status in words names the client" "$human" "default"
"$MPA_BIN" invalidate --socket "$SOCK" --scope altinn:instances.read >/dev/null
token3="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)"
expect_not_contains "after invalidate a new token is fetched" "$token3" "$token1"

# --- bad requests: the right error, and the agent keeps serving ---
answers="$(agent_lines '{"op":"token","scopes":["altinn:instances.read"],"scope":"x"}' '{"op":"nope"}' '{"op":"ping","id":7}')"
expect_contains "unknown field is invalid_request" "$(sed -n 1p <<<"$answers")" '"error":"invalid_request"'
expect_contains "and names the field" "$(sed -n 1p <<<"$answers")" 'scope'
expect_contains "unknown op is invalid_request" "$(sed -n 2p <<<"$answers")" '"error":"invalid_request"'
expect_contains "the connection stays open after them, id echoed" "$(sed -n 3p <<<"$answers")" '"id":7'
answers="$("$PY" "$SOCK_PY" "$SOCK" raw $'{"op":\n{"op":"ping"}\n')"
expect_contains "malformed JSON is invalid_request" "$(sed -n 1p <<<"$answers")" '"error":"invalid_request"'
expect_eq "and the connection is closed" "$(sed -n 2p <<<"$answers")" "<closed>"
answers="$("$PY" "$SOCK_PY" "$SOCK" raw "$(head -c 70000 /dev/zero | tr '\0' ' ')")"
expect_contains "a line over 64 KiB is refused" "$(sed -n 1p <<<"$answers")" '65536'
expect_eq "and the connection is closed" "$(sed -n 2p <<<"$answers")" "<closed>"
expect_contains "the agent still serves others" "$(agent_lines '{"op":"ping"}')" '"ok":true'

flood="$("$PY" "$SOCK_PY" "$SOCK" flood 72)"
expect_eq "beyond max_connections (64), connections are refused in words" \
  "$(json_get "$flood" '[j.get("ok"), j.get("unavailable")]')" '[64, 8]'
expect_contains "the agent serves again after the flood" "$(agent_lines '{"op":"ping"}')" '"ok":true'

# --- another uid: refused by default, allowed by an [[allow]] rule after SIGHUP ---
as_nobody() { setpriv --reuid=65534 --regid=0 --clear-groups "$@"; }
out="$(as_nobody "$PY" "$SOCK_PY" "$SOCK" lines '{"op":"token","scopes":["altinn:instances.read"]}' 2>&1)"
expect_contains "another uid is refused with forbidden" "$out" '"error":"forbidden"'
expect_not_contains "and gets no token" "$out" 'access_token'

cp "$CONF" "$WORK/good.toml"
printf '\n[[allow]]\nuid = 65534\nclients = ["default"]\nscopes = ["altinn:instances.read"]\n' >>"$CONF"
kill -HUP "$AGENT_PID"
# The agent logs this line once the new configuration serves.
wait_for grep -q "reloaded the configuration" "$AGENT_LOG"
out="$(as_nobody "$PY" "$SOCK_PY" "$SOCK" lines '{"op":"token","scopes":["altinn:instances.read"]}' 2>&1)"
expect_contains "an [[allow]] rule lets that uid in after SIGHUP" "$out" '"ok":true'
out="$(as_nobody "$PY" "$SOCK_PY" "$SOCK" lines '{"op":"token","scopes":["altinn:enduser"]}' 2>&1)"
expect_contains "but only for the rule's scopes" "$out" '"error":"forbidden"'


echo 'this is = = not toml' >>"$CONF"
kill -HUP "$AGENT_PID"
wait_for grep -q "keeping" "$AGENT_LOG"
expect_contains "a broken file on SIGHUP is logged" "$(cat "$AGENT_LOG")" "keeping"
expect_contains "and the old configuration keeps serving" \
  "$(as_nobody "$PY" "$SOCK_PY" "$SOCK" lines '{"op":"token","scopes":["altinn:instances.read"]}' 2>&1)" '"ok":true'
# From here exchanges give up after 3 s, so that a failing refresh shows
# within a short token's life.
sed 's/^retry_deadline_seconds = 20/retry_deadline_seconds = 3/' "$WORK/good.toml" >"$CONF"
kill -HUP "$AGENT_PID"
reloaded_twice() { (($(grep -c "reloaded the configuration" "$AGENT_LOG") == 2)); }
wait_for reloaded_twice || not_ok "the agent reloads the 3 s retry deadline"

# --- idle clients are disconnected after 30 s (runs while the rest goes on) ---
"$PY" "$SOCK_PY" "$SOCK" idle 30 >"$WORK/idle.out" &
idle_pid=$!

# --- refresh ahead, and a failed refresh keeps serving the valid token ---
standin_control settings '{"token_lifetime": 9}' >/dev/null
# token_field JSON NAME: one field of a `token --json` answer.
token_field() { json_get "$1" "j[\"$2\"]"; }
short_json="$("$MPA_BIN" token --socket "$SOCK" --scope skatteetaten:test --min-ttl 0 --json)"
short="$(token_field "$short_json" access_token)"
before="$(received_count)"
# Within refresh_margin_seconds (5) of expiry, and past the first half of
# the token's life (before that the agent never refreshes).
wait_until_epoch "$(( $(token_field "$short_json" expires_at) - 4 ))"
misses_before="$(cache_misses)"
again="$("$MPA_BIN" token --socket "$SOCK" --scope skatteetaten:test --min-ttl 0)"
# The background refresh (every second) may already have replaced it: then
# the new token is the one served, and still from the cache.
expect_eq "within the margin a cached token is still served at once (no miss)" \
  "$(cache_misses)" "$misses_before"
[[ -n "$again" ]] && ok "within the margin a token is served" || not_ok "within the margin a token is served"
# The refresh starts at the first request after a random delay of up to
# margin/4; keep asking, as a busy client would.
refreshed() {
  [[ "$("$MPA_BIN" token --socket "$SOCK" --scope skatteetaten:test --min-ttl 0)" != "$short" ]]
}
wait_for refreshed && ok "a busy key gets its token refreshed ahead of expiry" \
  || not_ok "a busy key gets its token refreshed ahead of expiry"
expect_eq "by exactly one background exchange" "$(( $(received_count) - before ))" 1

fresh_json="$("$MPA_BIN" token --socket "$SOCK" --scope nav:test/api --min-ttl 0 --resource https://refresh.example --json)"
fresh="$(token_field "$fresh_json" access_token)"
fresh_expiry="$(token_field "$fresh_json" expires_at)"
standin_control fail '{"mode":"500","count":1000}' >/dev/null
wait_until_epoch "$((fresh_expiry - 4))"   # within the margin, as above
kept="$("$MPA_BIN" token --socket "$SOCK" --scope nav:test/api --min-ttl 0 --resource https://refresh.example)"
expect_eq "a failed refresh keeps serving the still valid token" "$kept" "$fresh"
refresh_failed() {
  "$MPA_BIN" token --socket "$SOCK" --scope nav:test/api --min-ttl 0 --resource https://refresh.example >/dev/null
  "$MPA_BIN" status --socket "$SOCK" --json | grep -q '"last_error":"'
}
wait_for refresh_failed && ok "the failed refresh is recorded" || not_ok "the failed refresh is recorded"
expect_contains "status shows the last error" "$("$MPA_BIN" status --socket "$SOCK" --json)" "500"
wait_until_epoch "$((fresh_expiry + 1))"   # the token has expired
out="$("$MPA_BIN" token --socket "$SOCK" --scope nav:test/api --min-ttl 0 --resource https://refresh.example 2>&1)" && rc=0 || rc=$?
expect_eq "once it expired, the client gets an error" "$rc" 1
expect_contains "unavailable, in words" "$out" "unavailable"
standin_control reset '{}' >/dev/null

wait "$idle_pid" || true
expect_contains "an idle client is disconnected" "$(cat "$WORK/idle.out")" "closed after"

# --- SIGTERM: graceful, socket removed, exit 0 ---
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && rc=0 || rc=$?
expect_eq "SIGTERM exits 0" "$rc" 0
[[ ! -e "$SOCK" ]] && ok "the socket is removed" || not_ok "the socket is removed"
expect_not_contains "the log never holds a whole token" "$(cat "$WORK"/agent.*.log)" "$token1"

# --- a live agent's socket is never stolen; a stale one is replaced ---
start_agent "$CONF"
first_pid="$AGENT_PID"
out="$("$MPA_BIN" run --config "$CONF" 2>&1)" && rc=0 || rc=$?
expect_eq "a second agent on the same socket exits 1" "$rc" 1
expect_contains "and says another agent is listening" "$out" "already"
kill -KILL "$first_pid"; wait "$first_pid" 2>/dev/null || true
[[ -S "$SOCK" ]] && ok "a killed agent leaves its socket file" || not_ok "a killed agent leaves its socket file"
start_agent "$CONF" && ok "a stale socket file is replaced" || not_ok "a stale socket file is replaced"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true

# --- descriptors: closed standard ones are reopened, inherited ones closed ---
"$MPA_BIN" run --config "$CONF" <&- >&- 2>&- 9<"$CONF" &
fd_pid=$!
track_pid "$fd_pid"
pinged() { agent_lines '{"op":"ping"}' | grep -q '"ok":true'; }
wait_for pinged && ok "started with stdin, stdout and stderr closed, the agent serves" ||
  not_ok "started with stdin, stdout and stderr closed, the agent serves"
expect_eq "its descriptors 0, 1 and 2 are /dev/null" \
  "$(readlink "/proc/$fd_pid/fd/0" "/proc/$fd_pid/fd/1" "/proc/$fd_pid/fd/2" | sort -u)" "/dev/null"
# (its number may be reused by the agent's own descriptors, e.g. a signer
# helper's socket: what must be gone is the file it pointed to)
inherited_open() { find "/proc/$fd_pid/fd" -lname "$CONF" | grep -q .; }
! inherited_open && ok "a descriptor inherited from its parent is closed" ||
  not_ok "a descriptor inherited from its parent is closed: $(find "/proc/$fd_pid/fd" -lname "$CONF")"
kill -TERM "$fd_pid"; wait "$fd_pid" 2>/dev/null || true

# --- socket activation ---
if command -v systemd-socket-activate >/dev/null; then
  act="$WORK/act.sock"
  systemd-socket-activate -E SOFTHSM2_CONF -l "$act" "$MPA_BIN" run --config "$CONF" 2>"$WORK/activate.log" &
  track_pid $!
  wait_for test -S "$act"
  SOCK="$act"
  expect_contains "socket activation: the agent answers on the passed socket" \
    "$(agent_lines '{"op":"token","scopes":["altinn:instances.read"]}')" '"ok":true'
fi

finish
