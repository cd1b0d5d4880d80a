# synthloop - plain Makefile front door.
#   make            build build/synthloop and build/libsynthloop.a
#   make test       build and run every test; ends with "N passed, N failed"
#   make shared     build build/libsynthloop.so (the Python binding's library, python/)
#   make demo       run the main job on built-in defaults
#   make bench      run the benchmarks (C against PyTorch, same machine, same run)
#   make fuzz       build the libFuzzer targets with clang and run each briefly
#   SANITIZE=1      build with AddressSanitizer + UBSan (into build-san/)
#   VALGRIND=1      `make test VALGRIND=1`: the small tests under valgrind (into build-vg/)
#   WERROR=1        warnings as errors (CI)

CC       ?= gcc
ifeq ($(CC),cc)
CC       := gcc
endif
PYTHON   ?= /usr/bin/python3
GIT_DESC := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

ifeq ($(SANITIZE),1)
BUILD    := build-san
# -march=native so that the code that runs in normal builds (the AVX-512 kernels of
# src/nn/gemm.c) is what gets sanitized; the portable fallback is built by VALGRIND=1
OPTFLAGS := -O1 -g -march=native -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
else ifeq ($(VALGRIND),1)
# valgrind 3.19 cannot execute AVX-512: no -march=native here, and OpenBLAS is pinned to
# its Haswell kernels at run time (tests/run.sh)
BUILD    := build-vg
OPTFLAGS := -O1 -g -fno-omit-frame-pointer
LDSAN    :=
else
BUILD    := build
OPTFLAGS := -O2 -g -march=native
LDSAN    :=
endif

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wdouble-promotion \
            -Wundef -Wwrite-strings -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN     += -Werror
endif
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := $(shell pkg-config --libs hdf5 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)

CPPFLAGS := -Iinclude -Isrc -I$(BUILD)/gen -I/usr/include/x86_64-linux-gnu/openblas-pthread \
            $(HDF5_CFLAGS) -D_GNU_SOURCE -MMD -MP
CFLAGS   := -std=c11 $(OPTFLAGS) -fopenmp $(WARN) $(EXTRA_CFLAGS)
LDLIBS   := -lopenblas -lmujoco -lsqlite3 -lcjson -lzip -lz $(HDF5_LIBS) -lmicrohttpd -lsodium \
            -lpthread -lm
LDFLAGS  := -fopenmp $(LDSAN)

LIB_SRC  := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
CMD_SRC  := $(wildcard src/cli/cmd_*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC:= $(wildcard bench/bench_*.c)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIB      := $(BUILD)/libsynthloop.a
BIN      := $(BUILD)/synthloop
DEPS_OK  := build/.deps-ok
# test references (torch, scipy, sklearn, h5py, chromium, wrk, valgrind, clang): `make test`,
# `make bench` and `make fuzz` only; `make` and `make demo` install build/run packages alone
DEPS_TEST_OK := build/.deps-test-ok

.PHONY: all test demo bench fuzz clean deps deps-test tests
.DEFAULT_GOAL := all

all: $(DEPS_OK) $(BIN) $(LIB)

# Install missing Debian packages once per machine (re-run when deps.sh changes).
$(DEPS_OK): scripts/deps.sh
	@mkdir -p build
	@scripts/deps.sh
	@touch $@
deps: $(DEPS_OK)
$(DEPS_TEST_OK): scripts/deps.sh
	@mkdir -p build
	@scripts/deps.sh --test
	@touch $@
deps-test: $(DEPS_TEST_OK)

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/commands.inc: $(CMD_SRC) scripts/gen_commands.sh
	@mkdir -p $(dir $@)
	@scripts/gen_commands.sh $@ $(CMD_SRC)

$(BUILD)/src/cli/main.o: $(BUILD)/gen/commands.inc

# The code version baked into the binary; rewritten only when `git describe` changes.
.PHONY: FORCE
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define SL_GIT_DESCRIBE "$(GIT_DESC)"' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/src/core/status.o: $(BUILD)/gen/version.h

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) tests/harness.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# --- shared library for the Python binding (python/synthloop, docs/PYTHON.md) -----------------
# The same library sources compiled again with -fPIC into $(BUILD)/pic/ (the static library
# keeps its non-PIC objects); `make shared` builds it, `make test` too (tests/test_python).
SHLIB    := $(BUILD)/libsynthloop.so
PIC_OBJ  := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)

$(BUILD)/pic/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@
$(BUILD)/pic/src/core/status.o: $(BUILD)/gen/version.h

$(SHLIB): $(PIC_OBJ)
	$(CC) -shared -Wl,-soname,libsynthloop.so -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: shared
shared: $(SHLIB)
# --- end shared library ------------------------------------------------------------------

tests: $(TEST_BIN) $(BIN) $(SHLIB)

# Run all tests (or only those matching T=pattern). Prints "N passed, N failed".
ifeq ($(VALGRIND),1)
# the small tests under valgrind (memcheck, definite leaks are errors); T= narrows further
VG_TESTS ?= test_core test_npz test_safetensors test_dataset test_dataset_npz test_stats \
            test_weight test_bricks test_import test_registry test_nn
test: $(DEPS_TEST_OK) all $(TEST_BIN) $(SHLIB)
	@SL_BUILD=$(BUILD) SL_BIN=$(abspath $(BIN)) PYTHON=$(PYTHON) SL_ONLY="$(VG_TESTS)" \
	  SL_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
	  OPENBLAS_CORETYPE=Haswell tests/run.sh $(BUILD)/tests $(T)
else
test: $(DEPS_TEST_OK) all $(TEST_BIN) $(SHLIB)
	@SL_BUILD=$(BUILD) SL_BIN=$(abspath $(BIN)) PYTHON=$(PYTHON) tests/run.sh $(BUILD)/tests $(T)
endif

demo: all
	@mkdir -p demo-out
	$(BIN) demo --out demo-out

bench: $(DEPS_TEST_OK) all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
fuzz: $(DEPS_TEST_OK)
	@scripts/fuzz.sh $(FUZZ_SRC)

clean:
	rm -rf build build-san build-vg demo-out

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PIC_OBJ:.o=.d)
