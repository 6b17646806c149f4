# hvmdm: one non-recursive Makefile.
#   make [O=DIR]        build DIR/hvmdm (O defaults to build); ./configure runs
#                       by itself, and again whenever configure changes
#   make SANITIZE=address,undefined   the same in build-san, with sanitizers
#   make check          install missing Debian packages, build, run the unit
#                       tests, the same under ASan/UBSan and the end-to-end
#                       tests; ends with "N passed, N failed"
#   make check-unit | check-asan | check-e2e   one part (no package install)
#   make demo           boot SeaBIOS with its serial console on this terminal
#   make bench          SeaBIOS benchmarks side by side with QEMU, and
#                       hvmdm-img convert against qemu-img convert
#   make unit-programs  build the unit test binaries
#   make format         clang-format the sources
#   make clean          remove $(O) and its sanitizer twin

O ?= build
SANITIZE ?=

ifneq ($(SANITIZE),)
  ifeq ($(O),build)
    O := build-san
  endif
endif
# The sanitizer twin of $(O) that `make check` builds.
ASAN_O := $(if $(filter build,$(O)),build-san,$(O)-san)

all:

# Goals that must work before anything is installed or configured (a fresh
# machine has no glib, so configure would fail): they never read config.mk
# and run their work in a sub-make after scripts/install-deps.sh.
setup-goals := deps check check-asan demo bench clean distclean help
ifneq ($(filter-out $(setup-goals),$(or $(MAKECMDGOALS),all)),)
# Build configuration: re-run configure with the arguments it was last given
# when config.mk is missing or older than the configure script.
$(O)/config.mk: configure
	./configure --build-dir=$(O) $(CONFIGURE_ARGS)

include $(O)/config.mk
endif

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
        -Wshadow=local -Wformat=2 -Wno-format-nonliteral
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -D_GNU_SOURCE \
              -Iinclude -I$(O) -include $(O)/config.h $(PKG_CFLAGS) -MMD -MP \
              -fno-strict-aliasing -pthread
LDLIBS := $(PKG_LIBS) -pthread -lutil -lm
# Quiet build lines ("CC core/io.c"); make V=1 shows the commands.
ifeq ($(V),1)
  Q :=
  say := @true
else
  Q := @
  say := @printf '  %-5s %s\n'
endif
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
lib-srcs += core/config.c
lib-srcs += core/dev.c
lib-srcs += core/devices.c
lib-srcs += core/error.c
lib-srcs += core/log.c
lib-srcs += core/machine.c
lib-srcs += core/trace.c
lib-srcs += core/irq.c
lib-srcs += core/main-loop.c
lib-srcs += core/timer.c
lib-srcs += core/input.c
lib-srcs += core/io.c
lib-srcs += core/keycodes.c
lib-srcs += core/memory.c
lib-srcs += core/vmstate.c
lib-srcs += core/chardev.c core/chardev-socket.c core/chardev-stdio.c

# accel/
lib-srcs += accel/accel.c accel/kvm.c accel/kvm-cpu.c accel/qtest.c

# hw/
lib-srcs += hw/isa/rtc.c hw/isa/i8042.c hw/isa/ps2.c hw/isa/port92.c
lib-srcs += hw/isa/serial.c hw/isa/debugcon.c hw/isa/post.c
lib-srcs += hw/pc.c
lib-srcs += hw/pci/pci.c hw/pci/i440fx.c hw/pci/piix3.c
lib-srcs += hw/isa/fw_cfg.c
lib-srcs += hw/ide/core.c hw/ide/atapi.c hw/ide/piix.c hw/ide/drive.c

# firmware/
lib-srcs += firmware/rom.c firmware/e820.c

# block/
lib-srcs += block/block.c block/file.c block/raw.c block/aio.c
lib-srcs += block/qcow2.c block/qcow2-refcount.c
lib-srcs += block/blockdev.c
lib-srcs += block/qcow2-create.c block/qcow2-check.c
lib-srcs += block/vmdk.c block/vmdk-sparse.c block/vmdk-desc.c block/vmdk-create.c
lib-srcs += block/vmdk-check.c
lib-srcs-$(CONFIG_URING) += block/uring.c

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
# tests/unit/test-img runs it
unit-programs: $(O)/hvmdm-img
endif

$(O)/%.o: %.c $(O)/config.mk
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libhvmdm.a: $(lib-objs)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(O)/hvmdm: $(main-obj) $(O)/libhvmdm.a
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/hvmdm-img: $(tool-objs) $(O)/libhvmdm.a
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(unit-helper-objs) $(O)/libhvmdm.a
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit-programs: $(unit-bins) $(O)/hvmdm

-include $(lib-objs:.o=.d) $(main-obj:.o=.d) $(unit-bins:=.d) $(tool-objs:.o=.d)
-include $(unit-helper-objs:.o=.d)
# Keep the test objects (make would delete them as intermediate files).
.SECONDARY: $(unit-bins:=.o) $(unit-helper-objs)

# ---- set-up and tests -------------------------------------------------------
# Sub-makes build in parallel unless the caller chose -j.
JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))
SUBMAKE = $(MAKE) --no-print-directory $(JOBS)

deps:
	@scripts/install-deps.sh

check: deps
	@$(SUBMAKE) O=$(O) all unit-programs
	@$(SUBMAKE) O=$(ASAN_O) SANITIZE=address,undefined unit-programs
	@tests/run-tests.sh --unit $(O) --asan $(ASAN_O) --e2e $(O)

check-unit: all unit-programs
	@tests/run-tests.sh --unit $(O)

check-asan:
	@$(SUBMAKE) O=$(ASAN_O) SANITIZE=address,undefined unit-programs
	@tests/run-tests.sh --asan $(ASAN_O)

check-e2e: all
	@tests/run-tests.sh --e2e $(O)

demo: deps
	@$(SUBMAKE) O=$(O) all
	@tests/demo.sh $(O)

bench: deps
	@$(SUBMAKE) O=$(O) all
	@tests/perf/seabios.sh --build $(O)
	@tests/perf/img-convert.sh --build $(O)

format:
	clang-format -i $(lib-srcs) core/main.c $(tool-srcs) $(wildcard include/hvmdm/*.h)

help:
	@sed -n '1,/^$$/s/^# \{0,1\}//p' Makefile

clean:
	rm -rf $(O) $(ASAN_O)

distclean:
	rm -rf build build-san

.PHONY: all check check-unit check-asan check-e2e demo bench deps clean \
        distclean format help unit-programs
.DELETE_ON_ERROR:
