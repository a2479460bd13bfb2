# Makefile - the whole build of verdict, one non-recursive GNU Makefile.
#
#   make / make all      build/verdict and build/test-unit
#   make test            install missing packages (when root), build, run every suite
#                        (the integration suite twice: embedded, then on the
#                        Redis and PostgreSQL of scripts/services.sh)
#   make check           the same as make test, for now
#   make unit            build and run the unit tests only
#   make bench           install missing packages, build, run bench/run.sh $(BENCH_ARGS)
#   make run             install missing packages, build, start verdict serve
#   make deps            install (root) or list every missing Debian package
#   make style           banned calls and clang-format (scripts/checksrc.sh)
#   make check-symbols   every global symbol of libverdict.a starts with vd_
#   make valgrind        the unit tests under valgrind
#   make clean
#
# Variables: CC (default cc), SANITIZE=address,undefined (objects go to
# build-san/ so they never mix with plain ones), WERROR=1 or CI=... for
# -Werror, V=1 to see full commands, CFLAGS/CPPFLAGS/LDFLAGS/LDLIBS appended.
#
# Layout: every object mirrors its source under $(BUILD)/, e.g.
# build/src/common/buf.o; src/*/*.c minus src/cmd/ goes into
# build/libverdict.a, which the binary and the unit tests link.

CC ?= cc
AR ?= ar
PKG_CONFIG ?= pkg-config
PKGS := libseccomp jansson libcrypto libmicrohttpd sqlite3 libsodium libcurl libpq hiredis

ifneq ($(strip $(SANITIZE)),)
BUILD ?= build-san
else
BUILD ?= build
endif

ifneq ($(V),1)
Q := @
else
Q :=
endif

# ---- flags -----------------------------------------------------------------

WARN := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wformat=2
ifneq ($(strip $(CI))$(filter 1 yes true,$(WERROR)),)
WARN += -Werror
endif

# isolate's hardening set, for every binary: stack protector and stack-clash
# probes against stack smashing and jumping the guard page, PIE + full RELRO
# + BIND_NOW so the GOT is read-only after start-up.
HARDEN_CFLAGS := -fstack-protector-strong -fstack-clash-protection -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now

ifneq ($(strip $(SANITIZE)),)
# Sanitizers want frame pointers and no optimiser cleverness; fortify is
# left out because its checked wrappers hide calls from ASan's interceptors.
OPT := -O1 -g -fno-omit-frame-pointer
SAN := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
FORTIFY :=
else
OPT := -O2 -g
SAN :=
# _FORTIFY_SOURCE only works with optimisation (-O2 above).
FORTIFY := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
endif

# Asked from pkg-config once, and only when a recipe needs them, so that
# `make deps` can install pkg-config first in the same run. Without
# pkg-config the usual names are a fair guess.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lseccomp -ljansson))$(PKG_LIBS)

ALL_CPPFLAGS = -D_GNU_SOURCE -Iinclude $(FORTIFY) $(CPPFLAGS)
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) $(HARDEN_CFLAGS) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(HARDEN_LDFLAGS) $(SAN) $(LDFLAGS)
ALL_LDLIBS = $(PKG_LIBS) -lpthread $(LDLIBS)

# ---- sources ---------------------------------------------------------------

