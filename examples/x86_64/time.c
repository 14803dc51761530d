/* SPDX-License-Identifier: MIT */
/*
 * Monotonic time from the TSC, calibrated once at boot against PIT channel 2
 * (1.193182 MHz, gated through port 0x61, its output readable there too, so
 * no interrupt is needed). Assumes an invariant TSC, as every x86_64 CPU of
 * the last decade and QEMU have.
 */
#include "kernel.h"

#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE_PORT 0x61 /* bit 0: channel 2 gate, bit 1: speaker, bit 5: OUT2 */
#define CALIB_MS 50u

static uint64_t tsc_hz;
static uint64_t tsc_boot;
static uint64_t ns_mult; /* ns per tick, fixed point with 24 fraction bits */

void time_init(void)
{
	uint32_t count = PIT_HZ * CALIB_MS / 1000u; /* 59659 ticks: fits 16 bits */
	uint64_t t0, t1;
	uint8_t gate = inb(PIT_GATE_PORT);

	outb(PIT_GATE_PORT, (uint8_t)((gate & ~0x02u) | 0x01u)); /* gate on, speaker off */
	outb(PIT_CMD, 0xb0);          /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(PIT_CH2, (uint8_t)count);
	outb(PIT_CH2, (uint8_t)(count >> 8)); /* loading the count starts it; OUT2 low */
	t0 = rdtsc();
	/* Mode 0: OUT2 goes high at terminal count. Bounded in case there is no
	 * PIT (the calibration is then wrong, but the kernel still runs). */
	for (uint64_t spins = 0; !(inb(PIT_GATE_PORT) & 0x20) && spins < 100000000ull; spins++)
		;
	t1 = rdtsc();
	outb(PIT_GATE_PORT, gate);

	tsc_hz = (t1 - t0) * PIT_HZ / count;
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
