# drivefs build. Plain GNU make; libraries via pkg-config; objects per flavour
# in $(B) (build/ by default, build/asan for `make asan`).

PKGS := fuse3 libcurl openssl jansson libxxhash
DEB_PKGS := build-essential pkg-config fuse3 libfuse3-dev libcurl4-openssl-dev \
	libssl-dev libjansson-dev libxxhash-dev python3 python3-pytest openssl curl \
	git tmux rclone
PYTHON := /usr/bin/python3

B ?= build
BIN ?= $(if $(filter build,$(B)),bin,$(B)/bin)
PREFIX ?= /usr/local

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wformat=2 -Wvla -fno-common
# OPT is the optimisation level; CFLAGS from the command line is added to,
# never replaces, the flags the project depends on (-Werror, -MMD).
OPT ?= -O2
override CFLAGS += -std=c11 -g $(OPT) -MMD -MP $(WARN) $(EXTRA_CFLAGS)
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

# Library: everything but the programs' main files.
LIB_DIRS := common drive oauth cache fs
LIB_SRCS := $(filter-out fs/main.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
LIB := $(B)/libdrivefs.a

PROGS := $(BIN)/drivefs $(BIN)/drivefs-status
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
TEST_TOOLS := $(patsubst %.c,$(B)/%,$(wildcard tests/tools/*.c))

.SECONDARY:

.PHONY: all test unit integ asan asan-canary deps fuzz-deps install demo clean \
	format check-deps lint bench fuzz
all: $(PROGS) $(TEST_TOOLS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BIN)/drivefs: $(B)/fs/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/drivefs-status: $(B)/tools/drivefs-status.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/unit/test_%: $(B)/tests/unit/test_%.o $(B)/tests/unit/unit.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Install what the build and the tests need, only when something is missing.
# Installs whichever of $(1) are missing (apt-get; sudo unless root).
define apt_install
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
			grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends $$missing </dev/null; \
	fi
endef

deps:
	$(call apt_install,$(DEB_PKGS))

fuzz-deps: deps
	$(call apt_install,$(FUZZ_DEB_PKGS))

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

integ: all
	DRIVEFS_BIN=$(abspath $(BIN)) DRIVEFS_TOOLS=$(abspath $(B)/tests/tools) \
		$(PYTHON) -m pytest -q -p no:cacheprovider --confcutdir=tests tests/integration \
		$(PYTEST_ARGS)

test: deps
	$(MAKE) check-deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integ

asan: deps
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(MAKE) B=build/asan EXTRA_CFLAGS="$(SAN)" LDFLAGS="$(SAN)" \
		OPT=-O1 all unit integ

# A planted heap overflow that ASan must catch: proves `make asan` would see one.
asan-canary:
	@mkdir -p build/canary
	printf '#include <stdlib.h>\nint main(void){char *p=malloc(4);p[4]=1;free(p);return 0;}\n' > build/canary/c.c
	$(CC) $(SAN) -o build/canary/c build/canary/c.c
	@if build/canary/c 2>/dev/null; then echo "ASan missed the canary"; exit 1; \
	else echo "ASan caught the canary"; fi

# libFuzzer targets for the parsers (tests/fuzz/fuzz_*.c), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
FUZZ_SRCS := $(wildcard common/*.c drive/*.c oauth/*.c)
FUZZ_DEB_PKGS := clang libclang-rt-14-dev
fuzz: fuzz-deps
	@mkdir -p build/fuzz
	@for f in tests/fuzz/fuzz_*.c; do \
		t=build/fuzz/$$(basename $$f .c); \
		clang -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) \
			-o $$t $$f $(FUZZ_SRCS) $(LDLIBS) || exit 1; \
		mkdir -p $$t.corpus; \
		$$t -max_total_time=$(FUZZ_SECONDS) $$t.corpus || exit 1; \
	done

# Include lines must follow the layer graph in STYLE.md section 1.
check-deps:
	@$(PYTHON) tools/check_deps.py

format:
	@files=$$(git diff --name-only --diff-filter=ACM HEAD -- '*.c' '*.h'; \
		git ls-files --others --exclude-standard -- '*.c' '*.h'); \
	[ -z "$$files" ] || clang-format -i $$files

lint: check-deps
	cppcheck --quiet --error-exitcode=1 --std=c11 -I. \
		--suppress=missingIncludeSystem $(LIB_DIRS) tools

# Binaries, man pages and the systemd user unit (drivefs@.service, with its
# ExecStart pointing at $(PREFIX)/bin). DESTDIR stages a package.
MANDIR ?= $(PREFIX)/share/man
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(USERUNITDIR)
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/drivefs.1 docs/drivefs-status.1 \
		$(DESTDIR)$(MANDIR)/man1/
	sed 's|@BINDIR@|$(PREFIX)/bin|g' tools/systemd/drivefs@.service \
		> $(DESTDIR)$(USERUNITDIR)/drivefs@.service
	chmod 0644 $(DESTDIR)$(USERUNITDIR)/drivefs@.service

demo: deps all
	@tools/demo.sh

# Issue 8's workloads on the emulator (RTT_MS=50, BW=200 MB/s) against a local
# directory; BENCH_SCALE=0.01 for a quick run, RCLONE=1 to add rclone mount.
# Prints the table and writes bench/results.json (docs/PERFORMANCE.md).
bench: all
	RTT_MS="$(RTT_MS)" BW="$(BW)" BENCH_SCALE="$(BENCH_SCALE)" \
		RCLONE="$(RCLONE)" DRIVEFS_BIN=$(abspath $(BIN)) \
		$(PYTHON) tools/bench.py

clean:
	rm -rf build bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)
