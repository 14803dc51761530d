/* SPDX-License-Identifier: MIT */
/*
 * The other CPUs (bench=fio uses them; smp=0 leaves them asleep).
 *
 * The ACPI MADT lists the local APIC of every processor; each enabled one
 * other than the boot CPU is started with INIT, then SIPI twice (Intel SDM
 * 3A 9.4.4), at the real-mode trampoline of trampoline.S copied to
 * SMP_TRAMP_BASE. The trampoline takes the boot CPU's page tables (the same
 * identity map), a stack of its own (SMP_STACK bytes, in .bss) and calls
 * ap_main, which loads the IDT, points the GS base at the CPU's per-CPU
 * data (struct percpu: its index is what hal->cpu_id returns), enables
 * its local APIC and sleeps in hlt until smp_run_on hands it work and
 * sends the wake IPI (an idle CPU must not spin: under TCG every virtual CPU
 * is a host thread, and a spinning one slows the CPU that measures). The
 * work itself runs with interrupts off, polling.
 */
#include "bench.h"

#define SMP_TRAMP_BASE 0x8000u
#define SMP_MAX_CPUS 8u
#define SMP_STACK (32u * 1024u)
#define MSR_GS_BASE 0xc0000101u

struct percpu {
	uint32_t index;                 /* first member: read as %gs:0 */
	uint32_t apic_id;
	volatile int online;
	void (*volatile fn)(void *);
	void *volatile arg;
	volatile int busy;              /* fn given and not yet finished */
};

extern const uint8_t smp_tramp_start[], smp_tramp_end[];
extern uint64_t smp_tramp_cr3, smp_tramp_stack, smp_tramp_entry;
extern uint64_t boot_pml4[512];

static struct percpu cpus[SMP_MAX_CPUS];
static uint8_t stacks[SMP_MAX_CPUS][SMP_STACK] __attribute__((aligned(16)));
static unsigned ncpus = 1;
static int started;                     /* GS bases are set */
static struct percpu *volatile booting; /* the CPU the trampoline is starting */

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ __volatile__("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

unsigned smp_cpus(void)
{
	return ncpus;
}

uint32_t smp_cpu_index(void)
{
	uint32_t i;

	if (!started)
		return 0;
	__asm__ __volatile__("movl %%gs:0, %0" : "=r"(i));
	return i;
}

void ap_main(void);
void ap_main(void)
{
	struct percpu *pc = booting;

	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)pc);
	trap_load_idt();
	apic_ap_init();
	__atomic_store_n(&pc->online, 1, __ATOMIC_RELEASE);
	for (;;) {
		void (*fn)(void *) = __atomic_load_n(&pc->fn, __ATOMIC_ACQUIRE);

		if (fn == NULL) {
			/* Sleep until the wake IPI (sti takes effect after hlt
			 * starts, so an IPI sent after the check still wakes). */
			__asm__ __volatile__("sti; hlt; cli" : : : "memory");
			continue;
		}
		fn(pc->arg);
		pc->fn = NULL;
		__atomic_store_n(&pc->busy, 0, __ATOMIC_RELEASE);
	}
}

void smp_run_on(unsigned cpu, void (*fn)(void *), void *arg)
{
	if (cpu == 0 || cpu >= ncpus) {
		fn(arg);
		return;
	}
	struct percpu *pc = &cpus[cpu];

	pc->busy = 1;
	pc->arg = arg;
	__atomic_store_n(&pc->fn, fn, __ATOMIC_RELEASE);
	apic_send_ipi(pc->apic_id, 0x00004000u | IRQ_VEC_WAKE); /* fixed, assert */
}

static void wake_handler(void *arg, unsigned vector)
{
	(void)arg;
	(void)vector; /* only ends the hlt; irq_dispatch sends the EOI */
}

void smp_wait(unsigned cpu)
{
	if (cpu == 0 || cpu >= ncpus)
		return;
	while (__atomic_load_n(&cpus[cpu].busy, __ATOMIC_ACQUIRE))
		cpu_relax();
}

/* Start one CPU; 0 once it runs ap_main. */
static int start_cpu(struct percpu *pc, unsigned index)
{
	uint64_t end;

	booting = pc;
	smp_tramp_stack = (uint64_t)(uintptr_t)(stacks[index] + SMP_STACK);
	/* The copy at SMP_TRAMP_BASE holds the words, not the linked image. */
	memcpy((void *)(uintptr_t)SMP_TRAMP_BASE, smp_tramp_start,
	       (size_t)(smp_tramp_end - smp_tramp_start));
	apic_send_ipi(pc->apic_id, 0x00004500u);             /* INIT, assert */
	time_delay_us(10000);
	for (unsigned k = 0; k < 2; k++) {
		apic_send_ipi(pc->apic_id, 0x00004600u | (SMP_TRAMP_BASE >> 12)); /* SIPI */
		/* 1 ms after the first SIPI, then up to 2 s: under TCG on a busy
		 * host the new CPU's thread may wait long for a host core. */
		end = time_now_ns() + (k == 0 ? 1000000u : 2000000000u);
		while (time_now_ns() < end)
			if (__atomic_load_n(&pc->online, __ATOMIC_ACQUIRE))
				return 0;
	}
	return -1;
}

unsigned smp_init(void)
{
	const uint8_t *madt = acpi_table_find("APIC");
	uint32_t len, self;

	if (madt == NULL) {
		kprintf("smp: no ACPI MADT: one CPU\n");
		return ncpus;
	}
	if (!apic_active() && apic_init(0) != 0) /* no timer: it would stay pending */
		return ncpus;
	self = apic_id();
	irq_register(IRQ_VEC_WAKE, wake_handler, NULL);
	cpus[0].index = 0;
	cpus[0].apic_id = self;
	cpus[0].online = 1;
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)&cpus[0]);
	started = 1;

	/* The trampoline's words, fixed for every CPU. */
	smp_tramp_cr3 = (uint64_t)(uintptr_t)boot_pml4;
	smp_tramp_entry = (uint64_t)(uintptr_t)ap_main;

	memcpy(&len, madt + 4, 4);
	for (uint32_t off = 44; off + 2 <= len;) {
		uint8_t type = madt[off], elen = madt[off + 1];
		uint32_t flags;

		if (elen < 2 || off + elen > len)
			break;
		if (type == 0 && elen >= 8) { /* Processor Local APIC */
			memcpy(&flags, madt + off + 4, 4);
			uint8_t id = madt[off + 3];

			if ((flags & 1u) && id != self && ncpus < SMP_MAX_CPUS) {
				struct percpu *pc = &cpus[ncpus];

				pc->index = ncpus;
				pc->apic_id = id;
				if (start_cpu(pc, ncpus) == 0)
					ncpus++;
				else
					kprintf("smp: CPU with APIC id %u did not start\n", id);
			}
		}
		off += elen;
	}
	kprintf("smp: %u CPU(s) running (APIC ids from the ACPI MADT; trampoline at 0x%x)\n",
		ncpus, SMP_TRAMP_BASE);
	return ncpus;
}
