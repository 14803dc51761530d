/* SPDX-License-Identifier: MIT */
#include "div64.h"

uint64_t ustor_div_u64(uint64_t n, uint64_t d)
{
	uint64_t q = 0;
	uint64_t r = 0;
	unsigned i;

	if (d == 0)
		return 0;
	if (d == 1)
		return n;
	/* Shift-subtract long division; only shifts by constants, which every
	 * target does inline (a variable 64-bit shift is a libgcc call on m68k
	 * at -Os). */
	for (i = 0; i < 64; i++) {
		r = (r << 1) | (n >> 63);
		n <<= 1;
		q <<= 1;
		if (r >= d) {
			r -= d;
			q |= 1;
		}
	}
	return q;
}

uint64_t ustor_muldiv_u64(uint64_t a, uint32_t m, uint64_t d)
{
	/* a * m fits in 64 bits while a < 2^32 (m < 2^32). Halving a and d
	 * together keeps the quotient and loses only low bits. */
	while ((a >> 32) != 0) {
		a >>= 1;
		d >>= 1;
	}
	return ustor_div_u64(a * m, d);
}
