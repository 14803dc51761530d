/* SPDX-License-Identifier: MIT */
/*
 * Default MMIO accessors and barriers for i386 (see hal_default.h).
 *
 * Accesses are single `movl` instructions in asm: that pins the width and
 * the instruction form, and the "memory" clobber keeps the compiler from
 * moving ordinary loads and stores across them.
 *
 * 64-bit registers are accessed as two 32-bit halves, low half (the lower
 * address) first. A general-purpose i386 has no plain 64-bit load or store:
 * MMX/SSE moves are off limits in a kernel built -mgeneral-regs-only, and
 * cmpxchg8b is a locked read-modify-write that would also write the
 * register. NVMe and virtio accept 32-bit halves of their 64-bit registers.
 *
 * Barriers: as on x86_64, write-back DMA memory and uncacheable registers
 * keep store-store and load-load order in hardware (Intel SDM vol. 3A,
 * memory ordering chapter), so wmb/rmb only stop the compiler. sfence/lfence
 * would matter only for non-temporal stores or write-combining mappings,
 * which uStor does not use (a port that maps WC brings its own).
 */
#include <stdint.h>

#include "ustor/hal_default.h"

#if !defined(__i386__)
#error "hal_default_i386.c is for ARCH=i386 only"
#endif

#include "hal_default_x86_common.h"

uint64_t ustor_hal_default_mmio_read64(void *ctx, volatile void *addr)
{
	volatile uint8_t *reg = (volatile uint8_t *)addr;
	uint32_t lo = ustor_hal_default_mmio_read32(ctx, reg);
	uint32_t hi = ustor_hal_default_mmio_read32(ctx, reg + 4);

	return ((uint64_t)hi << 32) | lo;
}

void ustor_hal_default_mmio_write64(void *ctx, volatile void *addr, uint64_t val)
{
	volatile uint8_t *reg = (volatile uint8_t *)addr;

	ustor_hal_default_mmio_write32(ctx, reg, (uint32_t)val);
	ustor_hal_default_mmio_write32(ctx, reg + 4, (uint32_t)(val >> 32));
}

