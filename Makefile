# mamori top-level Makefile (GNU make).  Run ./configure first.
#
# Layout it builds from (add files, not rules):
#   src/*.c src/<module>/*.c   -> build/libmamoricore.a (everything but main, ctl and
#                                 the interposer)
#   src/main.c                 -> build/mamorid
#   src/mqtt/mqtt_interpose.c  -> build/mamorid only: it defines read/write/close for
#                                 the whole process (IO_INTERPOSE=no, or ./configure
#                                 --disable-io-interpose, leaves it out); no test, tool
#                                 or bench links it except its own test_mqtt_interpose
#   src/ctl/*.c                -> build/mamorictl
#   plugins/lib/*.c            -> build/libmamoriplugutil.a, linked into every plugin
#                                 (an archive: a plugin gets only the objects it uses;
#                                  plugins/lib/lib.mk may set PLUGIN_CFLAGS_lib)
#   plugins/<name>/*.c         -> build/plugins/<name>.so
#                                 (plugins/<name>/plugin.mk may set
#                                  PLUGIN_CFLAGS_<name> and PLUGIN_LIBS_<name>)
#   tests/unit/test_*.c        -> build/tests/test_* (check suites, one per module)
#   tests/integration/*.sh     -> run by tests/run-integration.sh
#   tests/bench/*.c            -> build/bench/* ; tests/bench/run.sh prints figures
#   tests/fuzz/fuzz_*.c        -> build/fuzz/replay_* (with tests/fuzz/replay.c; run by
#                                 `make unit` on the committed inputs) and, with clang
#                                 and libFuzzer, build-fuzz/fuzz/fuzz_* (`make fuzz`)

-include config.mk
ifeq ($(VERSION),)
$(error Run ./configure first)
endif

B := build
DESTDIR ?=

LIB_CFLAGS = $(EV_CFLAGS) $(CONFIG_CFLAGS) $(SQLITE_CFLAGS) $(SSL_CFLAGS) $(MOSQ_CFLAGS) \
	$(CJSON_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(CARES_CFLAGS) $(ARGON2_CFLAGS) \
	$(CAIRO_CFLAGS) $(PANGO_CFLAGS)
CORE_LIBS = $(EV_LIBS) $(CONFIG_LIBS) $(SQLITE_LIBS) $(SSL_LIBS) $(MOSQ_LIBS) $(CJSON_LIBS) \
	$(MHD_LIBS) $(CURL_LIBS) $(CARES_LIBS) $(ARGON2_LIBS) $(PANGO_LIBS) $(CAIRO_LIBS) \
	-lpthread -ldl -lm
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -I. -Iinclude -Isrc $(OPT) $(WARN) $(SAN) $(USER_CFLAGS) \
	-MMD -MP
ALL_CFLAGS = $(BASE_CFLAGS) $(LIB_CFLAGS)
ALL_LDFLAGS = $(SAN) $(USER_LDFLAGS)

INTERPOSE_SRCS := src/mqtt/mqtt_interpose.c
INTERPOSE_OBJS := $(INTERPOSE_SRCS:%.c=$(B)/obj/%.o)
CORE_SRCS := $(filter-out src/main.c src/ctl/% $(INTERPOSE_SRCS),$(wildcard src/*.c src/*/*.c))
CORE_OBJS := $(CORE_SRCS:%.c=$(B)/obj/%.o)
IO_INTERPOSE ?= yes
DAEMON_OBJS := $(B)/obj/src/main.o $(if $(filter yes,$(IO_INTERPOSE)),$(INTERPOSE_OBJS))
CTL_SRCS := $(wildcard src/ctl/*.c)
CTL_OBJS := $(CTL_SRCS:%.c=$(B)/obj/%.o)

PLUGUTIL_SRCS := $(wildcard plugins/lib/*.c)
PLUGUTIL_OBJS := $(PLUGUTIL_SRCS:%.c=$(B)/pobj/%.o)
PLUGINS := $(filter-out lib,$(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c)))))
PLUGINS := $(sort $(PLUGINS))
PLUGIN_SOS := $(PLUGINS:%=$(B)/plugins/%.so)
-include $(wildcard plugins/*/plugin.mk plugins/lib/lib.mk)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(B)/obj/%.o)
TESTPLUG_SRCS := $(wildcard tests/plugins/*.c)
TESTPLUG_SOS := $(TESTPLUG_SRCS:tests/plugins/%.c=$(B)/tests/plugins/%.so)
# Check plugins built against an older plugin header (tests/plugins/abi-X.Y/):
# a newer core must load them unchanged.
TESTPLUG_OLD_SRCS := $(wildcard tests/plugins/abi-*/*.c)
TESTPLUG_SOS += $(patsubst %.c,$(B)/tests/plugins/%.so,$(notdir $(TESTPLUG_OLD_SRCS)))
IT_SRCS := $(wildcard tests/integration/*.c)
IT_BINS := $(IT_SRCS:tests/integration/%.c=$(B)/tests/it/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(B)/bench/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_REPLAY_BINS := $(FUZZ_NAMES:%=$(B)/fuzz/replay_%)
FUZZ_BINS := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)
TOOL_SRCS := $(wildcard contrib/*/*.c)
TOOL_BINS := $(patsubst %.c,$(B)/tools/%,$(notdir $(filter-out contrib/plugin-skeleton/%,$(TOOL_SRCS))))

