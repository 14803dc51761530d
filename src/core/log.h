/* SPDX-License-Identifier: MIT */
/* Internal: formatted logging through the HAL sink, and small string helpers. */
#ifndef USTOR_CORE_LOG_H
#define USTOR_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "ustor/config.h"
#include "ustor/hal.h"

/*
 * Format and send one line. Understands %s %c %d %u %x %llu %llx with an
 * optional zero-pad width (%08x); nothing else. Lines longer than 160 bytes
 * are cut.
 */
#if USTOR_ENABLE_LOG
void ustor_log(const struct ustor_hal *hal, enum ustor_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#else
static inline void ustor_log(const struct ustor_hal *hal, enum ustor_log_level level,
			     const char *fmt, ...)
{
	(void)hal;
	(void)level;
	(void)fmt;
}
#endif

/* Format into buf (always NUL-terminated); returns the length written. */
size_t ustor_vfmt(char *buf, size_t size, const char *fmt, __builtin_va_list ap);
size_t ustor_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Copy a fixed-width, space-padded ASCII identity field from the device into
 * a NUL-terminated string: trailing spaces/NULs trimmed, anything not
 * printable replaced by '?' (the device may be hostile). `out` holds len+1.
 */
void ustor_copy_id_string(char *out, const char *in, size_t len);

#define USTOR_ERR(hal, ...) ustor_log((hal), USTOR_LOG_ERROR, __VA_ARGS__)
#define USTOR_WARN(hal, ...) ustor_log((hal), USTOR_LOG_WARN, __VA_ARGS__)
#define USTOR_INFO(hal, ...) ustor_log((hal), USTOR_LOG_INFO, __VA_ARGS__)
#define USTOR_DEBUG(hal, ...) ustor_log((hal), USTOR_LOG_DEBUG, __VA_ARGS__)

#endif
