#!/usr/bin/env bash
# Installs every Debian package maskinporten-agent needs to build, test and
# run its demo, then builds it. Safe to run again: installed packages are
# skipped. Needs root (or sudo) for apt-get.
#
#   scripts/setup.sh            install packages, build ./build
#   MPA_SKIP_BUILD=1 scripts/setup.sh    only install packages
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build ccache git
  libp11-dev libp11-kit-dev libssl-dev openssl libcurl4-openssl-dev rapidjson-dev
  libboost-dev libboost-test-dev libtomlplusplus-dev
  softhsm2 opensc opensc-pkcs11 ca-certificates
  python3 python3-jwt python3-cryptography python3-prometheus-client curl
  clang libclang-rt-14-dev
  systemd libsystemd-dev util-linux socat lintian dpkg-dev file
  nodejs golang-go scdoc bash-completion
  swtpm tpm2-abrmd dbus libtss2-tcti-tabrmd0 tpm2-tools
  libtpm2-pkcs11-1 libtpm2-pkcs11-tools p11-kit p11-kit-modules
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ -z "${MPA_SKIP_BUILD:-}" ]]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build" -j"$(nproc)"
fi
