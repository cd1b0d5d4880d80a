#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages synthloop needs, if any are missing.
#
#   scripts/deps.sh              build and run dependencies (what `make` and `make demo` need)
#   scripts/deps.sh --test       the same plus the test references (what `make test`, `make
#                                bench` and `make fuzz` need: torch, scipy, sklearn, h5py,
#                                chromium, wrk, valgrind, clang for libFuzzer)
#   scripts/deps.sh --wait-lock  only wait for the package manager's locks, then exit
#                                (0 when free, 1 after DEPS_LOCK_WAIT seconds)
#
# As root it runs apt-get; otherwise it prints the exact command and fails. While another
# apt/dpkg holds its lock, it waits (at most DEPS_LOCK_WAIT seconds, default 600, with a
# message every 30 s) instead of failing. DEPS_LOCK_FILES overrides the lock files watched.
set -eu

# build and run: compiler, and the libraries the binary links
BUILD_PKGS="build-essential pkg-config
libopenblas-dev libmujoco-dev libsqlite3-dev libcjson-dev libzip-dev zlib1g-dev
libhdf5-dev libmicrohttpd-dev libsodium-dev"
# tests, benchmarks and fuzzing only: references and tools
TEST_PKGS="python3 python3-numpy python3-scipy python3-torch python3-h5py python3-sklearn
python3-pil sqlite3 chromium chromium-driver wrk valgrind clang libclang-rt-14-dev"

LOCK_WAIT=${DEPS_LOCK_WAIT:-600}
LOCK_FILES=${DEPS_LOCK_FILES:-"/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock
/var/lib/apt/lists/lock /var/cache/apt/archives/lock"}

# The first lock file some process holds (dpkg and apt take fcntl locks, listed in
# /proc/locks as MAJ:MIN:INODE), or nothing.
held_lock() {
  [ -r /proc/locks ] || return 0
  for f in $LOCK_FILES; do
    [ -e "$f" ] || continue
    ino=$(stat -c %i "$f" 2>/dev/null) || continue
    if awk -v ino="$ino" '{ n = split($0, w, " ");
          for (i = 1; i <= n; i++) if (w[i] ~ /^[0-9a-f]+:[0-9a-f]+:[0-9]+$/) {
            split(w[i], p, ":"); if (p[3] == ino) found = 1 } }
          END { exit found ? 0 : 1 }' /proc/locks; then
      echo "$f"
      return 0
    fi
  done
  return 0
}

# Wait until no lock is held; fails after LOCK_WAIT seconds.
wait_for_lock() {
  waited=0
  while f=$(held_lock) && [ -n "$f" ]; do
    if [ "$waited" -ge "$LOCK_WAIT" ]; then
      echo "deps.sh: $f is still held by another package manager after ${LOCK_WAIT}s;" \
           "try again when it has finished (or set DEPS_LOCK_WAIT)" >&2
      return 1
    fi
    if [ $((waited % 30)) -eq 0 ]; then
      echo "deps.sh: waiting for another package manager to release $f" \
           "(${waited}s of at most ${LOCK_WAIT}s)" >&2
    fi
    sleep 1
    waited=$((waited + 1))
  done
  return 0
}

PKGS=$BUILD_PKGS
case "${1:-}" in
  "") ;;
  --test) PKGS="$BUILD_PKGS $TEST_PKGS" ;;
  --wait-lock) wait_for_lock; exit $? ;;
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "deps.sh: unknown option '$1' (expected --test, --wait-lock or --help)" >&2; exit 2 ;;
esac

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
# apt's own lock timeout covers the moment between our check and its start
APT_LOCK="-o DPkg::Lock::Timeout=$LOCK_WAIT"
wait_for_lock
# shellcheck disable=SC2086
apt-get $APT_LOCK update -q >&2 || { echo "deps.sh: apt-get update failed" >&2; exit 1; }
wait_for_lock
# shellcheck disable=SC2086
apt-get $APT_LOCK install -y -q --no-install-recommends $missing >&2 || {
  echo "deps.sh: apt-get install failed for:$missing" >&2; exit 1; }
