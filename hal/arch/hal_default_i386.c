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

uint32_t ustor_hal_default_mmio_read32(void *ctx, volatile void *addr)
{
	uint32_t val;

	(void)ctx;
	__asm__ __volatile__("movl %1, %0"
			     : "=r"(val)
			     : "m"(*(volatile uint32_t *)addr)
			     : "memory");
	return val;
}

void ustor_hal_default_mmio_write32(void *ctx, volatile void *addr, uint32_t val)
{
	(void)ctx;
	__asm__ __volatile__("movl %1, %0"
			     : "=m"(*(volatile uint32_t *)addr)
			     : "r"(val)
			     : "memory");
}

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

uint8_t ustor_hal_default_mmio_read8(void *ctx, volatile void *addr)
{
	uint8_t val;

	(void)ctx;
	__asm__ __volatile__("movb %1, %0"
			     : "=q"(val)
			     : "m"(*(volatile uint8_t *)addr)
			     : "memory");
	return val;
}

uint16_t ustor_hal_default_mmio_read16(void *ctx, volatile void *addr)
{
	uint16_t val;

	(void)ctx;
	__asm__ __volatile__("movw %1, %0"
			     : "=r"(val)
			     : "m"(*(volatile uint16_t *)addr)
			     : "memory");
	return val;
}

void ustor_hal_default_mmio_write8(void *ctx, volatile void *addr, uint8_t val)
{
	(void)ctx;
	__asm__ __volatile__("movb %1, %0"
			     : "=m"(*(volatile uint8_t *)addr)
			     : "q"(val)
			     : "memory");
}

void ustor_hal_default_mmio_write16(void *ctx, volatile void *addr, uint16_t val)
{
	(void)ctx;
	__asm__ __volatile__("movw %1, %0"
			     : "=m"(*(volatile uint16_t *)addr)
			     : "r"(val)
			     : "memory");
}

void ustor_hal_default_wmb(void *ctx)
{
	(void)ctx;
	/* x86 keeps store order (WB then UC); only stop the compiler. */
	__asm__ __volatile__("" ::: "memory");
}

void ustor_hal_default_rmb(void *ctx)
{
	(void)ctx;
	/* x86 keeps load order for WB memory; only stop the compiler. */
	__asm__ __volatile__("" ::: "memory");
}
