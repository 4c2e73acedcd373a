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

-include config.mk
ifeq ($(VERSION),)
$(error Run ./configure first)
endif

B := build
DESTDIR ?=

LIB_CFLAGS = $(EV_CFLAGS) $(CONFIG_CFLAGS) $(SQLITE_CFLAGS) $(SSL_CFLAGS) $(MOSQ_CFLAGS) \
	$(CJSON_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(CARES_CFLAGS) $(ARGON2_CFLAGS)
CORE_LIBS = $(EV_LIBS) $(CONFIG_LIBS) $(SQLITE_LIBS) $(SSL_LIBS) $(MOSQ_LIBS) $(CJSON_LIBS) \
	$(MHD_LIBS) $(CURL_LIBS) $(CARES_LIBS) $(ARGON2_LIBS) -lpthread -ldl -lm
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
TOOL_SRCS := $(wildcard contrib/*/*.c)
TOOL_BINS := $(patsubst %.c,$(B)/tools/%,$(notdir $(filter-out contrib/plugin-skeleton/%,$(TOOL_SRCS))))

.PHONY: all check lint unit integration bench install uninstall clean distclean format format-check demo
all: $(B)/mamorid $(B)/mamorictl $(PLUGIN_SOS) $(TOOL_BINS)

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

define tool_rule
$(B)/tools/$(notdir $(basename $(1))): $(B)/obj/$(basename $(1)).o $(B)/libmamoricore.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(CORE_LIBS)
endef
$(foreach t,$(filter-out contrib/plugin-skeleton/%,$(TOOL_SRCS)),$(eval $(call tool_rule,$(t))))

unit: $(UNIT_BINS) $(TESTPLUG_SOS) $(PLUGIN_SOS)
	@sh tests/run-unit.sh $(UNIT_BINS)

integration: all $(TESTPLUG_SOS) $(IT_BINS)
	@sh tests/run-integration.sh

lint:
	@sh tests/lint/layers.sh
	@sh tests/lint/openapi.sh

check: all unit integration lint

bench: all $(BENCH_BINS)
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

uninstall:
	rm -f $(DESTDIR)$(sbindir)/mamorid $(DESTDIR)$(bindir)/mamorictl
	rm -rf $(DESTDIR)$(plugindir) $(DESTDIR)$(includedir)/mamori $(DESTDIR)$(pkgdatadir)
	rm -f $(DESTDIR)$(libdir)/pkgconfig/mamori-plugin.pc

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mk buildcfg.h

-include $(shell find $(B) -name '*.d' 2>/dev/null)
