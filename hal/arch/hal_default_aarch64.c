/* SPDX-License-Identifier: MIT */
/*
 * Default MMIO accessors and barriers for aarch64 (see hal_default.h).
 *
 * Registers must be mapped Device-nGnRE or Device-nGnRnE (every data access
 * is Device-nGnRnE while the MMU is off). The "non-Reordering" attribute
 * makes accesses to one peripheral arrive in program order, so the accessors
 * need no barrier between themselves.
 *
 * Each access is one ldr/str with a plain base register, written in asm:
 * the compiler may otherwise pick ldp/stp or a writeback addressing mode for
 * a volatile dereference, which a hypervisor cannot emulate (no valid
 * instruction syndrome on the data abort). The "memory" clobber keeps the
 * compiler from moving ordinary loads and stores across the access.
 *
 * Barriers (Arm ARM, "Data Memory Barrier"): the device is an observer in
 * the Outer Shareable domain, so the OSH variants are the narrowest that
 * reach it.
 *   wmb: dmb oshst orders every earlier store (to Normal DMA memory) before
 *        every later store (the Device doorbell, or another ring store such
 *        as a virtio avail index). No dsb needed: the device need not have
 *        seen the data when the barrier retires, only before the doorbell.
 *   rmb: dmb oshld orders every earlier load (the completion's phase tag)
 *        before every later load and store (the rest of the completion).
 */
#include <stdint.h>

#include "ustor/hal_default.h"

#if !defined(__aarch64__)
#error "hal_default_aarch64.c is for ARCH=aarch64 only"
#endif

uint32_t ustor_hal_default_mmio_read32(void *ctx, volatile void *addr)
{
	uint32_t val;

	(void)ctx;
	__asm__ __volatile__("ldr %w0, [%1]" : "=r"(val) : "r"(addr) : "memory");
	return val;
}

void ustor_hal_default_mmio_write32(void *ctx, volatile void *addr, uint32_t val)
{
	(void)ctx;
	__asm__ __volatile__("str %w0, [%1]" : : "rZ"(val), "r"(addr) : "memory");
}

uint64_t ustor_hal_default_mmio_read64(void *ctx, volatile void *addr)
{
	uint64_t val;

	(void)ctx;
	__asm__ __volatile__("ldr %x0, [%1]" : "=r"(val) : "r"(addr) : "memory");
	return val;
}

void ustor_hal_default_mmio_write64(void *ctx, volatile void *addr, uint64_t val)
{
	(void)ctx;
	__asm__ __volatile__("str %x0, [%1]" : : "rZ"(val), "r"(addr) : "memory");
}

uint8_t ustor_hal_default_mmio_read8(void *ctx, volatile void *addr)
{
	uint32_t val;

	(void)ctx;
	__asm__ __volatile__("ldrb %w0, [%1]" : "=r"(val) : "r"(addr) : "memory");
	return (uint8_t)val;
}

uint16_t ustor_hal_default_mmio_read16(void *ctx, volatile void *addr)
{
	uint32_t val;

	(void)ctx;
	__asm__ __volatile__("ldrh %w0, [%1]" : "=r"(val) : "r"(addr) : "memory");
	return (uint16_t)val;
}

void ustor_hal_default_mmio_write8(void *ctx, volatile void *addr, uint8_t val)
{
	(void)ctx;
	__asm__ __volatile__("strb %w0, [%1]" : : "rZ"((uint32_t)val), "r"(addr) : "memory");
}

void ustor_hal_default_mmio_write16(void *ctx, volatile void *addr, uint16_t val)
{
	(void)ctx;
	__asm__ __volatile__("strh %w0, [%1]" : : "rZ"((uint32_t)val), "r"(addr) : "memory");
}

void ustor_hal_default_wmb(void *ctx)
{
	(void)ctx;
	/* Ring stores reach the outer-shareable device before the doorbell. */
	__asm__ __volatile__("dmb oshst" ::: "memory");
}

void ustor_hal_default_rmb(void *ctx)
{
	(void)ctx;
	/* The phase-tag load completes before the rest of the entry is read. */
	__asm__ __volatile__("dmb oshld" ::: "memory");
}
