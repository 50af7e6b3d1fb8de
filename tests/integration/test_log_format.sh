# The JSON log format (issue 12, item 5), through the real agent: with
# [agent] log_format = "json" every stderr line is one JSON object with
# time (RFC 3339, UTC, milliseconds), level, program and message, also for
# messages with quotes, across a SIGHUP, for a failure to start and from
# the signer helper;
# `run --log-format` wins over the file, also on reload; no whole token in it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_token
start_standin

# json_log_problems FILE: prints "N records" when every line of FILE is a
# record with the four keys, else the first line that is not.
json_log_problems() {
  "$PY" - "$1" <<'PY'
import json, re, sys
stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
lines = open(sys.argv[1], "rb").read().split(b"\n")
if lines[-1] != b"":
    sys.exit("the last line has no line end: %r" % lines[-1])
for line in lines[:-1]:
    try:
        record = json.loads(line.decode("utf-8"))
    except ValueError as error:
        sys.exit("not JSON (%s): %r" % (error, line))
    if not isinstance(record, dict) or sorted(record) != ["level", "message", "program", "time"]:
        sys.exit("not the four keys: %r" % line)
    if not stamp.match(record["time"]) or record["program"] != "maskinporten-agent" \
            or record["level"] not in ("error", "warning", "info", "debug") \
            or not isinstance(record["message"], str):
        sys.exit("a value out of shape: %r" % line)
print(len(lines) - 1, "records")
PY
}
# messages_of FILE: the message of each JSON record, one a line.
messages_of() {
  "$PY" -c 'import json,sys
for line in open(sys.argv[1]): print(json.loads(line)["message"])' "$1"
}
log_has() { grep -qF -- "$2" "$1"; }

CONF="$WORK/agent.toml"
write_config "$CONF"
sed -i 's|^\(refresh_margin_seconds = 30\)|\1\nlog_format = "json"|' "$CONF"

out="$("$MPA_BIN" check-config --config "$CONF" 2>&1)" && rc=0 || rc=$?
expect_eq "check-config passes with log_format = \"json\"" "$rc" 0
expect_contains "and shows the format" "$out" "log format: json"
sed 's|^log_format = .*|log_format = "yaml"|' "$CONF" >"$WORK/yaml.toml"
out="$("$MPA_BIN" check-config --config "$WORK/yaml.toml" 2>&1)" && rc=0 || rc=$?
expect_eq "another log_format is refused in words" "$rc:$out" \
  "1:error: invalid_config: $WORK/yaml.toml:4: [agent] log_format: \"yaml\" is not a log format; use \"text\" (the default) or \"json\" (one JSON object per line)"
out="$("$MPA_BIN" run --config "$CONF" --log-format yaml 2>&1)" && rc=0 || rc=$?
expect_eq "run --log-format takes text or json only" "$rc:$(head -1 <<<"$out")" \
  "2:error: usage: --log-format takes text or json, not 'yaml'"
expect_contains "run --help names --log-format" "$("$MPA_BIN" run --help)" "--log-format F  text"

# --- the file's json: every line a record, debug lines, a reload and a broken reload ---
start_agent "$CONF" --verbose
JSON_LOG="$AGENT_LOG"
JSON_PID="$AGENT_PID"
token="$("$MPA_BIN" token --socket "$SOCK" --scope altinn:instances.read)"
agent_lines '{"op":"token","client":"nope","scopes":["altinn:enduser"]}' >/dev/null
kill -HUP "$JSON_PID"
wait_for log_has "$JSON_LOG" "reloaded the configuration" && ok "the agent reloads" || not_ok "the agent reloads"
cp "$CONF" "$WORK/good.toml"
cp "$WORK/yaml.toml" "$CONF"
kill -HUP "$JSON_PID"
wait_for log_has "$JSON_LOG" "reload failed" && ok "a broken file is refused on reload" \
  || not_ok "a broken file is refused on reload"
