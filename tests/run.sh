#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test binary in DIR (optionally only names matching PATTERN), prints each
# PASS/FAIL line and ends with the closing line "N passed, N failed".
# A binary that crashes or exits non-zero without printing a FAIL counts as one failure.
set -u
dir=$1; pat=${2:-}
export TMPDIR=$(mktemp -d /tmp/synthloop-test.XXXXXX)
trap 'rm -rf "$TMPDIR"' EXIT
export SL_TEST_ROOT=$(pwd)
# commands run by tests record into a throwaway registry, never ./synthloop.db
export SYNTHLOOP_DB="$TMPDIR/synthloop.db"
: "${SL_BIN:=$(pwd)/build/synthloop}"; export SL_BIN
passed=0; failed=0
for t in "$dir"/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d|*.o) continue;; esac
  name=$(basename "$t")
  if [ -n "$pat" ] && [[ "$name" != *$pat* ]]; then continue; fi
  # SL_ONLY: space-separated list of test names to run (e.g. the small tests under valgrind)
  if [ -n "${SL_ONLY:-}" ] && [[ " $SL_ONLY " != *" $name "* ]]; then continue; fi
  # SL_WRAP: a command to run each test under (e.g. valgrind)
  out=$(${SL_WRAP:-} "$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^(PASS|FAIL|  )' || true
  p=$(printf '%s\n' "$out" | grep -c '^PASS ' || true)
  f=$(printf '%s\n' "$out" | grep -c '^FAIL ' || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL $name (exit status $rc)"
    printf '%s\n' "$out" | tail -20 | sed 's/^/  | /'
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
