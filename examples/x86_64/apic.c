/* SPDX-License-Identifier: MIT */
/*
 * Local APIC (xAPIC mode), its timer, and the legacy 8259 PICs: what
 * interrupt mode (irq=1) needs so NVMe MSI-X messages reach a handler and a
 * halted CPU always wakes up again.
 *
 *   - The 8259 PICs are remapped to vectors 0x20-0x2F (firmware leaves
 *     them at 0x08/0x70, on top of CPU exceptions) and fully masked: no
 *     legacy IRQ is used. LINT0 (where the PICs' output arrives in virtual
 *     wire mode) is masked as well.
 *   - The local APIC's registers are 4 KiB of MMIO at the address in the
 *     IA32_APIC_BASE MSR (0xFEE00000 by default), mapped uncached. Setting
 *     bit 8 of the spurious-interrupt vector register software-enables it
 *     (Intel SDM vol. 3A, 11.4.7.1 / 11.9).
 *   - The timer, calibrated against the TSC, is the backstop of irq_wait():
 *     armed one-shot (SDM 11.5.4) for one period just before `hlt` and
 *     stopped after it, so `hlt` always ends within one period even if a
 *     device's interrupt never comes (HARDWARE.md item 8). It is not left
 *     running periodic: between sleeps the CPU runs with interrupts off,
 *     and a timer interrupt pending all that time makes QEMU's TCG leave
 *     every translated block to look at it (the example kernel measured 2
 *     to 4 times fewer IOPS that way).
 *
 * MSI/MSI-X messages are memory writes to 0xFEE00000 | (APIC ID << 12) with
 * the vector in the data; the local APIC accepts them without further setup.
 */
#include "kernel.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EXTD (1ull << 10)   /* x2APIC mode */
#define APIC_BASE_EN (1ull << 11)     /* global enable */
#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ull

/* Register offsets (each 32 bits, 16-byte aligned). */
#define LAPIC_ID 0x020
#define LAPIC_VER 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define SVR_ENABLE 0x100
#define LVT_MASKED 0x10000
#define TIMER_DIV_16 0x3

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

static volatile uint8_t *lapic;
static volatile uint64_t timer_ticks;
static uint32_t timer_count;  /* one period, in timer counts (0: no timer) */

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ __volatile__("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(lapic + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(lapic + reg) = v;
}

/* ICW1-ICW4 (8259A data sheet): cascade, vectors 0x20 / 0x28, then mask
 * all 16 lines. Remapping first means even a spurious IRQ 7/15, which a
 * mask cannot stop, lands on a harmless vector. */
static void pic_remap_and_mask(void)
{
	outb(PIC1_CMD, 0x11);  /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, IRQ_VEC_PIC_BASE);     /* ICW2: vector base */
	outb(PIC2_DATA, IRQ_VEC_PIC_BASE + 8);
	outb(PIC1_DATA, 0x04); /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02); /* ICW3: slave identity 2 */
	outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff); /* OCW1: mask everything */
	outb(PIC2_DATA, 0xff);
}

static void timer_handler(void *arg, unsigned vector)
{
	(void)arg;
	(void)vector;
	timer_ticks++;
}

