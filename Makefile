# uStor — the one entry point. `make test` runs everything; `make help` lists targets.
ARCH ?= x86_64
BUILD ?= build
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

LIB_SRCS := $(sort $(wildcard src/*/*.c))
LIB_HDRS := $(wildcard include/ustor/*.h src/*/*.h hal/arch/*.h)

# ---- Freestanding library, per architecture ---------------------------------
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wpointer-arith -Wundef -Wcast-align -Wformat=2 -Wdouble-promotion -Wnull-dereference
FREESTANDING := -std=c11 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector \
                -fno-common -O2 -Iinclude $(WARN)

CC_x86_64   := gcc
CC_i386     := i686-linux-gnu-gcc
CC_aarch64  := aarch64-linux-gnu-gcc
CC_riscv64  := riscv64-linux-gnu-gcc
CC_m68k     := m68k-linux-gnu-gcc
AR_x86_64   := ar
AR_i386     := i686-linux-gnu-ar
AR_aarch64  := aarch64-linux-gnu-ar
AR_riscv64  := riscv64-linux-gnu-ar
AR_m68k     := m68k-linux-gnu-ar
NM_x86_64   := nm
NM_i386     := i686-linux-gnu-nm
NM_aarch64  := aarch64-linux-gnu-nm
NM_riscv64  := riscv64-linux-gnu-nm
NM_m68k     := m68k-linux-gnu-nm
FLAGS_x86_64  := -m64 -mno-red-zone -mgeneral-regs-only
FLAGS_i386    := -m32 -mgeneral-regs-only
FLAGS_aarch64 := -mgeneral-regs-only
FLAGS_riscv64 := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany
FLAGS_m68k    := -mcpu=68040 -msoft-float
ARCHES := x86_64 i386 aarch64 riscv64 m68k

LIBDIR = $(BUILD)/$(ARCH)
LIB_OBJS = $(patsubst %.c,$(LIBDIR)/%.o,$(LIB_SRCS) hal/arch/hal_default_$(ARCH).c)

.PHONY: all lib lib-all check-freestanding test test-host test-be test-model test-arch arch-test-one lint bench-host \
        clean help size
all: lib

# The example kernel (examples/x86_64): kernel, iso, demo, test-qemu, kernel-shell, kernel-clean.
include examples/x86_64/kernel.mk

help:
	@echo "make lib [ARCH=x86_64|i386|aarch64|riscv64|m68k]  freestanding libustor.a + symbol check"
	@echo "make test        everything: all libs, hosted tests (ASan/UBSan), big-endian tests, lint, QEMU matrix"
	@echo "make bench-host  driver cost per 4 KiB read (callgrind instructions and ns)"
	@echo "make demo        boot the example kernel under QEMU on a generated disk, print a report"
	@echo "make test-qemu   the QEMU integration matrix (tests/qemu/run-all; -kernel, GRUB ISO BIOS/UEFI, irq, shell)"
	@echo "make iso         GRUB rescue ISO of the example kernel (multiboot2), for USB sticks and real machines"
	@echo "make kernel-shell  the example kernel's serial shell on this terminal"
	@echo "make bench       benchmark kernel in the standard QEMU rig: uStor vs raw ceiling (docs/BENCHMARKS.md)"
	@echo "make bench-compare  the same beside Linux + fio on the same devices, with ratios"
	@echo "make soak        long write/read-verify soak on NVMe and virtio-blk (SOAK_SECS, SOAK_MB)"
	@echo "make test-faults QEMU fault injection: EIO, throttle, hot removal, fail-all, read-only, power cut"
	$(Q)for l in $(HELP_EXTRA); do echo "$$l"; done

lib: $(LIBDIR)/libustor.a
	$(Q)sh scripts/check-freestanding.sh $< $(NM_$(ARCH))
	$(Q)sh scripts/check-hosted-headers.sh include src hal/arch
	@echo "OK  $(LIBDIR)/libustor.a ($(ARCH)): freestanding, only mem* external"

$(LIBDIR)/libustor.a: $(LIB_OBJS)
	$(Q)rm -f $@
	$(Q)$(AR_$(ARCH)) rcs $@ $^

$(LIBDIR)/%.o: %.c $(LIB_HDRS) Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC_$(ARCH)) $(FREESTANDING) $(FLAGS_$(ARCH)) $(EXTRA_CFLAGS) -c $< -o $@

# Every arch at -O2, and again at -Os (kernels often build small; at -Os GCC
# is quicker to call libgcc helpers for 64-bit shifts, which must not happen).
lib-all:
	$(Q)for a in $(ARCHES); do $(MAKE) --no-print-directory lib ARCH=$$a || exit 1; done
	$(Q)for a in $(ARCHES); do \
		$(MAKE) --no-print-directory lib ARCH=$$a BUILD=$(BUILD)/os EXTRA_CFLAGS=-Os || exit 1; done

size: lib
	$(Q)size -t $(LIBDIR)/libustor.a | tail -1

# ---- Hosted tests --------------------------------------------------------------
HOST_CC ?= gcc
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TEST_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Iinclude -Ihal/hosted -Itests/models \
               -Itests/unit $(WARN) -Wno-cast-align
MODEL_SRCS := $(wildcard tests/models/nvme_model*.c tests/models/virtio_blk_model*.c)
TEST_SUPPORT := hal/hosted/hosted_hal.c $(MODEL_SRCS) tests/unit/harness.c tests/unit/conformance.c
TEST_SUPPORT_HDRS := $(wildcard hal/hosted/*.h tests/models/*.h tests/unit/*.h)
UNIT_TESTS := $(sort $(wildcard tests/unit/test_*.c))
HOST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/host/%,$(UNIT_TESTS))
BE_BINS := $(patsubst tests/unit/%.c,$(BUILD)/m68k-user/%,$(UNIT_TESTS))

$(BUILD)/host/%: tests/unit/%.c $(LIB_SRCS) $(TEST_SUPPORT) $(LIB_HDRS) $(TEST_SUPPORT_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(SAN) $< $(LIB_SRCS) $(TEST_SUPPORT) -o $@

$(BUILD)/m68k-user/%: tests/unit/%.c $(LIB_SRCS) $(TEST_SUPPORT) $(LIB_HDRS) $(TEST_SUPPORT_HDRS)
	@mkdir -p $(dir $@)
	$(Q)m68k-linux-gnu-gcc $(TEST_CFLAGS) -static $< $(LIB_SRCS) $(TEST_SUPPORT) -o $@ -lgcc

test-host: $(HOST_BINS)
	$(Q)for t in $(HOST_BINS); do echo "== $$t"; $$t || exit 1; done

test-be: $(BE_BINS)
	$(Q)for t in $(BE_BINS); do echo "== qemu-m68k $$t"; qemu-m68k $$t || exit 1; done

# The device models' own self-tests drive them without the library.
MODEL_TESTS := $(wildcard tests/models/test_*.c)
MODEL_BINS := $(patsubst tests/models/%.c,$(BUILD)/host/%,$(MODEL_TESTS))
$(BUILD)/host/test_%_model: tests/models/test_%_model.c $(TEST_SUPPORT) $(TEST_SUPPORT_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(SAN) $< hal/hosted/hosted_hal.c $(MODEL_SRCS) -o $@

test-model: $(MODEL_BINS)
	$(Q)for t in $(MODEL_BINS); do echo "== $$t"; $$t || exit 1; done

lint:
	$(Q)cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
		--inline-suppr -Iinclude $(LIB_SRCS)
	@echo "OK  cppcheck: library clean"
	$(Q)if command -v clang-tidy >/dev/null 2>&1; then \
		clang-tidy --quiet $(LIB_SRCS) -- -std=c11 -Iinclude -ffreestanding 2>/dev/null && \
		echo "OK  clang-tidy: library clean (.clang-tidy lists each suppression)"; \
	else echo "SKIP clang-tidy: not installed"; fi

# Fragments in mk/ add their own targets and append to TEST_EXTRA (run last
# by `make test`) and HELP_EXTRA.
TEST_EXTRA :=
-include $(sort $(wildcard mk/*.mk))

test: lib-all test-arch test-model test-host test-be lint test-qemu $(TEST_EXTRA)
	@echo "ALL TESTS PASSED"

# ---- Benchmarks ----------------------------------------------------------------
BENCH_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O2 -Iinclude -Ihal/hosted -Itests/models \
                -Itests/unit $(WARN) -Wno-cast-align
$(BUILD)/bench/bench_host: tests/bench/bench_host.c $(LIB_SRCS) $(TEST_SUPPORT) $(LIB_HDRS) $(TEST_SUPPORT_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(BENCH_CFLAGS) $< $(LIB_SRCS) $(TEST_SUPPORT) -o $@

bench-host: $(BUILD)/bench/bench_host
	$(Q)sh tests/bench/bench_host.sh $<

clean:
	rm -rf $(BUILD)

# ---- Per-arch default HAL callbacks, run natively or under qemu-user -----------
ARCH_TEST_CC_x86_64 := gcc
ARCH_TEST_CC_i386 := i686-linux-gnu-gcc
ARCH_TEST_CC_aarch64 := aarch64-linux-gnu-gcc
ARCH_TEST_CC_riscv64 := riscv64-linux-gnu-gcc
ARCH_TEST_CC_m68k := m68k-linux-gnu-gcc
ARCH_TEST_RUN_x86_64 :=
ARCH_TEST_RUN_i386 := qemu-i386
ARCH_TEST_RUN_aarch64 := qemu-aarch64
ARCH_TEST_RUN_riscv64 := qemu-riscv64
ARCH_TEST_RUN_m68k := qemu-m68k
test-arch:
	$(Q)mkdir -p $(BUILD)/arch-test
	$(Q)for a in $(ARCHES); do \
		$(MAKE) --no-print-directory -s arch-test-one A=$$a || exit 1; \
	done

arch-test-one:
	$(Q)$(ARCH_TEST_CC_$(A)) -std=c11 -O2 -static -Iinclude $(WARN) -DUSTOR_TEST_ARCH='"$(A)"' \
		tests/arch/test_hal_default.c hal/arch/hal_default_$(A).c -o $(BUILD)/arch-test/hal_default_$(A)
	$(Q)$(ARCH_TEST_RUN_$(A)) $(BUILD)/arch-test/hal_default_$(A)
