# vc: build, run and test the video-consultation servers (see README.md).

BUILD ?= build
OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin
TBIN := $(BUILD)/tests

CC ?= cc
OPT ?= -O2 -g
SAN ?=
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wno-missing-field-initializers
PKGS := openssl jansson sqlite3 libpq
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -Iinclude -D_GNU_SOURCE
CFLAGS += -std=gnu11 $(OPT) $(WARN) $(SAN) -fno-strict-aliasing -MMD -MP $(PKG_CFLAGS)
LDFLAGS += $(SAN)
LDLIBS += $(PKG_LIBS) -lpthread

# eBPF (src/bpf/*.bpf.c): compiled with clang -target bpf, embedded into vc-turn as skeletons that
# `bpftool gen skeleton` writes into $(BUILD)/bpf, loaded with libbpf. Without clang, bpftool or
# libbpf (or with HAVE_BPF=0) vc-turn builds without them and relays in user space only.
BPF_CLANG ?= clang
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
HAVE_BPF ?= $(shell pkg-config --exists libbpf 2>/dev/null && command -v $(BPF_CLANG) >/dev/null \
	&& [ -x $(BPFTOOL) ] && echo 1 || echo 0)
BPF_SRCS := $(wildcard src/bpf/*.bpf.c)
BPF_SKELS := $(patsubst src/bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
ifeq ($(HAVE_BPF),1)
CPPFLAGS += -DVC_HAVE_BPF -I$(BUILD)/bpf
BPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null)
else
BPF_SKELS :=
endif
CPPFLAGS += -Isrc/bpf

# Libraries: common helpers, the STUN codec, the TURN protocol core (no sockets), the daemon.
LIB_COMMON := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/common/*.c))
LIB_STUN := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/stun/*.c))
LIB_POLICY := $(OBJ)/turn/policy.o
LIB_TURN := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/turn/*.c))
TURND_OBJS := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/turnd/*.c))
TURND_LIB := $(filter-out $(OBJ)/turnd/main.o,$(TURND_OBJS))
LIB_SIGNAL := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/signal/*.c))
SIGNALD_OBJS := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/signald/*.c))
LWS_LIBS = $(shell pkg-config --libs libwebsockets 2>/dev/null)
CURL_LIBS = $(shell pkg-config --libs libcurl 2>/dev/null)
LOAD_OBJS := $(patsubst src/%.c,$(OBJ)/%.o,$(wildcard src/load/*.c))
LOAD_PKGS := nice glib-2.0 gio-2.0 libsrtp2 nss

# Unit tests: tests/unit/test_NAME.c becomes $(TBIN)/test_NAME, linked with what it needs.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(TBIN)/%,$(UNIT_SRCS))
TEST_LINK_addr := $(LIB_COMMON)
TEST_LINK_config := $(LIB_COMMON)
TEST_LINK_log := $(LIB_COMMON)
TEST_LINK_stun := $(LIB_COMMON) $(LIB_STUN)
TEST_LINK_policy := $(LIB_COMMON) $(LIB_POLICY)
TEST_LINK_sigmsg := $(LIB_COMMON) $(OBJ)/signal/sigmsg.o $(OBJ)/signal/jsonscan.o
TEST_LINK_useragent := $(LIB_COMMON) $(OBJ)/signal/useragent.o
TEST_LINK_accounts := $(OBJ)/tests/unit/store_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_hub := $(OBJ)/tests/unit/hub_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_watch := $(OBJ)/tests/unit/hub_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_record := $(OBJ)/tests/unit/hub_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_roomindex := $(OBJ)/tests/unit/hub_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_callsum := $(OBJ)/tests/unit/hub_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_members := $(OBJ)/tests/unit/hub_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_sigapi := $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_teams := $(OBJ)/tests/unit/store_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_store := $(OBJ)/tests/unit/store_fixture.o $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_reports := $(OBJ)/tests/unit/store_fixture.o $(OBJ)/tests/unit/hub_fixture.o \
	$(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_turnpool := $(LIB_COMMON) $(LIB_SIGNAL)
TEST_LINK_random := $(LIB_COMMON)
TEST_LINK_prom := $(LIB_COMMON)
TEST_LINK_cidr := $(LIB_COMMON)
TEST_LINK_secret := $(LIB_COMMON)
TEST_LINK_httpframe := $(OBJ)/signald/httpframe.o
TEST_LINK_workq := $(OBJ)/signald/workq.o
TEST_LINK_static := $(OBJ)/signald/static.o
TEST_LINK_whsign := $(OBJ)/signald/whsign.o $(LIB_COMMON)
TEST_LINK_whevent := $(OBJ)/signald/whevent.o $(LIB_COMMON)
TEST_LINK_whq := $(OBJ)/signald/whq.o $(OBJ)/signald/whstore.o $(LIB_COMMON)
TEST_LINK_branding := $(OBJ)/signald/branding.o $(OBJ)/signal/sigmsg.o $(OBJ)/signal/jsonscan.o \
	$(LIB_COMMON)
$(TBIN)/test_branding: LDLIBS += -lm
TEST_LINK_relayhist := $(OBJ)/load/relay_stats.o $(OBJ)/load/relay_hist.o $(LIB_COMMON)
$(TBIN)/test_relayhist: LDLIBS += -lm
TEST_LINK_default := $(OBJ)/tests/unit/turn_fixture.o $(LIB_COMMON) $(LIB_STUN) $(LIB_TURN)

# Interop helpers built from tests/interop/*.c (libnice and friends), linked per program.
NICE_PKGS := nice glib-2.0 gio-2.0
INTEROP_BINS := $(patsubst tests/interop/%.c,$(TBIN)/%,$(wildcard tests/interop/*.c))

BINS := $(BIN)/vc-turn $(BIN)/vc-signal $(BIN)/vc-load
VERSION := $(shell sed -n 's/^\#define VC_VERSION "\(.*\)"/\1/p' include/vc/version.h)

# Man pages: man/NAME.SECTION.in (prose) with the options of the binary NAME merged in.
MAN_PAGES := $(BUILD)/man/vc-turn.8 $(BUILD)/man/vc-signal.8 $(BUILD)/man/vc-load.1

# Where `make install` puts things (DESTDIR is prepended to each). The units and example
# configs name the /usr/local layout; install rewrites those paths for PREFIX.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(BINDIR)
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/vc
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: all deps certs run test test-faults test-kernel-soak unit asan tsan lint fuzz bench clean tests-build man \
	install deb
all: $(BINS) $(MAN_PAGES)

deps:
	@deploy/install-deps.sh $(DEPS_GROUP)

certs:
	@certs/gen-dev-certs.sh

$(OBJ)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The skeletons: the object, compiled for the BPF target, embedded in a header.
$(BUILD)/bpf/%.bpf.o: src/bpf/%.bpf.c $(wildcard src/bpf/*.h)
	@mkdir -p $(dir $@)
	$(BPF_CLANG) -target bpf -mcpu=v3 -O2 -g -Wall -Isrc/bpf \
		-I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu) -c -o $@ $<

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

$(OBJ)/turnd/steer.o $(OBJ)/turnd/fastpath.o: $(BPF_SKELS)

$(OBJ)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -c -o $@ $<

$(BIN)/vc-turn: $(OBJ)/turnd/main.o $(TURND_LIB) $(LIB_TURN) $(LIB_STUN) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BPF_LIBS) $(LDLIBS)

$(BIN)/vc-signal: $(SIGNALD_OBJS) $(LIB_SIGNAL) $(LIB_STUN) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LWS_LIBS) -lev -lhiredis $(CURL_LIBS) $(LDLIBS) -lm

$(OBJ)/load/%.o: CFLAGS += $(shell pkg-config --cflags $(LOAD_PKGS) 2>/dev/null)
$(BIN)/vc-load: $(LOAD_OBJS) $(LIB_STUN) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(LOAD_PKGS) 2>/dev/null) $(LWS_LIBS) -lev $(LDLIBS) -lm

.SECONDARY:
.SECONDEXPANSION:
$(TBIN)/test_%: $(OBJ)/tests/unit/test_%.o $(OBJ)/tests/unit/runner.o $$(or $$(TEST_LINK_$$*),$$(TEST_LINK_default))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ)/tests/interop/%.o: tests/interop/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags $(NICE_PKGS)) -c -o $@ $<

$(TBIN)/%: $(OBJ)/tests/interop/%.o $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(NICE_PKGS)) $(LDLIBS)

tests-build: $(BINS) $(MAN_PAGES) $(UNIT_BINS) $(INTEROP_BINS)

man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.in man/mkman.sh $$(BIN)/$$(basename $$*)
	@mkdir -p $(dir $@)
	man/mkman.sh $< $(BIN)/$(basename $*) $(VERSION) >$@.tmp && mv $@.tmp $@

# The three binaries, the web pages, man pages, docs, units, logrotate and example configs.
# A config already in $(SYSCONFDIR)/vc is kept: the example is an admin's starting point.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/vc $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -m 0755 $(BIN)/vc-load $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BIN)/vc-turn $(BIN)/vc-signal $(DESTDIR)$(SBINDIR)/
	cd src && find web -type f | while read -r f; do \
		install -D -m 0644 "$$f" "$(DESTDIR)$(DATADIR)/vc/$$f" || exit 1; done
	install -m 0644 $(BUILD)/man/vc-load.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/vc-turn.8 $(BUILD)/man/vc-signal.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/
	for f in deploy/systemd/*.service; do \
		$(INSTALL_PATHS) "$$f" >$(DESTDIR)$(UNITDIR)/$${f##*/} || exit 1; done
	for n in vc-turn vc-signal; do \
		$(INSTALL_PATHS) deploy/$$n.example.json >$(DESTDIR)$(DOCDIR)/examples/$$n.example.json; \
		t=$(DESTDIR)$(SYSCONFDIR)/vc/$$n.json; \
		if [ -e "$$t" ]; then echo "install: keeping $$t"; \
		else install -m 0644 $(DESTDIR)$(DOCDIR)/examples/$$n.example.json "$$t"; fi; done
	t=$(DESTDIR)$(SYSCONFDIR)/logrotate.d/vc; [ -e "$$t" ] || install -m 0644 deploy/logrotate/vc "$$t"
	chmod 0644 $(DESTDIR)$(UNITDIR)/vc-*.service

