/* SPDX-License-Identifier: MIT */
/* Internal: 64-bit unsigned division without libgcc (__udivdi3 does not
 * exist in a freestanding i386 or m68k build). Slow (one step per bit): for
 * statistics and bring-up, never for the I/O path. */
#ifndef USTOR_CORE_DIV64_H
#define USTOR_CORE_DIV64_H

#include <stdint.h>

/* n / d, rounded down; 0 when d is 0. */
uint64_t ustor_div_u64(uint64_t n, uint64_t d);

/* a * m / d without overflowing when a * m needs more than 64 bits (then
 * a and d are scaled down together, so the result stays close); 0 when d
 * is 0. m must be below 2^32. */
uint64_t ustor_muldiv_u64(uint64_t a, uint32_t m, uint64_t d);

#endif
