/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the libFuzzer targets in tests/fuzz: a reader that hands
 * out the fuzz input a byte at a time (zeroes once it runs dry, so every
 * input is a complete run), an invariant check that aborts (libFuzzer and
 * the regression tests both see the abort), and a way to put a spy between
 * the library and a device model's register window.
 *
 * A target file defines `static int NAME_one(const uint8_t *, size_t)` and
 * ends with FUZZ_ENTRY(NAME_one): that is LLVMFuzzerTestOneInput for the
 * fuzzer build, and nothing when a regression test (tests/unit/
 * test_regress_*.c) includes the target with FUZZ_NO_ENTRY defined and
 * replays saved inputs through NAME_one directly.
 */
#ifndef USTOR_FUZZ_COMMON_H
#define USTOR_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hosted_hal.h"

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline int fuzz_more(const struct fuzz_in *in)
{
	return in->n != 0;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | ((uint16_t)fuzz_u8(in) << 8));
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | ((uint32_t)fuzz_u16(in) << 16);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t lo = fuzz_u32(in);

	return lo | ((uint64_t)fuzz_u32(in) << 32);
}

/* An invariant of the library broke: say which and abort (a crash for
 * libFuzzer, a failure for a regression test). */
#define FUZZ_ASSERT(cond)                                                         \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "FUZZ INVARIANT BROKEN %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                                 \
			abort();                                                  \
		}                                                                 \
	} while (0)

/* The HAL's window whose base is `base` (aborts if there is none). */
static inline struct ustor_test_hal_mmio *fuzz_window(struct ustor_test_hal *h,
						      volatile void *base)
{
	unsigned i;

	for (i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++)
		if (h->mmio[i].base == (uintptr_t)base && h->mmio[i].size != 0)
			return &h->mmio[i];
	fprintf(stderr, "fuzz: no MMIO window at %p\n", (void *)(uintptr_t)base);
	abort();
}

#ifdef FUZZ_NO_ENTRY
#define FUZZ_ENTRY(fn)
#else
#define FUZZ_ENTRY(fn)                                                      \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);       \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)        \
	{                                                                   \
		return fn(data, size);                                      \
	}
#endif

#endif
