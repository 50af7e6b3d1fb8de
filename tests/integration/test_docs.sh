# What a newcomer reads: the man pages (built by CMake with scdoc), the bash
# completion, make-token.sh's help, the README's "Try it locally" block and
# docs/PROTOCOL.md's examples. Every command `--help` lists is in the man
# page and the completion, so neither falls behind the CLI; the README's
# block runs as it stands, and each protocol example is what a real agent
# answers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="${MPA_BUILD_DIR:-$MPA_SOURCE_DIR/build}"
COMPLETION="$MPA_SOURCE_DIR/docs/maskinporten-agent.bash-completion"

if command -v scdoc >/dev/null; then
  for page in maskinporten-agent.1 maskinporten-agent.toml.5; do
    [[ -s "$BUILD/man/$page" ]] && ok "$page is built" || not_ok "$page is built (cmake --build, target man)"
  done
  expect_contains "maskinporten-agent(1) has its NAME" "$(cat "$BUILD/man/maskinporten-agent.1")" "maskinporten-agent - Maskinporten access tokens"
else
  not_ok "scdoc is installed (scripts/setup.sh installs it)"
fi

commands="$("$MPA_BIN" --help | sed -n 's/^  \([a-z-]*\)  .*/\1/p')"
expect_contains "--help lists exec" "$commands" "exec"
for command in $commands; do
  expect_contains "the man page describes $command" "$(cat "$MPA_SOURCE_DIR/docs/maskinporten-agent.1.scd")" "*$command*"
done

# The completion, driven as bash drives it.
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _maskinporten_agent; echo "${COMPREPLY[*]}"' \
    _ "$COMPLETION" "$@"
}
offered="$(complete_words maskinporten-agent "")"
for command in $commands; do
  expect_contains "the completion offers $command" " $offered " " $command "
done
expect_eq "and each command's options" "$(complete_words maskinporten-agent token --for)" "--format"
expect_eq "and their values" "$(complete_words maskinporten-agent run --log-level w)" "warning"
expect_eq "run --log-format too" "$(complete_words maskinporten-agent run --log-format j)" "json"

help="$("$MPA_SOURCE_DIR/softhsm-fixtures/make-token.sh" --help)" && rc=0 || rc=$?
expect_eq "make-token.sh --help prints its own help" "$rc:$(head -1 <<<"$help")" "0:usage: softhsm-fixtures/make-token.sh DIR"
[[ ! -e ./--help ]] && ok "and makes no folder called --help" || not_ok "and makes no folder called --help"

# The README's "Try it locally" block, as a reader pastes it into a shell in
# the source folder: only the binary's path is the one this test was given.
quick_start="$(awk '/<!-- test_docs.sh: quick start -->/ { marked = 1; next }
  marked && /^```sh/ { inside = 1; next }
  inside && /^```/ { exit }
  inside' "$MPA_SOURCE_DIR/README.md")"
[[ -n "$quick_start" ]] && ok "README has its quick-start block" || not_ok "README has its quick-start block"
quick_start="${quick_start//build\/maskinporten-agent/\"\$MPA_BIN\"}"
mkdir -p "$WORK/quick"
quick_out="$(cd "$MPA_SOURCE_DIR" && MPA_BIN="$MPA_BIN" TMPDIR="$WORK/quick" timeout 120 bash -e -c \
  "trap 'kill \$(jobs -p) 2>/dev/null || true; wait' EXIT; trap 'exit 143' TERM
$quick_start" 2>"$WORK/quick.err")" && rc=0 || rc=$?
expect_eq "the quick-start block runs to its end" "$rc" "0"
[[ $rc -eq 0 ]] || { cat "$WORK/quick.err" >&2; cat "$WORK"/quick/*/agent.log "$WORK"/quick/*/standin/log >&2 2>/dev/null || true; }
expect_eq "it prints a token from the CLI and one from the Python client" \
  "$(grep -c '^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$' <<<"$quick_out")" "2"
expect_contains "and exec hands its command the token" "$quick_out" "the job has a token of "

# docs/PROTOCOL.md's examples against an agent with lib.sh's configuration.
make_token
start_standin
write_config "$WORK/agent.toml"
start_agent "$WORK/agent.toml"
"$PY" "$MPA_SOURCE_DIR/tests/integration/doc_examples.py" "$SOCK" "$MPA_SOURCE_DIR/docs/PROTOCOL.md" \
  >"$WORK/examples.out" 2>"$WORK/examples.err" && rc=0 || rc=$?
cat "$WORK/examples.out" "$WORK/examples.err"
expect_eq "every PROTOCOL.md example is what the agent answers" "$rc" "0"

finish