INSTALL_PATHS = sed -e 's|/usr/local/bin/|$(SBINDIR)/|g' -e 's|/usr/local/share/|$(DATADIR)/|g'

# The Debian package (debian/, dpkg-buildpackage) in build/deb/, from a copy of the tree: the
# tree stays clean and its build/obj untouched; objects are kept in build/deb/obj for next time.
deb:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=deb
	deploy/build-deb.sh $(BUILD)/deb

# The README's two commands. Both install what they need first.
run:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=run
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory all
	deploy/run-dev.sh $(BUILD)

test:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=test
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory tests-build
	tests/run.sh $(BUILD)

# The fault scenarios (tests/faults/): kill, reload, churn and a degraded network; a few minutes.
test-faults:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=test
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory tests-build
	tests/faults/run.sh $(BUILD)

# The kernel path's suite with its soak at 100,000 allocate/bind/delete cycles (make test runs
# 20,000): no relay_out or relay_in entry may be left behind.
test-kernel-soak:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=test
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory tests-build
	KERNEL_SOAK_CYCLES=100000 KERNEL_EXPIRY=0 timeout 1800 tests/integration/turn_kernel.sh

# Unit tests alone, without the interop suites.
unit: $(UNIT_BINS)
	tests/run.sh $(BUILD) unit

