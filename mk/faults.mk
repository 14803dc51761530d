# QEMU fault injection and data integrity (tests/qemu/faults/run, the
# kernel's soak mode examples/x86_64/soak.c).
#
#   test-faults   the short cases (~30 s): read/write errors at given LBAs,
#                 a failing and a read-only backend, a throttled one, hot
#                 removal over QMP, power cuts; part of `make test`
#   soak          the long soak on NVMe and virtio-blk side by side:
#                 SOAK_SECS=120 (whole run) SOAK_MB=256 (per disk)

SOAK_SECS ?= 120
SOAK_MB ?= 256

.PHONY: test-faults soak

test-faults: $(KERNEL_ELF32)
	$(KERNEL_Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) tests/qemu/faults/run

soak: $(KERNEL_ELF32)
	$(KERNEL_Q)BUILD=$(BUILD) KERNEL=$(KERNEL_ELF32) SOAK_SECS=$(SOAK_SECS) SOAK_MB=$(SOAK_MB) \
		tests/qemu/faults/run soak-long

TEST_EXTRA += test-faults
