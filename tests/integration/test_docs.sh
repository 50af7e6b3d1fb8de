# What a newcomer reads: the man pages (built by CMake with scdoc), the bash
# completion, make-token.sh's help. Every command `--help` lists is in the
# man page and the completion, so neither falls behind the CLI.
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

finish
