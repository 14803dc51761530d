/* SPDX-License-Identifier: MIT */
/* Internal: the four memory functions a freestanding GCC build may need.
 * Using the builtins avoids <string.h>, which is a hosted header. */
#ifndef USTOR_CORE_MEM_H
#define USTOR_CORE_MEM_H

#define ustor_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define ustor_memset(d, c, n) __builtin_memset((d), (c), (n))
#define ustor_memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

#endif
