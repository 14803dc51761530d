/* SPDX-License-Identifier: MIT */
/*
 * Default MMIO accessors and barriers for m68k (68040/68060; see
 * hal_default.h).
 *
 * Byte order: the CPU is big-endian, NVMe and virtio registers are
 * little-endian, and these defaults assume a bridge that passes byte lanes
 * straight through (QEMU's m68k virt does for virtio-mmio). A 32-bit load
 * then returns the register byte-reversed, so every accessor wider than a
 * byte swaps. A port
 * whose bridge swaps in hardware must supply its own accessors without the
 * swap.
 *
 * Registers must be mapped cache-inhibited, serialised (MMU page or
 * transparent translation register), so each move.l is one bus cycle that
 * is neither cached nor overlapped. 64-bit registers are two 32-bit halves,
 * low half (the lower address) first: the 68k has no 64-bit load or store.
 *
 * Barriers (M68000 Family Programmer's Reference Manual, NOP): `nop` does
 * not start until all pending bus cycles have completed, which drains the
 * 68040 store buffer and synchronises the pipeline. That orders ring stores
 * before the doorbell (wmb) and earlier loads before later ones (rmb); the
 * "memory" clobber stops the compiler. Copyback caches over DMA memory are a
 * separate matter for the HAL's dma_sync.
 */
#include <stdint.h>

#include "ustor/hal_default.h"

#if !defined(__mc68000__) && !defined(__m68k__)
#error "hal_default_m68k.c is for ARCH=m68k only"
#endif

/* Reverse the four bytes. Plain C: GCC makes it ror.w/swap/ror.w inline,
 * with no libgcc call. */
static inline uint32_t ustor_m68k_swab32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

uint32_t ustor_hal_default_mmio_read32(void *ctx, volatile void *addr)
{
	uint32_t raw;

	(void)ctx;
	__asm__ __volatile__("move.l (%1),%0" : "=d"(raw) : "a"(addr) : "memory");
	return ustor_m68k_swab32(raw);
}

void ustor_hal_default_mmio_write32(void *ctx, volatile void *addr, uint32_t val)
{
	uint32_t raw = ustor_m68k_swab32(val);

	(void)ctx;
	__asm__ __volatile__("move.l %0,(%1)" : : "d"(raw), "a"(addr) : "memory");
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

/* A 16-bit register is little-endian too: swap its two bytes. */
static inline uint16_t ustor_m68k_swab16(uint16_t v)
{
	return (uint16_t)((v >> 8) | (v << 8));
}

uint8_t ustor_hal_default_mmio_read8(void *ctx, volatile void *addr)
{
	uint8_t val;

	(void)ctx;
	__asm__ __volatile__("move.b (%1),%0" : "=d"(val) : "a"(addr) : "memory");
	return val;
}

uint16_t ustor_hal_default_mmio_read16(void *ctx, volatile void *addr)
{
	uint16_t raw;

	(void)ctx;
	__asm__ __volatile__("move.w (%1),%0" : "=d"(raw) : "a"(addr) : "memory");
	return ustor_m68k_swab16(raw);
}

void ustor_hal_default_mmio_write8(void *ctx, volatile void *addr, uint8_t val)
{
	(void)ctx;
	__asm__ __volatile__("move.b %0,(%1)" : : "d"(val), "a"(addr) : "memory");
}

void ustor_hal_default_mmio_write16(void *ctx, volatile void *addr, uint16_t val)
{
	uint16_t raw = ustor_m68k_swab16(val);

	(void)ctx;
	__asm__ __volatile__("move.w %0,(%1)" : : "d"(raw), "a"(addr) : "memory");
}

void ustor_hal_default_wmb(void *ctx)
{
	(void)ctx;
	/* Pending ring stores finish on the bus before the doorbell store. */
	__asm__ __volatile__("nop" ::: "memory");
}

void ustor_hal_default_rmb(void *ctx)
{
	(void)ctx;
	/* The phase-tag load completes before later loads start. */
	__asm__ __volatile__("nop" ::: "memory");
}
