/* SPDX-License-Identifier: MIT */
/*
 * The per-architecture default MMIO callbacks, run on each CPU (natively or
 * under qemu-user) against ordinary memory standing in for a little-endian
 * register file: values round-trip in CPU order, the bytes in "device"
 * memory are little-endian, 64-bit access is low half first at the lower
 * address, 8/16-bit access touches only its own bytes, and the barriers
 * can be called.
 */
#include <stdio.h>
#include <string.h>

#include "ustor/hal_default.h"

static unsigned failures;

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);   \
			failures++;                                           \
		}                                                             \
	} while (0)

int main(void)
{
	static volatile uint8_t regs[64] __attribute__((aligned(8)));
	uint8_t raw[8];

	ustor_hal_default_mmio_write32(NULL, regs + 4, 0x11223344u);
	memcpy(raw, (const void *)(regs + 4), 4);
	CHECK(raw[0] == 0x44 && raw[1] == 0x33 && raw[2] == 0x22 && raw[3] == 0x11);
	CHECK(ustor_hal_default_mmio_read32(NULL, regs + 4) == 0x11223344u);

	ustor_hal_default_mmio_write64(NULL, regs + 8, 0x0102030405060708ull);
	memcpy(raw, (const void *)(regs + 8), 8);
	CHECK(raw[0] == 0x08 && raw[3] == 0x05 && raw[4] == 0x04 && raw[7] == 0x01);
	CHECK(ustor_hal_default_mmio_read64(NULL, regs + 8) == 0x0102030405060708ull);
	CHECK(ustor_hal_default_mmio_read32(NULL, regs + 12) == 0x01020304u);

	/* 8/16-bit: CPU order in and out, little-endian in memory, neighbours
	 * untouched. */
	ustor_hal_default_mmio_write32(NULL, regs + 16, 0xaabbccddu);
	ustor_hal_default_mmio_write16(NULL, regs + 18, 0x1234u);
	memcpy(raw, (const void *)(regs + 16), 4);
	CHECK(raw[0] == 0xdd && raw[1] == 0xcc && raw[2] == 0x34 && raw[3] == 0x12);
	CHECK(ustor_hal_default_mmio_read16(NULL, regs + 18) == 0x1234u);
	CHECK(ustor_hal_default_mmio_read16(NULL, regs + 16) == 0xccddu);
	ustor_hal_default_mmio_write8(NULL, regs + 17, 0x5a);
	memcpy(raw, (const void *)(regs + 16), 4);
	CHECK(raw[0] == 0xdd && raw[1] == 0x5a && raw[2] == 0x34 && raw[3] == 0x12);
	CHECK(ustor_hal_default_mmio_read8(NULL, regs + 17) == 0x5a);
	CHECK(ustor_hal_default_mmio_read8(NULL, regs + 19) == 0x12);
	CHECK(ustor_hal_default_mmio_read32(NULL, regs + 16) == 0x12345addu);

	ustor_hal_default_wmb(NULL);
	ustor_hal_default_rmb(NULL);
	printf("%s: hal_default %s\n", failures ? "FAIL" : "ok", USTOR_TEST_ARCH);
	return failures != 0;
}
