/* SPDX-License-Identifier: MIT */
/*
 * Serial console on COM1 (16550 UART at I/O port 0x3f8, 115200 8N1, polled
 * both ways: output waits for THRE, input checks the line status register's
 * data-ready bit) and a small printf. Lines end in CR LF, as a serial terminal expects.
 */
#include "kernel.h"

#define COM1 0x3f8
#define UART_THR 0 /* transmit holding (DLAB=0) */
#define UART_RBR 0 /* receive buffer (DLAB=0) */
#define UART_DLL 0 /* divisor low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor high (DLAB=1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_DR 0x01   /* data ready: a received byte waits in RBR/the FIFO */
#define UART_LSR_THRE 0x20

#define DEBUG_EXIT_PORT 0xf4 /* -device isa-debug-exit,iobase=0xf4,iosize=0x04 */

void console_init(void)
{
	outb(COM1 + UART_IER, 0x00);  /* no UART interrupts: we poll */
	outb(COM1 + UART_LCR, 0x80);  /* DLAB on */
	outb(COM1 + UART_DLL, 0x01);  /* 115200 baud = 115200 / 1 */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03);  /* DLAB off, 8 data bits, no parity, 1 stop */
	outb(COM1 + UART_FCR, 0xc7);  /* FIFOs on and cleared, 14-byte threshold */
	outb(COM1 + UART_MCR, 0x03);  /* DTR, RTS */
}

static void serial_putc(char c)
{
	/* Bounded: an absent UART reads 0xff (THRE set), a stuck one gives up. */
	for (uint32_t spins = 0; spins < 1000000u; spins++) {
		if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
			break;
		cpu_relax();
	}
	outb(COM1 + UART_THR, (uint8_t)c);
}

void console_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

int console_getc(void)
{
	uint8_t lsr = inb(COM1 + UART_LSR);

	/* 0xff: no UART at all (floating bus), never "data ready". */
	if (lsr == 0xff || !(lsr & UART_LSR_DR))
		return -1;
	return inb(COM1 + UART_RBR);
}

/* ---- printf: %[-][0][width][l|ll|z](d|i|u|x|X|s|c|p|%) -------------------- */

struct out {
	char *buf;
	size_t size;
	size_t len; /* would-be length, may exceed size */
};

static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_c(o, c);
}

static void out_num(struct out *o, uint64_t v, unsigned base, int upper, int neg, int width,
		    int zero, int left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base]; /* 64-bit division is native on x86_64 */
		v /= base;
	} while (v != 0);
	int len = n + (neg ? 1 : 0);
	if (!left && !zero)
		out_pad(o, ' ', width - len);
	if (neg)
		out_c(o, '-');
	if (!left && zero)
		out_pad(o, '0', width - len);
	while (n > 0)
		out_c(o, tmp[--n]);
	if (left)
		out_pad(o, ' ', width - len);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt != '\0'; fmt++) {
		int left = 0, zero = 0, width = 0, lng = 0;

		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				zero = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			out_num(&o, u, 10, 0, v < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			out_num(&o, v, *fmt == 'u' ? 10u : 16u, *fmt == 'X', 0, width, zero, left);
			break;
		}
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, 0, width, zero,
				left);
			break;
		case 'c':
			out_c(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n;

			if (s == NULL)
				s = "(null)";
			n = (int)kstrlen(s);
			if (!left)
				out_pad(&o, ' ', width - n);
			while (*s != '\0')
				out_c(&o, *s++);
			if (left)
				out_pad(&o, ' ', width - n);
			break;
		}
		case '%':
			out_c(&o, '%');
			break;
		case '\0':
			fmt--; /* a lone '%' at the end */
			break;
		default:
			out_c(&o, '%');
			out_c(&o, *fmt);
			break;
		}
	}
	if (size != 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void kprintf(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	console_write(line, (size_t)n);
}

void kernel_exit(uint32_t code)
{
	/* isa-debug-exit: QEMU exits at once with status (code << 1) | 1, so
	 * KERNEL_EXIT_PASS (0) -> 1 and KERNEL_EXIT_FAIL (1) -> 3. Status 0
	 * can never come from here (a triple fault under -no-reboot gives 0). */
	outl(DEBUG_EXIT_PORT, code);
	/* Still here: no isa-debug-exit (real hardware). Stop the CPU. */
	kprintf("kernel: finished (no isa-debug-exit device); halting\n");
	cpu_halt_forever();
	__builtin_unreachable();
}