LIB_SRC := $(sort $(filter-out src/cmd/%.c,$(wildcard src/*/*.c)))
CMD_SRC := $(sort $(wildcard src/cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
CMD_OBJ := $(call obj,$(CMD_SRC))
UNIT_OBJ := $(call obj,$(UNIT_SRC))
DEPS := $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)

LIB := $(BUILD)/libverdict.a
VERDICT := $(BUILD)/verdict
TEST_UNIT := $(BUILD)/test-unit

# ar names members by file name only: two sources with one name in
# different folders would silently replace each other in the archive.
DUP_NAMES := $(shell printf '%s\n' $(notdir $(LIB_SRC)) | sort | uniq -d)
ifneq ($(DUP_NAMES),)
$(error library sources share a file name ($(DUP_NAMES)); rename one)
endif

# ---- build -----------------------------------------------------------------

.DEFAULT_GOAL := all
.PHONY: fuzz all deps test check unit test-unit-run bench run style check-symbols valgrind clean

all: $(VERDICT) $(TEST_UNIT)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Rebuilt from scratch so that a deleted source leaves no stale member.
$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(VERDICT): $(CMD_OBJ) $(LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(ALL_LDLIBS)

$(TEST_UNIT): $(UNIT_OBJ) $(LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJ) $(LIB) $(ALL_LDLIBS)

-include $(DEPS)

# The OpenAPI document is compiled into the binary (.incbin in openapi.c),
# which -MMD cannot see.
$(BUILD)/src/api/openapi.o: docs/openapi.json

# ---- packages --------------------------------------------------------------

# scripts/deps.sh takes purposes (build, tests, bench, ...; none: all). As
# root it installs what is missing; otherwise it lists it. It is quick when
# nothing is missing (one dpkg-query, no apt).
deps:
	$(Q)bash scripts/deps.sh

# ---- run -------------------------------------------------------------------

# The sub-make runs after deps.sh so that a fresh machine has a compiler and
# pkg-config by the time anything is compiled.
test:
	$(Q)bash scripts/deps.sh build tests services
	$(Q)bash scripts/langs-install.sh --core
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tests/run-all.sh $(BUILD)

check: test

# The Redis and PostgreSQL tests run against the private services
# (scripts/services.sh); without them they skip, saying so.
unit test-unit-run: $(TEST_UNIT)
	$(Q)eval "$$(bash scripts/services.sh test-env)"; $(TEST_UNIT)

bench:
	$(Q)bash scripts/deps.sh build bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)if [ -x bench/run.sh ]; then bench/run.sh $(BENCH_ARGS); \
	elif [ -f bench/run.sh ]; then sh bench/run.sh $(BENCH_ARGS); \
	else echo "bench/run.sh does not exist yet: no benchmarks to run"; fi

# The core languages' toolchains too, so the server it starts can run
# what the README shows (quick when they are there). RUN_ARGS go to
# verdict serve, e.g. make run RUN_ARGS="--listen 0.0.0.0:8080".
run:
	$(Q)bash scripts/deps.sh build run
	$(Q)bash scripts/langs-install.sh --core
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/run.sh $(BUILD) -- $(RUN_ARGS)

# ---- checks ----------------------------------------------------------------

style:
	$(Q)bash scripts/deps.sh style
	$(Q)bash scripts/checksrc.sh

check-symbols: $(LIB) $(CMD_OBJ)
	$(Q)bash scripts/check-symbols.sh $(LIB) $(LIB_OBJ) $(CMD_OBJ)

# ---- fuzzing (clang's libFuzzer, with ASan and UBSan) --------------------
# Every tests/fuzz/fuzz_*.c is a target, linked with the library's sources
# built for it. `make fuzz` runs each for FUZZ_SECONDS on its checked-in
# corpus (read-only: new inputs go to a temporary directory).
FUZZ_SECONDS ?= 20
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all

build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard include/vd/*.h)
	$(Q)mkdir -p build-fuzz
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_FLAGS) $$($(PKG_CONFIG) --cflags $(PKGS)) -o $@ $< $(LIB_SRC) \
		$$($(PKG_CONFIG) --libs $(PKGS)) -lpthread

fuzz:
	$(Q)bash scripts/deps.sh build fuzz
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
	$(Q)set -e; for b in $(FUZZ_BIN); do \
		name=$${b#build-fuzz/fuzz_}; work=$$(mktemp -d); \
		echo "fuzz $$name: $(FUZZ_SECONDS) s"; \
		$$b -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 \
			$$work tests/fuzz/corpus/$$name 2>&1 | tail -n 2; \
		rm -rf $$work; \
	done

valgrind:
ifneq ($(strip $(SANITIZE)),)
	$(error make valgrind cannot run sanitizer builds; drop SANITIZE)
endif
	$(Q)bash scripts/deps.sh build valgrind
	$(Q)$(MAKE) --no-print-directory $(TEST_UNIT)
	$(Q)VD_UNDER_VALGRIND=1 VD_TEST_TIMEOUT_SCALE=10 valgrind --quiet --error-exitcode=1 --leak-check=full \
		--show-leak-kinds=definite,possible $(TEST_UNIT)

clean:
	rm -rf build build-san build-fuzz
