/* SPDX-License-Identifier: MIT */
/*
 * The four functions a freestanding GCC build (and uStor) may call. Written
 * with `rep movsb` / `rep stosb` so the compiler cannot turn them back into
 * calls to themselves; fast enough on every CPU with ERMSB, fine elsewhere.
 */
#include "kernel.h"

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
		return memcpy(dst, src, n);
	/* Overlap with dst above src: copy backwards (direction flag set for
	 * the copy only; the ABI wants it clear everywhere else). */
	void *d = (uint8_t *)dst + n - 1;
	const void *s = (const uint8_t *)src + n - 1;
	__asm__ __volatile__("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a;
	const uint8_t *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	}
	return 0;
}

size_t kstrlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}
