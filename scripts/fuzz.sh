#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz.sh - build and briefly run libFuzzer targets (what `make fuzz` runs).
#
#   scripts/fuzz.sh fuzz/fuzz_npz.c fuzz/fuzz_safetensors.c ...
#
# Each fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput. It is built with clang and
# -fsanitize=fuzzer,address,undefined against every library source (src/*/*.c except src/cli),
# with the Makefile's include paths and libraries, into build/fuzz/. The corpus directory
# fuzz/corpus-<name>/ (gitignored) is seeded from fuzz/seeds/<name>/ when present; an optional
# fuzz/<name>.dict is passed as a libFuzzer dictionary. Each target runs FUZZ_TIME seconds
# (default 20). Crash inputs land in build/fuzz/artifacts-<name>/.
# Environment: CLANG (default clang), FUZZ_TIME, FUZZ_JOBS (parallel compiles, default 2),
# FUZZ_MAX_LEN (default 8192), FUZZ_MALLOC_MB (largest single allocation allowed, default 256).
# Exit status: 0 if every target built and ran without a finding, 1 otherwise.
set -u
cd "$(dirname "$0")/.." || exit 1

CLANG=${CLANG:-clang}
FUZZ_TIME=${FUZZ_TIME:-20}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-8192}
FUZZ_MALLOC_MB=${FUZZ_MALLOC_MB:-256}
OUT=build/fuzz

if [ $# -eq 0 ]; then
  echo "usage: scripts/fuzz.sh fuzz/fuzz_NAME.c ..." >&2
  exit 2
fi
if ! command -v "$CLANG" >/dev/null; then
  echo "fuzz.sh: $CLANG not found (install clang and libclang-rt-dev)" >&2
  exit 1
fi

HDF5_CFLAGS=$(pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS=$(pkg-config --libs hdf5 2>/dev/null || echo "-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5")
GIT_DESC=$(git describe --always --dirty 2>/dev/null || echo unknown)
CPPFLAGS="-Iinclude -Isrc -I$OUT/gen -I/usr/include/x86_64-linux-gnu/openblas-pthread $HDF5_CFLAGS -D_GNU_SOURCE"
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -fopenmp -Wno-unused-command-line-argument"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
LDLIBS="-lopenblas -lmujoco -lsqlite3 -lcjson -lzip -lz $HDF5_LIBS -lmicrohttpd -lsodium -lpthread -lm"

mkdir -p "$OUT/gen" "$OUT/obj"
echo "#define SL_GIT_DESCRIBE \"$GIT_DESC\"" > "$OUT/gen/version.h.tmp"
if cmp -s "$OUT/gen/version.h.tmp" "$OUT/gen/version.h"; then rm -f "$OUT/gen/version.h.tmp"
else mv "$OUT/gen/version.h.tmp" "$OUT/gen/version.h"; fi

# --- library objects (instrumented for coverage), rebuilt when the source or any header is newer
newest_hdr=$(find include src -name '*.h' -newer "$OUT/.lib-stamp" 2>/dev/null | head -1)
[ -f "$OUT/.lib-stamp" ] || newest_hdr=all
lib_src=$(ls src/*/*.c | grep -v '^src/cli/')
todo=()
for s in $lib_src; do
  o="$OUT/obj/${s%.c}.o"
  if [ -n "$newest_hdr" ] || [ ! -f "$o" ] || [ "$s" -nt "$o" ]; then todo+=("$s"); fi
done
compile_one() {
  local s=$1 o="$OUT/obj/${1%.c}.o"
  mkdir -p "$(dirname "$o")"
  $CLANG $CPPFLAGS $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$s" -o "$o" 2> "$o.log" ||
    { echo "fuzz.sh: compiling $s failed:" >&2; cat "$o.log" >&2; return 1; }
}
export -f compile_one
export OUT CLANG CPPFLAGS CFLAGS SAN
if [ ${#todo[@]} -gt 0 ]; then
  echo "fuzz.sh: compiling ${#todo[@]} library sources with $CLANG"
  printf '%s\n' "${todo[@]}" | xargs -P "$FUZZ_JOBS" -I{} bash -c 'compile_one {}' || exit 1
fi
touch "$OUT/.lib-stamp"
objs=$(for s in $lib_src; do echo "$OUT/obj/${s%.c}.o"; done)

# --- targets
status=0
summary=()
for src in "$@"; do
  name=$(basename "$src" .c); name=${name#fuzz_}
  bin="$OUT/fuzz_$name"
  echo "== fuzz_$name: building"
  if ! $CLANG $CPPFLAGS $CFLAGS $SAN -fsanitize=fuzzer -o "$bin" "$src" $objs $LDLIBS; then
    summary+=("fuzz_$name: BUILD FAILED"); status=1; continue
  fi
  corpus="fuzz/corpus-$name"
  mkdir -p "$corpus" "$OUT/artifacts-$name"
  dirs=("$corpus")
  [ -d "fuzz/seeds/$name" ] && dirs+=("fuzz/seeds/$name")
  dict=()
  [ -f "fuzz/$name.dict" ] && dict=("-dict=fuzz/$name.dict")
  echo "== fuzz_$name: running ${FUZZ_TIME}s on ${dirs[*]}"
  log="$OUT/fuzz_$name.log"
  # Exit codes: 0 = no finding. Anything else = crash, leak, timeout or OOM (see the log).
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" -max_total_time="$FUZZ_TIME" -max_len="$FUZZ_MAX_LEN" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb="$FUZZ_MALLOC_MB" -print_final_stats=1 \
      -artifact_prefix="$OUT/artifacts-$name/" "${dict[@]}" "${dirs[@]}" > "$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' || true)
  if [ $rc -eq 0 ]; then
    summary+=("fuzz_$name: OK, ${runs:-?} runs, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) files")
  else
    summary+=("fuzz_$name: FINDING (exit $rc), see $log and $OUT/artifacts-$name/")
    grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" | head -5 | sed 's/^/   /'
    status=1
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
