/* SPDX-License-Identifier: MIT */
/* Internal: what a bounded wait does between two polls. */
#ifndef USTOR_CORE_WAIT_H
#define USTOR_CORE_WAIT_H

#include <stdint.h>

#include "ustor/hal.h"

/*
 * Between polls of a bounded wait (`spins` starts at 0). With a yield
 * callback the kernel decides (it may sleep until an interrupt or a timer
 * tick); without one, spin for the first 64 polls (a fast device answers in
 * microseconds) and then back off, doubling from 2 us up to 1 ms. The
 * caller checks its deadline on now_ns; this never waits unboundedly.
 */
static inline void ustor_wait_between_polls(const struct ustor_hal *hal, uint32_t *spins)
{
	uint32_t n = ++*spins;

	if (hal->yield != NULL) {
		hal->yield(hal->ctx);
		return;
	}
	if (n <= 64)
		return;
	n -= 64;
	hal->delay_us(hal->ctx, n < 10 ? (1u << n) : 1000u);
}

#endif