cp "$WORK/good.toml" "$CONF"
# Another agent on the same socket fails to start: in JSON too, with --log-format.
out="$("$MPA_BIN" run --config "$CONF" --log-format json 2>"$WORK/refused.log")" && rc=0 || rc=$?
expect_eq "a second agent on the socket does not start" "$rc" 1
expect_eq "and says why in one JSON record" "$(json_log_problems "$WORK/refused.log" 2>&1)" "1 records"
expect_contains "at level error with the code" \
  "$(json_get "$(cat "$WORK/refused.log")" 'j["level"] + " " + j["message"]')" "error "
"$MPA_BIN" status --socket "$SOCK" >/dev/null  # a debug line for the connection
helper="$(pgrep -P "$JSON_PID" -f 'signer-helper --fd' | head -1 || true)"
expect_eq "the signer helper is told to log JSON too" "$(tr '\0' ' ' <"/proc/$helper/cmdline")" \
  "maskinporten-agent signer-helper --fd 3 --log-format json "
printf '\377\377\377\377garbage' >"$WORK/garbage"
"$MPA_BIN" signer-helper --fd 3 --log-format json 3<"$WORK/garbage" 2>"$WORK/helper.log" && rc=0 || rc=$?
expect_eq "and then its own lines are records (a broken frame: exit 3, one error record)" \
  "$rc:$(json_log_problems "$WORK/helper.log" 2>&1):$(messages_of "$WORK/helper.log" | cut -c1-26)" \
  "3:1 records:signer helper: signer wire"

records="$(json_log_problems "$JSON_LOG" 2>&1)" && rc=0 || rc=$?
expect_eq "every stderr line is a JSON record with time, level, program and message" "$rc" 0
[[ $rc -eq 0 ]] || echo "$records" >&2
messages="$(messages_of "$JSON_LOG" 2>/dev/null || true)"
expect_contains "the ready line is one of them" "$messages" "ready: listening on $SOCK"
expect_contains "debug lines too (--verbose)" "$(grep '"level":"debug"' "$JSON_LOG" | head -1)" '"program":"maskinporten-agent"'
expect_contains "the refused reload's words, quotes and all, are in a record" "$messages" \
  '[agent] log_format: "yaml" is not a log format'
expect_not_contains "no whole token is logged" "$(cat "$JSON_LOG")" "$token"
expect_contains "only its reference" "$(cat "$JSON_LOG")" "sha256:"
kill "$JSON_PID"
wait_exit "$JSON_PID" 30 && expect_eq "the agent stops on SIGTERM" "$EXIT_RC" 0 \
  || not_ok "the agent stops on SIGTERM"
expect_eq "its last lines are records too" "$(json_log_problems "$JSON_LOG" 2>&1 | sed 's/[0-9]* records/N records/')" "N records"

# --- run --log-format text wins over the file's json, also after SIGHUP ---
start_agent "$CONF" --log-format text
kill -HUP "$AGENT_PID"
wait_for log_has "$AGENT_LOG" "reloaded the configuration" && ok "(the overridden agent reloads)" \
  || not_ok "(the overridden agent reloads)"
expect_eq "--log-format text: no line is JSON, before or after the reload" \
  "$(grep -c '^{' "$AGENT_LOG" || true)" 0
expect_contains "they are the text format's lines" "$(grep 'reloaded the configuration' "$AGENT_LOG")" \
  " maskinporten-agent info: reloaded the configuration from $CONF"
kill "$AGENT_PID"
wait_exit "$AGENT_PID" 30 || not_ok "the text agent stops"

# --- text in the file, json after SIGHUP ---
sed -i 's|^log_format = .*|log_format = "text"|' "$CONF"
start_agent "$CONF"
expect_contains "log_format = \"text\" logs text" "$(grep 'ready: listening' "$AGENT_LOG")" \
  " maskinporten-agent info: ready: listening on $SOCK"
sed -i 's|^log_format = .*|log_format = "json"|' "$CONF"
kill -HUP "$AGENT_PID"
wait_for log_has "$AGENT_LOG" "reloaded the configuration" && ok "(the text agent reloads)" \
  || not_ok "(the text agent reloads)"
expect_eq "after SIGHUP, log_format = \"json\" applies" \
  "$(json_get "$(grep 'reloaded the configuration' "$AGENT_LOG")" 'j["level"] + ": " + j["message"]')" \
  "info: reloaded the configuration from $CONF"

finish
