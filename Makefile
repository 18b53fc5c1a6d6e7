# cni-c: CNI plugins in C. `make` builds every plugin and cnitool into bin/.
# make SANITIZE=1   ASan+UBSan build (same bin/, relinked when the variant changes)
# make check        deps + build + every test;  make demo   deps + build + demo
# make install PREFIX=/opt/cni DESTDIR=...   plugins into $(PREFIX)/bin
# Link layout (README "Building"): MULTICALL=1 (default) links every plugin into
# one build/*/cni-c, bin/<plugin> being hard links to it; MULTICALL=0 one binary per
# plugin. LINK=static (default): static-pie, libc included, so no ld.so or shared
# library is mapped at run time: measured (README) peak RSS of a bridge ADD 1.5 MiB
# vs 2.4 MiB, VERSION task-clock 0.32 vs 0.44 ms, for 1.8 MB on disk vs 0.65 MB.
# It needs a .a of every pkg-config library; Debian has them all except libmnl,
# whose API pkg/mnl implements (linked in every mode but LINK=shared).
# LINK=static-libs: those libraries static, libc shared; LINK=shared: all shared.

PREFIX ?= /opt/cni
DESTDIR ?=
CC ?= cc
PKGS := jansson libnl-3.0 libnl-route-3.0 libmnl libnftnl

VARIANT := $(if $(SANITIZE),san,rel)
BUILD := build/$(VARIANT)
BIN := bin

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
MULTICALL ?= 1
LINK ?= static
OBJCOPY ?= objcopy
# ASan/UBSan runtimes cannot be linked into a static executable
ifeq ($(SANITIZE)$(LINK),1static)
override LINK := static-libs
endif
# -lmnl: pkg/mnl implements the libmnl API (Debian has no libmnl.a); its archive
# $(MNL_LIB) is linked after the pkg-config libraries instead, except with LINK=shared
PKG_LIBS_L = $(filter-out -lmnl,$(shell pkg-config --static --libs-only-l $(PKGS) 2>/dev/null))
PKG_LIBS_LL = $(shell pkg-config --static --libs-only-L $(PKGS) 2>/dev/null)
# the -lfoo of `pkg-config --static` that have a libfoo.a (-lpthread is libc's)
has_a = $(or $(wildcard $(patsubst -L%,%/lib$(1).a,$(filter -L%,$(PKG_LIBS_LL) $(LDFLAGS)))),$(filter /%,$(shell $(CC) -print-file-name=lib$(1).a)))
PKG_LIBS_A = $(foreach l,$(filter-out -lpthread,$(PKG_LIBS_L)),$(if $(call has_a,$(l:-l%=%)),$(l)))
# static-libs: --gc-sections then keeps only what is used of them
PKG_LIBS_SL = $(eval PKG_LIBS_SL := $(PKG_LIBS_LL) -Wl,-Bstatic $(PKG_LIBS_A) -Wl,-Bdynamic \
	$(filter-out $(PKG_LIBS_A),$(PKG_LIBS_L)))$(PKG_LIBS_SL)
ifeq ($(LINK),static-libs)
PKG_LIBS = $(PKG_LIBS_SL)
LDSTATIC :=
else ifeq ($(LINK),static)
PKG_LIBS = $(eval PKG_LIBS := $(PKG_LIBS_LL) $(PKG_LIBS_L))$(if $(filter-out $(PKG_LIBS_A) -lpthread,$(PKG_LIBS_L)),\
	$(error LINK=static: no static archive for $(filter-out $(PKG_LIBS_A) -lpthread,$(PKG_LIBS_L)); \
	point LDFLAGS=-L<dir> at one or use LINK=static-libs))$(PKG_LIBS)