asan:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=test
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory tests-build BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run.sh build/asan

# vc-turn's worker threads under ThreadSanitizer (they hand allocations to each other), driven
# by the uninstrumented clients of the TURN suites; any report fails the suite's server checks.
TSAN_SUITES := load_relay turn_interop turn_nice
tsan:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=test
	@$(MAKE) --no-print-directory certs
	@$(MAKE) --no-print-directory tests-build
	@$(MAKE) --no-print-directory build/tsan/bin/vc-turn BUILD=build/tsan OPT="-O1 -g" \
		SAN="-fsanitize=thread"
	@fail=0; for t in $(TSAN_SUITES); do \
		echo "== tsan: $$t"; \
		VC_TURN_BIN=build/tsan/bin/vc-turn TSAN_OPTIONS=halt_on_error=0 \
			timeout 300 tests/integration/$$t.sh || fail=1; \
	done; exit $$fail

FUZZ_SECONDS ?= 60
fuzz:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS)

bench:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=bench
	@$(MAKE) --no-print-directory certs all
	bench/run.sh

LINT_FILES = $(shell git ls-files '*.c' '*.h')
BANNED := strcpy strcat sprintf vsprintf gets strtok atoi atol
lint:
	@$(MAKE) --no-print-directory deps DEPS_GROUP=lint
	clang-format --dry-run --Werror $(LINT_FILES)
	@bad=$$(grep -nwE '$(shell echo $(BANNED) | tr ' ' '|')' $(LINT_FILES) | grep -E '\b($(shell echo $(BANNED) | tr ' ' '|'))\s*\(' ); \
	if [ -n "$$bad" ]; then echo "banned functions:"; echo "$$bad"; exit 1; fi
	@echo "lint: clean"

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
