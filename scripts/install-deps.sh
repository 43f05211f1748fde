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
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
