#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# spdx.sh - put the SPDX license line on every source file that lacks it, or check that all
# have it.
#
#   scripts/spdx.sh           add the line where it is missing (touches only that line)
#   scripts/spdx.sh --check   list the files without it; exit 1 if there are any
#
# Source files: *.c *.h *.py *.sh *.js *.css *.html under src include tests bench fuzz scripts
# web python, and .ci/run. The line is the file's first line, as
#   /* SPDX-License-Identifier: Apache-2.0 */      C, headers, JavaScript, CSS
#   # SPDX-License-Identifier: Apache-2.0          Python, shell
#   <!-- SPDX-License-Identifier: Apache-2.0 -->   HTML
# except after a "#!" line or an HTML "<!DOCTYPE" line, which must stay first: then it is the
# second line.
set -eu
cd "$(dirname "$0")/.."
TAG="SPDX-License-Identifier: Apache-2.0"
check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "spdx.sh: unknown option '$1' (expected --check)" >&2; exit 2 ;;
esac

files() {
  find src include tests bench fuzz scripts web python -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.js' \
       -o -name '*.css' -o -name '*.html' \) -not -path '*/__pycache__/*' 2>/dev/null | sort
  [ -f .ci/run ] && echo .ci/run
  return 0
}

line_for() {
  case "$1" in
    *.c|*.h|*.js|*.css) echo "/* $TAG */" ;;
    *.html) echo "<!-- $TAG -->" ;;
    *) echo "# $TAG" ;;
  esac
}

missing=0
for f in $(files); do
  want=$(line_for "$f")
  first=$(sed -n 1p "$f")
  case "$first" in
    '#!'*|'<!DOCTYPE'*|'<!doctype'*) at=2 ;;
    *) at=1 ;;
  esac
  [ "$(sed -n "${at}p" "$f")" = "$want" ] && continue
  if [ "$check" = 1 ]; then
    echo "spdx.sh: $f: line $at is not '$want'" >&2
    missing=$((missing + 1))
    continue
  fi
  if [ "$at" = 1 ]; then
    if [ -s "$f" ]; then sed -i "1i\\
$want" "$f"; else echo "$want" > "$f"; fi
  else
    sed -i "1a\\
$want" "$f"
  fi
done
if [ "$check" = 1 ] && [ "$missing" -gt 0 ]; then
  echo "spdx.sh: $missing source files without the SPDX line (run scripts/spdx.sh)" >&2
  exit 1
fi
exit 0
