# cni-c: CNI plugins in C. `make` builds every plugin and cnitool into bin/.
# make SANITIZE=1   ASan+UBSan build (same bin/, relinked when the variant changes)
# make check        deps + build + every test;  make demo   deps + build + demo
# make install PREFIX=/opt/cni DESTDIR=...   plugins into $(PREFIX)/bin

PREFIX ?= /opt/cni
DESTDIR ?=
CC ?= cc
PKGS := jansson libnl-3.0 libnl-route-3.0 libmnl libnftnl

VARIANT := $(if $(SANITIZE),san,rel)
BUILD := build/$(VARIANT)
BIN := bin

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

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
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now -Wl,--gc-sections -Wl,--as-needed $(LDSAN) $(LDFLAGS)

LIB_SRCS := $(sort $(wildcard pkg/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libcnic.a

PLUGIN_DIRS := $(sort $(patsubst %/main.c,%,$(wildcard plugins/*/*/main.c)))
PLUGIN_NAMES := $(notdir $(PLUGIN_DIRS))
PLUGIN_BINS := $(addprefix $(BIN)/,$(PLUGIN_NAMES))
TOOL_BINS := $(BIN)/cnitool

UNIT_SRCS := $(sort $(wildcard test/unit/*.c))
UNIT_BIN := $(BUILD)/test/unit-tests

.PHONY: all deps check demo install clean bench unit integration valgrind-unit FORCE
all: $(PLUGIN_BINS) $(TOOL_BINS)

# relink everything when switching between plain and sanitizer builds
$(BUILD)/.variant: FORCE
	@mkdir -p $(BUILD) $(BIN)
	@if [ "$$(cat $(BIN)/.variant 2>/dev/null)" != "$(VARIANT)" ]; then echo $(VARIANT) > $(BIN)/.variant; fi
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

define plugin_rule
$(BIN)/$(notdir $(1)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIB) $(BUILD)/.variant
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $$@",true)
	$(Q)$(CC) -o $$@ $$(filter %.o,$$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)
endef
$(foreach d,$(PLUGIN_DIRS),$(eval $(call plugin_rule,$(d))))

$(BIN)/cnitool: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/cnitool/*.c)) $(LIB) $(BUILD)/.variant
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

$(UNIT_BIN): $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(LIB) $(BUILD)/.variant
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

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
	install -m 0755 $(PLUGIN_BINS) $(TOOL_BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build bin