int apic_init(uint32_t timer_period_us)
{
	uint32_t a, b, c, d;
	uint64_t base;

	__asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1u), "c"(0u));
	if (!(d & (1u << 9))) {
		kprintf("apic: this CPU has no local APIC (CPUID.1:EDX bit 9)\n");
		return -1;
	}
	pic_remap_and_mask();

	base = rdmsr(MSR_APIC_BASE);
	if (base & APIC_BASE_EXTD) {
		/* Firmware left x2APIC mode on; going back to xAPIC is only
		 * allowed through the disabled state (SDM 11.12.5). */
		base &= ~(APIC_BASE_EN | APIC_BASE_EXTD);
		wrmsr(MSR_APIC_BASE, base);
	}
	wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN); /* globally enabled, xAPIC mode */
	base = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;
	if (mm_map_uncached(base, 4096) != 0) {
		kprintf("apic: cannot map the local APIC at 0x%llx\n", (unsigned long long)base);
		return -1;
	}
	lapic = (volatile uint8_t *)(uintptr_t)base;

	irq_register(IRQ_VEC_TIMER, timer_handler, NULL);
	lapic_write(LAPIC_TPR, 0);                          /* accept every priority */
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);           /* no ExtINT from the PICs */
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_SVR, SVR_ENABLE | IRQ_VEC_SPURIOUS); /* software enable */
	lapic_write(LAPIC_ESR, 0);                          /* clear error status (write first) */
	lapic_write(LAPIC_EOI, 0);                          /* nothing stays in service */

	if (timer_period_us == 0) {
		/* No timer (smp.c: IPIs only). A periodic interrupt that stays
		 * pending while this CPU runs with interrupts off would make
		 * QEMU's TCG leave every translated block to check it. */
		kprintf("apic: local APIC id %u at 0x%llx (xAPIC), no timer\n", apic_id(),
			(unsigned long long)base);
		return 0;
	}
	/* Calibrate: count down from the maximum for 10 ms of TSC time. */
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
	time_delay_us(10000);
	uint32_t left = lapic_read(LAPIC_TIMER_CUR);
	uint64_t per_10ms = 0xffffffffull - left;
	uint64_t count = per_10ms * timer_period_us / 10000u;
	lapic_write(LAPIC_TIMER_INIT, 0);
	if (count == 0 || count > 0xffffffffull) {
		kprintf("apic: timer calibration failed (%llu counts in 10 ms)\n",
			(unsigned long long)per_10ms);
		return -1;
	}
	lapic_write(LAPIC_LVT_TIMER, IRQ_VEC_TIMER); /* one-shot, armed by irq_wait */
	timer_count = (uint32_t)count;

	kprintf("apic: local APIC id %u version 0x%02x at 0x%llx (xAPIC), timer %u us per sleep "
		"(%llu counts, divide 16, %llu MHz bus), 8259 PICs remapped to 0x%02x and masked\n",
		apic_id(), lapic_read(LAPIC_VER) & 0xffu, (unsigned long long)base,
		timer_period_us, (unsigned long long)count,
		(unsigned long long)(per_10ms * 16u / 10000u), IRQ_VEC_PIC_BASE);
	return 0;
}

int apic_active(void)
{
	return lapic != NULL;
}

void apic_ap_init(void)
{
	if (lapic == NULL)
		return;
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_SVR, SVR_ENABLE | IRQ_VEC_SPURIOUS);
	lapic_write(LAPIC_EOI, 0);
}

void apic_send_ipi(uint32_t dest, uint32_t icr_low)
{
	if (lapic == NULL)
		return;
	lapic_write(0x310, dest << 24);   /* ICR high: destination APIC ID */
	lapic_write(0x300, icr_low);      /* ICR low: sends */
	for (unsigned i = 0; i < 1000000u && (lapic_read(0x300) & (1u << 12)); i++)
		cpu_relax();                  /* delivery status: wait until sent */
}

uint32_t apic_id(void)
{
	return lapic != NULL ? lapic_read(LAPIC_ID) >> 24 : 0;
}

void apic_eoi(void)
{
	if (lapic != NULL)
		lapic_write(LAPIC_EOI, 0);
}

uint64_t apic_timer_ticks(void)
{
	return timer_ticks;
}

void irq_wait(void)
{
	if (lapic == NULL) {
		cpu_relax(); /* no timer to wake us: never halt */
		return;
	}
	/* `sti` takes effect after the next instruction, so an interrupt that
	 * is already pending is taken inside `hlt` (which it ends), not before
	 * it: no wake-up is lost. The timer, armed for one period, ends `hlt`
	 * if nothing else does; it is stopped again before returning. */
	if (timer_count != 0)
		lapic_write(LAPIC_TIMER_INIT, timer_count);
	__asm__ __volatile__("sti; hlt; cli" : : : "memory");
	if (timer_count != 0)
		lapic_write(LAPIC_TIMER_INIT, 0);
}