LDSTATIC := -static-pie
else ifeq ($(LINK),shared)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDSTATIC :=
else
$(error LINK must be shared, static-libs or static)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Wmissing-prototypes -Wstrict-prototypes
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -fstack-clash-protection
ifeq ($(SANITIZE),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
HARDEN := -fstack-protector-strong -fPIE
else
OPT := -O2 $(if $(DEBUG),-g,)
LDSAN :=
endif
CFLAGS_ALL := -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -ffunction-sections -fdata-sections \
	-Iinclude $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_BASE := -Wl,-z,relro,-z,now -Wl,--gc-sections -Wl,--as-needed $(LDSAN) $(LDFLAGS)
LDFLAGS_ALL := $(if $(LDSTATIC),$(LDSTATIC),-pie) $(LDFLAGS_BASE)
# The unit tests stay dynamic (libc shared) whatever LINK says: valgrind, which
# test/run.sh runs them under, cannot intercept malloc in a static executable.
UNIT_LDFLAGS := -pie $(LDFLAGS_BASE)
# They always test pkg/mnl (with LINK=shared too, where the plugins use the system libmnl).
UNIT_LIBS = $(if $(LDSTATIC),$(PKG_LIBS_SL),$(filter-out -lmnl,$(PKG_LIBS)))

LIB_SRCS := $(sort $(filter-out pkg/mnl/%,$(wildcard pkg/*/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libcnic.a
MNL_SRCS := $(sort $(wildcard pkg/mnl/*.c))
MNL_LIB := $(if $(filter shared,$(LINK)),,$(BUILD)/libcnic-mnl.a)

PLUGIN_DIRS := $(sort $(patsubst %/main.c,%,$(wildcard plugins/*/*/main.c)))
PLUGIN_NAMES := $(notdir $(PLUGIN_DIRS))
PLUGIN_BINS := $(addprefix $(BIN)/,$(PLUGIN_NAMES))
TOOL_BINS := $(BIN)/cnitool
# the multi-call binary stays out of bin/, which holds only plugin names (+ cnitool)
MC_BIN := $(BUILD)/cni-c
LINK_VARIANT := $(VARIANT) multicall=$(MULTICALL) link=$(LINK) $(LDFLAGS)

UNIT_SRCS := $(sort $(wildcard test/unit/*.c))
UNIT_BIN := $(BUILD)/test/unit-tests

.PHONY: all deps check demo install clean bench unit integration valgrind-unit FORCE
all: $(PLUGIN_BINS) $(TOOL_BINS)

# relink everything when switching between plain and sanitizer builds
$(BUILD)/.variant: FORCE
	@mkdir -p $(BUILD) $(BIN)
	@if [ "$$(cat $(BIN)/.variant 2>/dev/null)" != "$(LINK_VARIANT)" ]; then echo "$(LINK_VARIANT)" > $(BIN)/.variant; fi
	@touch -r $(BIN)/.variant $@
FORCE:

V ?= 0
Q := $(if $(filter 1,$(V)),,@)
# -MMD: each object also depends on every header it includes (plugin-local ones too)
$(BUILD)/%.o: %.c $(wildcard include/cni/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<",true)
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

-include $(shell find build/$(VARIANT) -name '*.d' 2>/dev/null)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/libcnic-mnl.a: $(MNL_SRCS:%.c=$(BUILD)/%.o)
	@rm -f $@
	$(Q)ar rcs $@ $^

ifeq ($(MULTICALL),1)
# Each plugin's objects become one relocatable object (ld -r keeps the
# -ffunction-sections sections apart for --gc-sections) whose only global
# definition is its main, renamed cnic_main_<plugin>; tools/cni-c dispatches.
mc_sym = cnic_main_$(subst -,_,$(1))
define mc_rule
$(BUILD)/mc/$(notdir $(1)).o: $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c))
	@mkdir -p $$(dir $$@)
	$(Q)$(LD) -r -o $$@.r $$^
	$(Q)$(OBJCOPY) --redefine-sym main=$(call mc_sym,$(notdir $(1))) -G $(call mc_sym,$(notdir $(1))) $$@.r $$@
	@rm -f $$@.r
$(BIN)/$(notdir $(1)): $(MC_BIN)
	@mkdir -p $(BIN)
	$(Q)ln -f $$< $$@
endef
$(foreach d,$(PLUGIN_DIRS),$(eval $(call mc_rule,$(d))))

$(BUILD)/cni-c-plugins.h: FORCE
	@mkdir -p $(dir $@)
	@printf '$(foreach n,$(PLUGIN_NAMES),PLUGIN("$(n)", $(call mc_sym,$(n)))\n)' | sed 's/^ //' > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/tools/cni-c/main.o: $(BUILD)/cni-c-plugins.h
$(BUILD)/tools/cni-c/main.o: CFLAGS_ALL += -I$(BUILD)

$(MC_BIN): $(BUILD)/tools/cni-c/main.o $(addprefix $(BUILD)/mc/,$(addsuffix .o,$(PLUGIN_NAMES))) $(LIB) $(MNL_LIB) $(BUILD)/.variant
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@",true)
	@rm -f $@
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS) $(MNL_LIB)
else
define plugin_rule
$(BIN)/$(notdir $(1)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIB) $(MNL_LIB) $(BUILD)/.variant
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $$@",true)
	@rm -f $$@
	$(Q)$(CC) -o $$@ $$(filter %.o,$$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS) $(MNL_LIB)
endef
$(foreach d,$(PLUGIN_DIRS),$(eval $(call plugin_rule,$(d))))
endif

$(BIN)/cnitool: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/cnitool/*.c)) $(LIB) $(MNL_LIB) $(BUILD)/.variant
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS) $(MNL_LIB)

$(UNIT_BIN): $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(LIB) $(BUILD)/libcnic-mnl.a $(BUILD)/.variant
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIB) $(UNIT_LDFLAGS) $(UNIT_LIBS) $(BUILD)/libcnic-mnl.a

deps:
	@tools/deps.sh

unit: $(UNIT_BIN)
	$(UNIT_BIN)

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@UNIT_BIN=$(UNIT_BIN) SANITIZE=$(SANITIZE) test/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@test/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
ifeq ($(MULTICALL),1)
	install -m 0755 $(TOOL_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(MC_BIN) $(DESTDIR)$(PREFIX)/bin/$(firstword $(PLUGIN_NAMES))
	for p in $(wordlist 2,$(words $(PLUGIN_NAMES)),$(PLUGIN_NAMES)); do \
		ln -f $(DESTDIR)$(PREFIX)/bin/$(firstword $(PLUGIN_NAMES)) $(DESTDIR)$(PREFIX)/bin/$$p || exit 1; done
else
	install -m 0755 $(PLUGIN_BINS) $(TOOL_BINS) $(DESTDIR)$(PREFIX)/bin/
endif

clean:
	rm -rf build bin
