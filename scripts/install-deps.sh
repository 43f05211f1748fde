#!/bin/sh
# Installs the Debian 12 packages gptoss.cpp builds and tests with. Needs root (or sudo);
# does nothing when everything is already installed.
set -eu
PACKAGES="build-essential cmake pkg-config xz-utils
  nlohmann-json3-dev libcli11-dev libpcre2-dev libcurl4-openssl-dev libcpp-httplib-dev
  pybind11-dev python3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev"
missing=""
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node.js and npm drive the server's tests; a machine may already have them from another source
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
