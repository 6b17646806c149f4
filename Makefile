# hvmdm: one non-recursive Makefile.  make [O=DIR] [SANITIZE=address,undefined]
#   make            build $(O)/hvmdm and $(O)/hvmdm-img
#   make check      install what is missing, build, run every test
#   make check-unit | check-asan | check-e2e
#   make demo       boot the demo guest (serial on this terminal)
#   make bench      benchmarks side by side with QEMU

O ?= build
SANITIZE ?=

ifneq ($(SANITIZE),)
  ifeq ($(O),build)
    O := build-san
  endif
endif

all:

# Build configuration: re-run configure when it is missing or older than the
# configure script.
$(O)/config.mk: configure
	./configure --build-dir=$(O) $(CONFIGURE_FLAGS)

include $(O)/config.mk

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
        -Wshadow=local -Wformat=2 -Wno-format-nonliteral
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -D_GNU_SOURCE \
              -Iinclude -I$(O) -include $(O)/config.h $(PKG_CFLAGS) -MMD -MP \
              -fno-strict-aliasing -pthread
LDLIBS := $(PKG_LIBS) -pthread -lutil -lm
ifneq ($(SANITIZE),)
  ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Sources, listed per folder.  A file is added here once it compiles.
# Files that need an optional library go under their CONFIG_ switch:
#   lib-srcs-$(CONFIG_VNC) += ui/vnc.c
lib-srcs :=
lib-srcs-y :=

# core/
lib-srcs += core/devices.c
lib-srcs += core/error.c
lib-srcs += core/log.c

# accel/

# hw/

# firmware/

lib-srcs += $(lib-srcs-y)

lib-objs := $(patsubst %.c,$(O)/%.o,$(lib-srcs))
main-obj := $(O)/core/main.o

unit-srcs := $(wildcard tests/unit/test-*.c)
unit-bins := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(unit-srcs))
unit-helper-srcs := $(filter-out $(unit-srcs),$(wildcard tests/unit/*.c))
unit-helper-objs := $(patsubst %.c,$(O)/%.o,$(unit-helper-srcs))

tool-srcs := $(wildcard tools/*.c)
tool-objs := $(patsubst %.c,$(O)/%.o,$(tool-srcs))

all: $(O)/hvmdm
ifneq ($(tool-srcs),)
all: $(O)/hvmdm-img
endif

$(O)/%.o: %.c $(O)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libhvmdm.a: $(lib-objs)
	@rm -f $@
	ar rcs $@ $^

$(O)/hvmdm: $(main-obj) $(O)/libhvmdm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/hvmdm-img: $(tool-objs) $(O)/libhvmdm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(unit-helper-objs) $(O)/libhvmdm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit-programs: $(unit-bins) $(O)/hvmdm

-include $(lib-objs:.o=.d) $(main-obj:.o=.d) $(unit-bins:=.d) $(tool-objs:.o=.d)

# ---- set-up and tests -------------------------------------------------------
deps:
	@scripts/install-deps.sh

check: deps
	$(MAKE) all unit-programs
	$(MAKE) SANITIZE=address,undefined unit-programs
	tests/run-tests.sh --build $(O) --asan-build build-san --e2e

check-unit: all unit-programs
	tests/run-tests.sh --build $(O)

check-asan:
	$(MAKE) SANITIZE=address,undefined unit-programs
	tests/run-tests.sh --build build-san

check-e2e: all
	tests/run-tests.sh --build $(O) --e2e-only

demo: deps
	$(MAKE) all
	tests/demo.sh $(O)

bench: deps
	$(MAKE) all
	tests/perf/run-bench.sh $(O)

format:
	clang-format -i $(lib-srcs) core/main.c $(wildcard include/hvmdm/*.h)

clean:
	rm -rf build build-san build-*

.PHONY: all check check-unit check-asan check-e2e demo bench deps clean format unit-programs
.DELETE_ON_ERROR:
