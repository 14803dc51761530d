/* SPDX-License-Identifier: MIT */
/*
 * Default MMIO accessors and barriers for riscv64 (see hal_default.h).
 *
 * RVWMO fence sets (unprivileged spec, "FENCE"): r/w are loads/stores to
 * main memory (the DMA rings and buffers), i/o are loads/stores to I/O
 * regions (the BARs). Which regions are I/O is a PMA of the platform.
 *
 * Accesses: one lw/sw/ld/sd with a plain base register, in asm so the width
 * is fixed and the "memory" clobber stops the compiler. Whether two accesses
 * to an I/O region stay in order is also a PMA (an I/O region may be
 * relaxed), so each access carries its own fence: `fence io,o` before a
 * store (earlier register reads and writes complete first: ASQ/ACQ before
 * CC.EN), `fence io,i` before a load (a status read does not pass an earlier
 * register write). On strongly ordered I/O these cost next to nothing next
 * to the bus access itself.
 *
 * Barriers:
 *   wmb: `fence w,ow`. The hal.h contract is w -> o (ring stores before the
 *        doorbell store); adding w to the successor set also covers ring
 *        stores that only the device reads (descriptors before a virtio
 *        avail index). `fence w,o` alone would not order those.
 *   rmb: `fence ir,ir`. The phase tag is a load from main memory, so the
 *        predecessor set must hold r: `fence i,r` would not order it against
 *        the rest of the completion. i on both sides also orders a register
 *        read (e.g. an interrupt status) before the ring loads it guards.
 */
#include <stdint.h>

#include "ustor/hal_default.h"

#if !defined(__riscv) || __riscv_xlen != 64
#error "hal_default_riscv64.c is for ARCH=riscv64 only"
#endif

uint32_t ustor_hal_default_mmio_read32(void *ctx, volatile void *addr)
{
	uint32_t val;

	(void)ctx;
	__asm__ __volatile__("fence io,i\n\tlw %0, 0(%1)" : "=r"(val) : "r"(addr) : "memory");
	return val;
}

void ustor_hal_default_mmio_write32(void *ctx, volatile void *addr, uint32_t val)
{
	(void)ctx;
	__asm__ __volatile__("fence io,o\n\tsw %z0, 0(%1)" : : "rJ"(val), "r"(addr) : "memory");
}

uint64_t ustor_hal_default_mmio_read64(void *ctx, volatile void *addr)
{
	uint64_t val;

	(void)ctx;
	__asm__ __volatile__("fence io,i\n\tld %0, 0(%1)" : "=r"(val) : "r"(addr) : "memory");
	return val;
}

void ustor_hal_default_mmio_write64(void *ctx, volatile void *addr, uint64_t val)
{
	(void)ctx;
	__asm__ __volatile__("fence io,o\n\tsd %z0, 0(%1)" : : "rJ"(val), "r"(addr) : "memory");
}

uint8_t ustor_hal_default_mmio_read8(void *ctx, volatile void *addr)
{
	uint64_t val;

	(void)ctx;
	__asm__ __volatile__("fence io,i\n\tlbu %0, 0(%1)" : "=r"(val) : "r"(addr) : "memory");
	return (uint8_t)val;
}

uint16_t ustor_hal_default_mmio_read16(void *ctx, volatile void *addr)
{
	uint64_t val;

	(void)ctx;
	__asm__ __volatile__("fence io,i\n\tlhu %0, 0(%1)" : "=r"(val) : "r"(addr) : "memory");
	return (uint16_t)val;
}

void ustor_hal_default_mmio_write8(void *ctx, volatile void *addr, uint8_t val)
{
	(void)ctx;
	__asm__ __volatile__("fence io,o\n\tsb %z0, 0(%1)"
			     :
			     : "rJ"((uint64_t)val), "r"(addr)
			     : "memory");
}

void ustor_hal_default_mmio_write16(void *ctx, volatile void *addr, uint16_t val)
{
	(void)ctx;
	__asm__ __volatile__("fence io,o\n\tsh %z0, 0(%1)"
			     :
			     : "rJ"((uint64_t)val), "r"(addr)
			     : "memory");
}

void ustor_hal_default_wmb(void *ctx)
{
	(void)ctx;
	/* Ring stores become visible before the doorbell or avail-index store. */
	__asm__ __volatile__("fence w,ow" ::: "memory");
}

void ustor_hal_default_rmb(void *ctx)
{
	(void)ctx;
	/* The phase-tag (or status register) load completes before later loads. */
	__asm__ __volatile__("fence ir,ir" ::: "memory");
}
