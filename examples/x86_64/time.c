/* SPDX-License-Identifier: MIT */
/*
 * Monotonic time from the TSC, calibrated once at boot against PIT channel 2
 * (1.193182 MHz, gated through port 0x61, its output readable there too, so
 * no interrupt is needed), or, where port 0x61 is absent (QEMU microvm),
 * against PIT channel 0 read back with the latch command. Assumes an
 * invariant TSC, as every x86_64 CPU of the last decade and QEMU have.
 */
#include "kernel.h"

#define PIT_HZ 1193182u
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE_PORT 0x61 /* bit 0: channel 2 gate, bit 1: speaker, bit 5: OUT2 */
#define CALIB_MS 50u

static uint64_t tsc_hz;
static const char *tsc_source = "PIT channel 2";
static uint64_t tsc_boot;
static uint64_t ns_mult; /* ns per tick, fixed point with 24 fraction bits */

/* PIT channel 2, gated and read back through port 0x61 (the PC speaker
 * port): the TSC ticks of `count` PIT ticks, or 0 if that port does not
 * work (QEMU microvm has a PIT but no port 0x61: it reads 0xff). */
static uint64_t calibrate_ch2(uint32_t count)
{
	uint64_t t0, t1;
	uint8_t gate = inb(PIT_GATE_PORT);

	outb(PIT_GATE_PORT, (uint8_t)((gate & ~0x02u) | 0x01u)); /* gate on, speaker off */
	outb(PIT_CMD, 0xb0);          /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(PIT_CH2, (uint8_t)count);
	outb(PIT_CH2, (uint8_t)(count >> 8)); /* loading the count starts it; OUT2 low */
	t0 = rdtsc();
	if (inb(PIT_GATE_PORT) & 0x20) {
		/* OUT2 already high right after the load: nothing behind 0x61. */
		outb(PIT_GATE_PORT, gate);
		return 0;
	}
	/* Mode 0: OUT2 goes high at terminal count. Bounded in case there is no
	 * PIT (the calibration is then wrong, but the kernel still runs). */
	for (uint64_t spins = 0; !(inb(PIT_GATE_PORT) & 0x20) && spins < 100000000ull; spins++)
		;
	t1 = rdtsc();
	outb(PIT_GATE_PORT, gate);
	return t1 - t0;
}

/* PIT channel 0 (always gated on), read with the latch command: count
 * `count` ticks of its down-counter. Interrupts are off, so the IRQ 0 it
 * raises on every wrap goes nowhere. Afterwards channel 0 gets back the
 * BIOS setting (mode 3, divisor 65536: 18.2 Hz). 0 if it does not count. */
static uint64_t calibrate_ch0(uint32_t count)
{
	uint64_t t0, t1;
	uint32_t elapsed = 0, spins = 0;
	uint16_t prev, cur;

	outb(PIT_CMD, 0x34);          /* channel 0, lobyte/hibyte, mode 2 (rate), binary */
	outb(PIT_CH0, 0);
	outb(PIT_CH0, 0);             /* divisor 65536 */
	outb(PIT_CMD, 0x00);          /* latch channel 0 */
	prev = (uint16_t)(inb(PIT_CH0) | (inb(PIT_CH0) << 8));
	t0 = rdtsc();
	while (elapsed < count) {
		outb(PIT_CMD, 0x00);
		cur = (uint16_t)(inb(PIT_CH0) | (inb(PIT_CH0) << 8));
		elapsed += (uint16_t)(prev - cur); /* counts down, wraps at 65536 */
		prev = cur;
		if (++spins > 50000000u)
			return 0;
	}
	t1 = rdtsc();
	outb(PIT_CMD, 0x36);          /* channel 0, mode 3, divisor 65536 */
	outb(PIT_CH0, 0);
	outb(PIT_CH0, 0);
	return (t1 - t0) * count / elapsed;
}

void time_init(void)
{
	uint32_t count = PIT_HZ * CALIB_MS / 1000u; /* 59659 ticks: fits 16 bits */
	uint64_t ticks = calibrate_ch2(count);

	if (ticks == 0) {
		kprintf("time: port 0x61 (PIT channel 2 gate) absent; calibrating with PIT "
			"channel 0\n");
		ticks = calibrate_ch0(count);
		tsc_source = "PIT channel 0";
	}
	tsc_hz = ticks * PIT_HZ / count;
	if (tsc_hz < 100000000ull) {
		kprintf("time: TSC calibration gave %llu Hz; assuming 1 GHz\n",
			(unsigned long long)tsc_hz);
		tsc_hz = 1000000000ull;
	}
	/* ns = ticks * 1e9 / hz as a multiply by (1e9 << 24) / hz: below 2^28
	 * for any hz >= 100 MHz, precise to better than 1e-6 above 1 GHz. */
	ns_mult = (1000000000ull << 24) / tsc_hz;
	tsc_boot = rdtsc();
}

uint64_t time_now_ns(void)
{
	uint64_t t = rdtsc() - tsc_boot;

	/* (t * ns_mult) >> 24 without a 128-bit product: split t at bit 32
	 * (low half * mult < 2^60; the high half is zero for the first ~1.4 s
	 * at 3 GHz and grows slowly). */
	return ((t >> 32) * ns_mult << 8) + (((t & 0xffffffffull) * ns_mult) >> 24);
}

void time_delay_us(uint32_t us)
{
	uint64_t end = time_now_ns() + (uint64_t)us * 1000u;

	while (time_now_ns() < end)
		cpu_relax();
}

uint64_t time_tsc_hz(void)
{
	return tsc_hz;
}

const char *time_source(void)
{
	return tsc_source;
}