WWW_VENDOR := share/mamori/www/vendor/chart.min.js

.PHONY: all check lint unit integration bench install uninstall clean distclean format format-check demo \
	fuzz fuzz-build check-valgrind soak check-security
all: $(B)/mamorid $(B)/mamorictl $(PLUGIN_SOS) $(TOOL_BINS) $(WWW_VENDOR)

# The dashboard's chart library (doc/dashboard.md): Debian's Chart.js 3
# (libjs-chart.js, found by configure), its one-file UMD build copied into
# the served tree - no CDN, the page works offline, and install copies it
# with the rest of share/mamori.  Not in git (.gitignore).
$(WWW_VENDOR): $(CHARTJS) config.mk
	@mkdir -p $(dir $@)
	head -c 400 $(CHARTJS) | grep -q 'Chart\.js v3\.' || { echo "$(CHARTJS): not Chart.js 3" >&2; exit 1; }
	cp $(CHARTJS) $@.tmp
	chmod 644 $@.tmp
	mv $@.tmp $@

$(B)/obj/%.o: %.c buildcfg.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/pobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) $(SNMP_CFLAGS) -fPIC -fvisibility=hidden $(PLUGIN_CFLAGS_$(word 2,$(subst /, ,$<))) -c -o $@ $<

$(B)/libmamoricore.a: $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(B)/libmamoriplugutil.a: $(PLUGUTIL_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The stamp names the IO_INTERPOSE setting: changing it relinks mamorid.
$(B)/mamorid: $(DAEMON_OBJS) $(B)/libmamoricore.a $(B)/io-interpose-$(IO_INTERPOSE)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(B)/io-interpose-%,$^) $(CORE_LIBS)

# The names of the shipped plugins (plugins/<name>/) are stamped into the
# loader: shipped ones run in-process by default, others isolated
# (src/plugin/loader.h).  The stamp file names the list's hash, so a new
# plugin directory recompiles the loader.
SHIPPED_STAMP := $(B)/shipped-$(firstword $(shell printf '%s' '$(PLUGINS)' | md5sum))
$(B)/obj/src/plugin/loader.o: USER_CFLAGS += -DMAMORI_SHIPPED_PLUGINS='"$(PLUGINS)"'
$(B)/obj/src/plugin/loader.o: $(SHIPPED_STAMP)
$(SHIPPED_STAMP):
	@mkdir -p $(dir $@)
	rm -f $(B)/shipped-*
	touch $@

$(B)/io-interpose-$(IO_INTERPOSE):
	@mkdir -p $(dir $@)
	rm -f $(B)/io-interpose-*
	touch $@

$(B)/mamorictl: $(CTL_OBJS) $(B)/libmamoricore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

