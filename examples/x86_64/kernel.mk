# uStor x86_64 example kernel: a make fragment.
#
# Works included from the top-level Makefile (`include examples/x86_64/kernel.mk`)
# or on its own from the repository root (`make -f examples/x86_64/kernel.mk kernel`).
# Every name it defines starts with KERNEL_ so it cannot clash with the includer.
#
# Targets
#   kernel      build/x86_64-kernel/ustor-kernel.elf32 (multiboot1 + multiboot2, for
#               QEMU -kernel and GRUB)
#   iso         build/x86_64-kernel/ustor.iso: GRUB (BIOS + UEFI) booting it with
#               multiboot2 (examples/x86_64/mkiso.sh; installs GRUB/xorriso/mtools as root)
#   demo        boot it under QEMU on a two-namespace NVMe disk and a virtio-blk disk,
#               print a report
#   kernel-shell  boot it with shell=1 on this terminal (examples/x86_64/shell.sh)
#   test-qemu   the QEMU integration matrix (tests/qemu/run-all: NVMe, virtio-blk on
#               q35/pc/OVMF, virtio-mmio on microvm)
#   kernel-clean  remove build/x86_64-kernel
#
# Variables (all optional)
#   BUILD=build            output root (shared with the top-level Makefile)
#   KERNEL_CC=gcc  KERNEL_LD=ld  KERNEL_OBJCOPY=objcopy
#   QEMU=qemu-system-x86_64  ACCEL=tcg (kvm adds -cpu host)   used by demo/test-qemu
#   KERNEL_ISO_CMDLINE="bench=none"  kernel command line written into the ISO's grub.cfg
#   KERNEL_SHELL_OPTS="irq=1"        more kernel options for kernel-shell
#   V=1                    show the commands
#
# The kernel compiles the library's sources itself (the "add the sources to
# your kernel" way of using uStor) with the kernel's flags; linking the
# prebuilt build/x86_64/libustor.a from `make lib ARCH=x86_64` works as well.

BUILD ?= build
KERNEL_CC ?= gcc
KERNEL_LD ?= ld
KERNEL_OBJCOPY ?= objcopy
KERNEL_Q := $(if $(filter 1,$(V)),,@)

KERNEL_DIR := examples/x86_64
KERNEL_OUT := $(BUILD)/x86_64-kernel
KERNEL_ELF := $(KERNEL_OUT)/ustor-kernel.elf
KERNEL_ELF32 := $(KERNEL_OUT)/ustor-kernel.elf32
KERNEL_LDS := linker/x86_64.ld
KERNEL_ISO := $(KERNEL_OUT)/ustor.iso
KERNEL_ISO_CMDLINE ?= bench=none
KERNEL_SHELL_OPTS ?= irq=1

KERNEL_CFLAGS := -std=c11 -ffreestanding -nostdlib -mno-red-zone -mgeneral-regs-only \
                 -fno-pic -fno-pie -fno-stack-protector -mcmodel=small -m64 \
                 -fno-asynchronous-unwind-tables -fno-common -O2 -g \
                 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
                 -Wpointer-arith -Wundef -Wcast-align -Wformat=2 -Wdouble-promotion -Wnull-dereference \
                 -Iinclude -I$(KERNEL_DIR)
KERNEL_LDFLAGS := -nostdlib -static -no-pie -z max-page-size=0x1000 -z noexecstack \
                  -T $(KERNEL_LDS)

KERNEL_C_SRCS := $(sort $(wildcard $(KERNEL_DIR)/*.c))
KERNEL_S_SRCS := $(KERNEL_DIR)/boot.S $(KERNEL_DIR)/trampoline.S
KERNEL_LIB_SRCS := $(sort $(wildcard src/*/*.c)) hal/arch/hal_default_x86_64.c
KERNEL_HDRS := $(wildcard $(KERNEL_DIR)/*.h include/ustor/*.h src/*/*.h)

KERNEL_OBJS := $(patsubst %.c,$(KERNEL_OUT)/%.o,$(KERNEL_C_SRCS) $(KERNEL_LIB_SRCS)) \
               $(patsubst %.S,$(KERNEL_OUT)/%.o,$(KERNEL_S_SRCS))

.PHONY: kernel iso demo kernel-shell test-qemu kernel-clean

kernel: $(KERNEL_ELF32)
	@echo "OK  $(KERNEL_ELF32)"

$(KERNEL_ELF32): $(KERNEL_ELF)
	$(KERNEL_Q)$(KERNEL_OBJCOPY) -O elf32-i386 $< $@

$(KERNEL_ELF): $(KERNEL_OBJS) $(KERNEL_LDS)
	$(KERNEL_Q)$(KERNEL_LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS)

$(KERNEL_OUT)/%.o: %.c $(KERNEL_HDRS) $(KERNEL_DIR)/kernel.mk
	@mkdir -p $(dir $@)
	$(KERNEL_Q)$(KERNEL_CC) $(KERNEL_CFLAGS) -c $< -o $@

$(KERNEL_OUT)/%.o: %.S $(KERNEL_DIR)/kernel.mk
	@mkdir -p $(dir $@)
	$(KERNEL_Q)$(KERNEL_CC) $(KERNEL_CFLAGS) -c $< -o $@

# Always rerun: the command line may have changed (grub-mkrescue takes ~2 s).
iso: $(KERNEL_ELF32)
	$(KERNEL_Q)BUILD=$(BUILD) $(KERNEL_DIR)/mkiso.sh -k $(KERNEL_ELF32) -o $(KERNEL_ISO) -c "$(KERNEL_ISO_CMDLINE)"

demo: $(KERNEL_ELF32)
	$(KERNEL_Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) $(KERNEL_DIR)/demo.sh

kernel-shell: $(KERNEL_ELF32)
	$(KERNEL_Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) $(KERNEL_DIR)/shell.sh $(KERNEL_SHELL_OPTS)

test-qemu: $(KERNEL_ELF32)
	$(KERNEL_Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) tests/qemu/run-all

kernel-clean:
	rm -rf $(KERNEL_OUT)
