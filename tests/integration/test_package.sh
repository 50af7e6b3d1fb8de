# The Debian package (issue 10): `cpack -G DEB` from the build folder
# gives a .deb that lintian finds no error in; `dpkg -i` installs the
# binary, the units, sysusers.d/tmpfiles.d files, the configuration as a
# conffile readable by the service's user, man pages and completion; purge
# removes it and the test leaves the machine as it found it (the account
# sysusers made is removed again when it was not there before).
# Needs root and no maskinporten-agent already installed; skips otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD="${MPA_BUILD_DIR:-$MPA_SOURCE_DIR/build}"
PACKAGE=maskinporten-agent
skip() {
  echo "skip - $1"
  finish
  exit 0
}
[[ $(id -u) -eq 0 ]] || skip "test_package needs root for dpkg -i (run as root to check the package)"
command -v dpkg >/dev/null || skip "no dpkg on this machine"
if grep -qE '^MPA_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  skip "a sanitizer build is not packaged; the normal build's run checks the package"
fi
if dpkg-query -W -f='${Status}' "$PACKAGE" 2>/dev/null | grep -q "installed"; then
  skip "$PACKAGE is already installed here; not touching it"
fi
[[ -e /etc/maskinporten-agent ]] && skip "/etc/maskinporten-agent exists; not touching an administrator's files"
had_account=no
getent passwd maskinporten-agent >/dev/null && had_account=yes
had_group=no
getent group maskinporten-agent >/dev/null && had_group=yes

# Whatever happens below, the machine is put back.
restore_machine() {
  if dpkg-query -W -f='${Status}' "$PACKAGE" 2>/dev/null | grep -q "installed\|config-files"; then
    dpkg --purge "$PACKAGE" >/dev/null 2>&1 || true
  fi
  [[ $had_account == no ]] && getent passwd maskinporten-agent >/dev/null && userdel maskinporten-agent 2>/dev/null
  [[ $had_group == no ]] && getent group maskinporten-agent >/dev/null && groupdel maskinporten-agent 2>/dev/null
  _cleanup
}
trap restore_machine EXIT

# --- the package ---
(cd "$BUILD" && cpack -G DEB -B "$WORK/deb" >"$WORK/cpack.log" 2>&1) || cat "$WORK/cpack.log" >&2
DEB="$(ls "$WORK"/deb/"$PACKAGE"_*.deb 2>/dev/null | head -1)"
[[ -n "$DEB" ]] && ok "cpack -G DEB makes $(basename "$DEB")" || { not_ok "cpack -G DEB makes a .deb"; finish; exit 1; }
fields="$(dpkg-deb -f "$DEB" Package Depends)"
expect_contains "its dependencies are computed (shlibdeps)" "$fields" "libc6"
expect_contains "including the libraries it links" "$fields" "libcurl4"
contents="$(dpkg-deb -c "$DEB")"
for path in ./usr/bin/maskinporten-agent ./lib/systemd/system/maskinporten-agent.service \
  ./lib/systemd/system/maskinporten-agent.socket ./usr/lib/sysusers.d/maskinporten-agent.conf \
  ./usr/lib/tmpfiles.d/maskinporten-agent.conf ./etc/maskinporten-agent/agent.toml \
  ./usr/share/bash-completion/completions/maskinporten-agent ./usr/share/doc/maskinporten-agent/copyright; do
  expect_contains "the package holds $path" "$contents" "$path"
done
expect_eq "agent.toml is a conffile" "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" \
  "/etc/maskinporten-agent/agent.toml"
if command -v lintian >/dev/null; then
  lintian --no-tag-display-limit "$DEB" >"$WORK/lintian.log" 2>&1 || true
  expect_eq "lintian finds no error" "$(grep -c '^E: ' "$WORK/lintian.log" || true)" "0"
  grep '^[EW]: ' "$WORK/lintian.log" | sed 's/^/# lintian: /' || true
else
  not_ok "lintian is installed (scripts/setup.sh installs it)"
fi

# --- installed ---
dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1 && ok "dpkg -i installs it" || { cat "$WORK/dpkg.log" >&2; not_ok "dpkg -i installs it"; }
expect_contains "maskinporten-agent --version runs from /usr/bin" "$(/usr/bin/maskinporten-agent --version 2>&1)" \
  "maskinporten-agent"
expect_eq "the service runs the installed binary" \
  "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' /lib/systemd/system/maskinporten-agent.service)" "/usr/bin/maskinporten-agent"
rc=0
out="$(systemd-analyze verify /lib/systemd/system/maskinporten-agent.service /lib/systemd/system/maskinporten-agent.socket 2>&1)" || rc=$?
expect_eq "systemd-analyze verify passes the installed units" "$rc:$out" "0:"
getent passwd maskinporten-agent >/dev/null && ok "postinst made the account (sysusers.d)" ||
  not_ok "postinst made the account (sysusers.d)"
expect_eq "the configuration is root:maskinporten-agent 0640" \
  "$(stat -c '%U:%G %a' /etc/maskinporten-agent/agent.toml)" "root:maskinporten-agent 640"
expect_eq "in a directory root:maskinporten-agent 0750" \
  "$(stat -c '%U:%G %a' /etc/maskinporten-agent)" "root:maskinporten-agent 750"
expect_eq "the state directory is the agent's, 0700" \
  "$(stat -c '%U %a' /var/lib/maskinporten-agent)" "maskinporten-agent 700"
as_service_user() { setpriv --reuid=maskinporten-agent --regid=maskinporten-agent --init-groups "$@"; }
as_service_user head -c0 /etc/maskinporten-agent/agent.toml 2>/dev/null &&
  ok "the service's user can read the configuration" || not_ok "the service's user can read the configuration"
# Outside systemd the example's pin_file ($CREDENTIALS_DIRECTORY/pin) is
# not set: an error that shows the file was read and parsed.
out="$(as_service_user /usr/bin/maskinporten-agent check-config --config /etc/maskinporten-agent/agent.toml 2>&1)" || true
expect_contains "the service's user gets as far as the file's contents" "$out" "CREDENTIALS_DIRECTORY"
if [[ -d "$BUILD/man" ]]; then
  [[ -e /usr/share/man/man1/maskinporten-agent.1 || -e /usr/share/man/man1/maskinporten-agent.1.gz ]] &&
    ok "the man page is installed" || not_ok "the man page is installed"
fi

# --- removed ---
dpkg -r "$PACKAGE" >>"$WORK/dpkg.log" 2>&1 && ok "dpkg -r removes it" || not_ok "dpkg -r removes it"
[[ ! -e /usr/bin/maskinporten-agent && ! -e /lib/systemd/system/maskinporten-agent.service ]] &&
  ok "the binary and units are gone" || not_ok "the binary and units are gone"
[[ -e /etc/maskinporten-agent/agent.toml ]] && ok "the conffile stays until purge" || not_ok "the conffile stays until purge"
dpkg --purge "$PACKAGE" >>"$WORK/dpkg.log" 2>&1 && ok "dpkg --purge purges it" || not_ok "dpkg --purge purges it"
[[ ! -e /etc/maskinporten-agent && ! -e /var/lib/maskinporten-agent ]] &&
  ok "purge leaves no configuration or state" || not_ok "purge leaves no configuration or state"
restore_machine
trap - EXIT
if [[ $had_account == no ]]; then
  getent passwd maskinporten-agent >/dev/null && not_ok "the account is gone again" || ok "the account is gone again"
fi
finish
