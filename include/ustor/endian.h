/* SPDX-License-Identifier: MIT */
/* uStor: little-endian helpers. Every byte on the wire goes through these. */
#ifndef USTOR_ENDIAN_H
#define USTOR_ENDIAN_H

#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define USTOR_BIG_ENDIAN 1
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define USTOR_BIG_ENDIAN 0
#else
#error "uStor needs __BYTE_ORDER__ (GCC and Clang define it)"
#endif

/* Convert between CPU order and little-endian (wire) order. */
static inline uint16_t ustor_cpu_to_le16(uint16_t v)
{
#if USTOR_BIG_ENDIAN
	return __builtin_bswap16(v);
#else
	return v;
#endif
}

static inline uint32_t ustor_cpu_to_le32(uint32_t v)
{
#if USTOR_BIG_ENDIAN
	return __builtin_bswap32(v);
#else
	return v;
#endif
}

static inline uint64_t ustor_cpu_to_le64(uint64_t v)
{
#if USTOR_BIG_ENDIAN
	return __builtin_bswap64(v);
#else
	return v;
#endif
}

static inline uint16_t ustor_le16_to_cpu(uint16_t v) { return ustor_cpu_to_le16(v); }
static inline uint32_t ustor_le32_to_cpu(uint32_t v) { return ustor_cpu_to_le32(v); }
static inline uint64_t ustor_le64_to_cpu(uint64_t v) { return ustor_cpu_to_le64(v); }

/* Read a little-endian value from a byte buffer of any alignment. */
static inline uint16_t ustor_get_le16(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;
	return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t ustor_get_le32(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;
	return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	       ((uint32_t)b[3] << 24);
}

static inline uint64_t ustor_get_le64(const void *p)
{
	const uint8_t *b = (const uint8_t *)p;
	return (uint64_t)ustor_get_le32(b) | ((uint64_t)ustor_get_le32(b + 4) << 32);
}

/* Write a little-endian value into a byte buffer of any alignment. */
static inline void ustor_put_le16(void *p, uint16_t v)
{
	uint8_t *b = (uint8_t *)p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void ustor_put_le32(void *p, uint32_t v)
{
	uint8_t *b = (uint8_t *)p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline void ustor_put_le64(void *p, uint64_t v)
{
	ustor_put_le32(p, (uint32_t)v);
	ustor_put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

#endif