# Each plugin: its own objects + the shared plugin helpers, hidden visibility,
# only mamori_plugin_v1 exported.
define plugin_rule
$(B)/plugins/$(1).so: $(patsubst %.c,$(B)/pobj/%.o,$(wildcard plugins/$(1)/*.c)) $(B)/libmamoriplugutil.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -shared -o $$@ $$^ $$(PLUGIN_LIBS_$(1))
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rule,$(p))))

$(B)/tests/plugins/%.so: tests/plugins/%.c include/mamori/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fPIC -fvisibility=hidden -shared -o $@ $< $(ALL_LDFLAGS)

define oldplug_rule
$(B)/tests/plugins/$(notdir $(basename $(1))).so: $(1) $(dir $(1))mamori/plugin.h
	@mkdir -p $$(dir $$@)
	$$(CC) -I$(dir $(1)) $$(BASE_CFLAGS) -fPIC -fvisibility=hidden -shared -o $$@ $$< $$(ALL_LDFLAGS)
endef
$(foreach p,$(TESTPLUG_OLD_SRCS),$(eval $(call oldplug_rule,$(p))))

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(TESTLIB_OBJS) $(B)/libmamoricore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(CORE_LIBS)
# The interposer's own suite is the one test that links it.
$(B)/tests/test_mqtt_interpose: $(B)/obj/tests/unit/test_mqtt_interpose.o $(TESTLIB_OBJS) \
		$(INTERPOSE_OBJS) $(B)/libmamoricore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(CORE_LIBS)
$(B)/obj/tests/unit/%.o: tests/unit/%.c buildcfg.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

# Drivers the integration tests run: a core without mamorid's front ends.
$(B)/tests/it/%: $(B)/obj/tests/integration/%.o $(TESTLIB_OBJS) $(B)/libmamoricore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(B)/bench/%: $(B)/obj/tests/bench/%.o $(TESTLIB_OBJS) $(B)/libmamoricore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

# Fuzz targets: one file each, linked with the replayer here and with
# libFuzzer in the fuzz build.  Plugins' pure files are included by the
# targets themselves (as the unit tests do); Net-SNMP only for the snmp one.
$(B)/obj/tests/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz.h buildcfg.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<
$(B)/fuzz/replay_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/obj/tests/fuzz/replay.o $(B)/libmamoricore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FUZZ_LIBS) $(CORE_LIBS)
$(B)/fuzz/fuzz_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/libmamoricore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS) $(CORE_LIBS)
$(B)/obj/tests/fuzz/fuzz_snmp.o: FUZZ_CFLAGS = $(SNMP_CFLAGS)
$(B)/fuzz/replay_snmp $(B)/fuzz/fuzz_snmp: FUZZ_LIBS = $(SNMP_LIBS)
.SECONDARY: $(FUZZ_NAMES:%=$(B)/obj/tests/fuzz/fuzz_%.o) $(B)/obj/tests/fuzz/replay.o

define tool_rule
$(B)/tools/$(notdir $(basename $(1))): $(B)/obj/$(basename $(1)).o $(B)/libmamoricore.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(CORE_LIBS)
endef
$(foreach t,$(filter-out contrib/plugin-skeleton/%,$(TOOL_SRCS)),$(eval $(call tool_rule,$(t))))

unit: $(UNIT_BINS) $(TESTPLUG_SOS) $(PLUGIN_SOS) $(FUZZ_REPLAY_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS) $(FUZZ_REPLAY_BINS)

# libFuzzer: every target for FUZZ_SECONDS each (FUZZ_TARGETS="a b" for
# some), in its own build with clang (Debian: clang, libclang-rt-14-dev);
# fails on any crash, leak, sanitizer report or broken promise, and copies
# the input into tests/fuzz/regress/<target>/.  See doc/fuzzing.md.
# FUZZ_SECONDS defaults to FUZZ_BUDGET split evenly over all targets (at
# least 1 s each): a new target shortens the others' runs instead of
# lengthening CI.
FUZZ_BUDGET ?= 264
FUZZ_SECONDS ?= $(shell n=$(words $(FUZZ_NAMES)); s=$$(( $(FUZZ_BUDGET) / ($$n > 0 ? $$n : 1) )); \
	echo $$(( s > 0 ? s : 1 )))
FUZZ_TARGETS ?=
FUZZ_B ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SAN = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
fuzz:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CC) not found;" \
		"install Debian packages clang and libclang-rt-14-dev" >&2; exit 1; }
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) OPT="-O1 -g" SAN="$(FUZZ_SAN)" \
		WARN="$(filter-out -Werror,$(WARN))" fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The unit suites and the fuzz replayers under valgrind memcheck: no
# error, no leak (tests/valgrind.supp: third-party libraries only).  Needs
# a build without sanitizers.  Not part of `make check` (see doc/fuzzing.md
# for how long it takes).
check-valgrind: $(UNIT_BINS) $(TESTPLUG_SOS) $(PLUGIN_SOS) $(FUZZ_REPLAY_BINS)
	@if [ -n "$(SAN)" ]; then echo "check-valgrind: this build has sanitizers ($(SAN));" \
		"configure without --enable-sanitizers" >&2; exit 1; fi
	@sh tests/run-valgrind.sh $(B) $(UNIT_BINS) $(FUZZ_REPLAY_BINS)

fuzz-build: $(FUZZ_BINS) $(B)/plugins/dummy.so $(B)/plugins/exec.so \
	$(B)/tests/plugins/passive_test.so

# report.sh fills its store with build/bench/report_bench
integration: all $(TESTPLUG_SOS) $(IT_BINS) $(B)/bench/report_bench
	@sh tests/run-integration.sh

# mamorid killed with SIGKILL at random points under load SOAK_N times
# (alerts_kill9.sh, which CI runs with 10), then the reconciliation
# report: lost, duplicated, out-of-order events, alerts opened twice.
# About 1.35 s a kill (300 took 6 min 43 s): 1000 take some 23 minutes.
SOAK_N ?= 1000
soak: all
	SOAK_REPORT=$(B)/soak-report.txt ALERTS_KILLS=$(SOAK_N) ALERTS_GAP_MIN=0.1 ALERTS_GAP_MAX=1.5 \
		sh tests/integration/alerts_kill9.sh
	@echo "soak report: $(B)/soak-report.txt"

# The security tests in one go (tests/check-security.sh): attackers on the
# broker and the API, permissions, the privilege drop and sandbox, faults
# (broker, disk, clock, kill -9), then no test fixture's secret in any log.
check-security: all $(TESTPLUG_SOS) $(IT_BINS)
	@sh tests/check-security.sh

lint:
	@sh tests/lint/layers.sh
	@sh tests/lint/openapi.sh

check: all unit integration lint

bench: all $(BENCH_BINS) $(TESTPLUG_SOS)
	@sh tests/bench/all.sh

demo: all
	@sh contrib/demo/run.sh

$(B)/mamori-plugin.pc: Makefile config.mk
	@mkdir -p $(dir $@)
	printf 'prefix=%s\nincludedir=%s\nplugindir=%s\n\nName: mamori-plugin\nDescription: build check plugins for mamorid (plugin ABI v1)\nVersion: %s\nCflags: -I$${includedir} -fPIC -fvisibility=hidden\n' \
		'$(prefix)' '$(includedir)' '$(plugindir)' '$(VERSION)' >$@

# The state dir is 0750: the database holds every customer's alerts and
# notes (mamorid also refuses a state dir its group or others may write to).
install: all $(B)/mamori-plugin.pc
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(plugindir) \
		$(DESTDIR)$(includedir)/mamori $(DESTDIR)$(libdir)/pkgconfig \
		$(DESTDIR)$(pkgdatadir) $(DESTDIR)$(pkgconfdir)
	install -d -m 750 $(DESTDIR)$(statedir)
	install -m 755 $(B)/mamorid $(DESTDIR)$(sbindir)/mamorid
	install -m 755 $(B)/mamorictl $(DESTDIR)$(bindir)/mamorictl
	$(if $(PLUGIN_SOS),install -m 644 $(PLUGIN_SOS) $(DESTDIR)$(plugindir)/)
	install -m 644 include/mamori/plugin.h $(DESTDIR)$(includedir)/mamori/plugin.h
	install -m 644 $(B)/mamori-plugin.pc $(DESTDIR)$(libdir)/pkgconfig/mamori-plugin.pc
	cp -R share/mamori/. $(DESTDIR)$(pkgdatadir)/
	install -m 644 etc/mamori.conf $(DESTDIR)$(pkgconfdir)/mamori.conf.example
	install -d $(DESTDIR)$(libdir)/systemd/system
	sed -e 's|/usr/local/sbin/mamorid|$(sbindir)/mamorid|g' \
	    -e 's|/usr/local/etc/mamori/|$(pkgconfdir)/|g' \
	    -e 's|/usr/local/var/lib/mamori|$(statedir)|g' \
	    -e 's|/usr/local/share/doc/mamori/|$(datadir)/doc/mamori/|g' \
	    contrib/systemd/mamorid.service >$(DESTDIR)$(libdir)/systemd/system/mamorid.service
	chmod 644 $(DESTDIR)$(libdir)/systemd/system/mamorid.service
	install -d $(DESTDIR)$(datadir)/doc/mamori
	install -m 644 doc/operations.md $(DESTDIR)$(datadir)/doc/mamori/operations.md

uninstall:
	rm -f $(DESTDIR)$(sbindir)/mamorid $(DESTDIR)$(bindir)/mamorictl
	rm -f $(DESTDIR)$(libdir)/systemd/system/mamorid.service
	rm -rf $(DESTDIR)$(datadir)/doc/mamori
	rm -rf $(DESTDIR)$(plugindir) $(DESTDIR)$(includedir)/mamori $(DESTDIR)$(pkgdatadir)
	rm -f $(DESTDIR)$(libdir)/pkgconfig/mamori-plugin.pc

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mk buildcfg.h $(WWW_VENDOR)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
