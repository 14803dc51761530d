/* SPDX-License-Identifier: MIT */
/*
 * The MMIO accessors and barriers that x86_64 and i386 share word for word
 * (8-, 16- and 32-bit `mov`, compiler-only barriers; see either file for
 * why). Included by hal_default_x86_64.c and hal_default_i386.c only: it
 * defines functions, so no other file may include it.
 */
#ifndef USTOR_HAL_DEFAULT_X86_COMMON_H
#define USTOR_HAL_DEFAULT_X86_COMMON_H

#include <stdint.h>

#include "ustor/hal_default.h"

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

#endif
