/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "log.h"

struct ustor_out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct ustor_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len++] = c;
}

/* 64-bit value to digits with 32-bit arithmetic only: i386 and m68k would
 * otherwise call libgcc (__udivdi3, and at -Os even __lshrdi3) for 64-bit
 * division and variable shifts. The value is four 16-bit limbs divided by
 * the base one limb at a time (remainder < 16, so each step fits 32 bits). */
static unsigned out_digits(char *tmp, uint64_t v, unsigned base)
{
	static const char digits[] = "0123456789abcdef";
	uint32_t hi = (uint32_t)(v >> 32);
	uint32_t lo = (uint32_t)v;
	uint32_t limb[4] = { hi >> 16, hi & 0xffffu, lo >> 16, lo & 0xffffu };
	unsigned n = 0;

	do {
		uint32_t rem = 0;
		unsigned i;

		for (i = 0; i < 4; i++) {
			uint32_t cur = (rem << 16) | limb[i];
			limb[i] = cur / base;
			rem = cur % base;
		}
		tmp[n++] = digits[rem];
	} while ((limb[0] | limb[1] | limb[2] | limb[3]) != 0 && n < 24);
	return n;
}

static void out_number(struct ustor_out *o, uint64_t v, unsigned base, unsigned width, int neg)
{
	char tmp[24];
	unsigned n = out_digits(tmp, v, base);

	if (neg)
		out_char(o, '-');
	while (width > n) {
		out_char(o, '0');
		width--;
	}
	while (n > 0)
		out_char(o, tmp[--n]);
}

size_t ustor_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct ustor_out o = { buf, size, 0 };

	if (size == 0)
		return 0;
	for (; *fmt != '\0'; fmt++) {
		unsigned width = 0;
		int is_long = 0;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10u + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l') {
			is_long++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			while (*s != '\0')
				out_char(&o, *s++);
			break;
		}
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			long long v = is_long ? va_arg(ap, long long) : va_arg(ap, int);
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			out_number(&o, mag, 10, width, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			out_number(&o, v, *fmt == 'x' ? 16u : 10u, width, 0);
			break;
		}
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_char(&o, '?');
			break;
		}
	}
	o.buf[o.len] = '\0';
	return o.len;
}

size_t ustor_fmt(char *buf, size_t size, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	n = ustor_vfmt(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

#if USTOR_ENABLE_LOG
void ustor_log(const struct ustor_hal *hal, enum ustor_log_level level, const char *fmt, ...)
{
	char line[160];
	size_t n;
	va_list ap;

	if (hal == NULL || hal->log == NULL || level > hal->log_level)
		return;
	n = sizeof("ustor: ") - 1;
	line[0] = '\0';
	__builtin_memcpy(line, "ustor: ", n);
	va_start(ap, fmt);
	ustor_vfmt(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	hal->log(hal->ctx, level, line);
}
#endif

void ustor_copy_id_string(char *out, const char *in, size_t len)
{
	size_t i;
	size_t end = 0;

	for (i = 0; i < len; i++) {
		char c = in[i];
		if (c == '\0')
			break;
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		out[i] = c;
		if (c != ' ')
			end = i + 1;
	}
	out[end] = '\0';
}
