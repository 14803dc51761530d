/* SPDX-License-Identifier: MIT */
/*
 * uStor: ready-made MMIO and barrier callbacks for `struct ustor_hal`.
 *
 * Plug these into .mmio_read32/.mmio_write32/.mmio_read64/.mmio_write64/
 * .mmio_read8/.mmio_read16/.mmio_write8/.mmio_write16/.wmb/.rmb when the platform matches the assumptions below; otherwise write
 * your own (hal.h states the contract). They ignore `ctx` and keep no state.
 *
 * Build exactly one implementation, the one for the target ARCH:
 *
 *   ARCH      file                           assumptions
 *   x86_64    hal/arch/hal_default_x86_64.c  BARs mapped UC (not WC), DMA
 *                                            memory WB and snooped
 *   i386      hal/arch/hal_default_i386.c    as x86_64
 *   aarch64   hal/arch/hal_default_aarch64.c BARs mapped Device-nGnRE or
 *                                            -nGnRnE (or MMU off), DMA memory
 *                                            coherent or synced via dma_sync
 *   riscv64   hal/arch/hal_default_riscv64.c BARs in an I/O PMA region
 *   m68k      hal/arch/hal_default_m68k.c    big-endian CPU behind a bridge
 *                                            that does NOT swap bytes; BARs
 *                                            cache-inhibited, serialised
 *
 * A port whose bridge swaps bytes in hardware (so a 32-bit load already
 * yields the register value in CPU order) must supply its own accessors:
 * the m68k defaults would swap a second time.
 */
#ifndef USTOR_HAL_DEFAULT_H
#define USTOR_HAL_DEFAULT_H

#include <stdint.h>

#include "hal.h"

/*
 * One 32-bit load from `addr` (4-byte aligned), returned in CPU byte order.
 * Never split, merged or reordered by the compiler against other accesses.
 */
uint32_t ustor_hal_default_mmio_read32(void *ctx, volatile void *addr);

/* One 32-bit store of `val` (CPU byte order) to `addr` (4-byte aligned). */
void ustor_hal_default_mmio_write32(void *ctx, volatile void *addr, uint32_t val);

/*
 * 64-bit register read. One 64-bit load on x86_64, aarch64 and riscv64; on
 * i386 and m68k two 32-bit loads, low half (addr) first, then addr + 4.
 */
uint64_t ustor_hal_default_mmio_read64(void *ctx, volatile void *addr);

/*
 * 64-bit register write. One 64-bit store on x86_64, aarch64 and riscv64; on
 * i386 and m68k two 32-bit stores, low half (addr) first, then addr + 4.
 */
void ustor_hal_default_mmio_write64(void *ctx, volatile void *addr, uint64_t val);

/*
 * 8- and 16-bit register access: one load or store of exactly that width
 * (16-bit: `addr` 2-byte aligned), values in CPU byte order, with the same
 * ordering as the 32-bit accessors. On m68k the 16-bit ones swap bytes
 * (little-endian register behind a non-swapping bridge).
 */
uint8_t ustor_hal_default_mmio_read8(void *ctx, volatile void *addr);
uint16_t ustor_hal_default_mmio_read16(void *ctx, volatile void *addr);
void ustor_hal_default_mmio_write8(void *ctx, volatile void *addr, uint8_t val);
void ustor_hal_default_mmio_write16(void *ctx, volatile void *addr, uint16_t val);

/*
 * Write barrier: stores to DMA memory before it reach the device before any
 * store after it, to DMA memory or to a register (x86: compiler barrier;
 * aarch64: dmb oshst; riscv64: fence w,ow; m68k: nop).
 */
void ustor_hal_default_wmb(void *ctx);

/*
 * Read barrier: loads after it (DMA memory or registers) are not satisfied
 * before loads before it (x86: compiler barrier; aarch64: dmb oshld;
 * riscv64: fence ir,ir; m68k: nop).
 */
void ustor_hal_default_rmb(void *ctx);

/* The defaults must fit the HAL members exactly; checked where the compiler
 * can (GCC and Clang, the only compilers endian.h accepts). */
#if defined(__GNUC__)
#define USTOR_HAL_DEFAULT_FITS_(member, fn)                                                      \
	_Static_assert(__builtin_types_compatible_p(__typeof__(((struct ustor_hal *)0)->member), \
						    __typeof__(&fn)),                            \
		       #fn " matches struct ustor_hal." #member)
USTOR_HAL_DEFAULT_FITS_(mmio_read32, ustor_hal_default_mmio_read32);
USTOR_HAL_DEFAULT_FITS_(mmio_write32, ustor_hal_default_mmio_write32);
USTOR_HAL_DEFAULT_FITS_(mmio_read64, ustor_hal_default_mmio_read64);
USTOR_HAL_DEFAULT_FITS_(mmio_write64, ustor_hal_default_mmio_write64);
USTOR_HAL_DEFAULT_FITS_(mmio_read8, ustor_hal_default_mmio_read8);
USTOR_HAL_DEFAULT_FITS_(mmio_read16, ustor_hal_default_mmio_read16);
USTOR_HAL_DEFAULT_FITS_(mmio_write8, ustor_hal_default_mmio_write8);
USTOR_HAL_DEFAULT_FITS_(mmio_write16, ustor_hal_default_mmio_write16);
USTOR_HAL_DEFAULT_FITS_(wmb, ustor_hal_default_wmb);
USTOR_HAL_DEFAULT_FITS_(rmb, ustor_hal_default_rmb);
#undef USTOR_HAL_DEFAULT_FITS_
#endif

#endif
