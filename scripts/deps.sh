#!/bin/sh
# Installs the Debian packages synthloop needs, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libopenblas-dev libmujoco-dev libsqlite3-dev sqlite3 libcjson-dev libzip-dev zlib1g-dev
libhdf5-dev libmicrohttpd-dev libsodium-dev
python3 python3-numpy python3-scipy python3-torch python3-h5py python3-sklearn
python3-pil chromium chromium-driver wrk valgrind"
missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing missing packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: not root; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2 || { echo "deps.sh: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2 || {
  echo "deps.sh: apt-get install failed for:$missing" >&2; exit 1; }
