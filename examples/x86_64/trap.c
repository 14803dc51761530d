/* SPDX-License-Identifier: MIT */
/*
 * The IDT. Vectors 0-31, CPU exceptions: the handlers print what happened
 * (vector, error code, RIP, CR2 for page faults) and end the run as a
 * failure, so a wild pointer shows up as a readable line instead of a
 * silent triple fault. Vectors 32-255, interrupts: irq_dispatch() calls the
 * handler registered for the vector (apic.c: the timer; selftest.c: NVMe
 * MSI-X; anything else is counted as unexpected) and signals end-of-interrupt
 * to the local APIC.
 *
 * Interrupts are only ever enabled inside irq_wait() (apic.c): in polling
 * mode (the default) never, in interrupt mode (irq=1) only while the CPU
 * halts waiting for one. So a handler never runs in the middle of library
 * code, and the kernel needs no locks.
 */
#include "kernel.h"

struct idt_entry {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t zero;
};
_Static_assert(sizeof(struct idt_entry) == 16, "IDT entry size");

struct trap_frame { /* as built by the stubs in boot.S */
	uint64_t vector;
	uint64_t error;
	uint64_t rip, cs, rflags, rsp, ss;
};

extern const uint64_t isr_stub_table[32];
extern const char irq_stubs[]; /* boot.S: 224 stubs, 16 bytes apart, for vectors 32-255 */
static struct idt_entry idt[256];

struct irq_slot {
	irq_handler_fn fn;
	void *arg;
};
static struct irq_slot irq_table[256];
static volatile uint64_t irq_unexpected_count; /* written by interrupt handlers */

static void idt_set(unsigned v, uint64_t a)
{
	idt[v].offset_lo = (uint16_t)a;
	idt[v].selector = 0x08;   /* 64-bit code segment of boot.S */
	idt[v].ist = 0;
	idt[v].type_attr = 0x8e;  /* present, DPL 0, 64-bit interrupt gate (clears IF) */
	idt[v].offset_mid = (uint16_t)(a >> 16);
	idt[v].offset_hi = (uint32_t)(a >> 32);
	idt[v].zero = 0;
}

void trap_init(void)
{
	for (unsigned i = 0; i < 32; i++)
		idt_set(i, isr_stub_table[i]);
	for (unsigned i = 32; i < 256; i++)
		idt_set(i, (uint64_t)(uintptr_t)(irq_stubs + 16u * (i - 32u)));
	trap_load_idt();
}

void trap_load_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;

	idtr.limit = sizeof(idt) - 1;
	idtr.base = (uint64_t)(uintptr_t)idt;
	__asm__ __volatile__("lidt %0" : : "m"(idtr));
}

static const char *const trap_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM no FPU", "#DF double fault", "coprocessor",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved", "#MF x87 error",
	"#AC alignment check", "#MC machine check", "#XM SIMD error", "#VE virtualization",
	"#CP control protection", "reserved", "reserved", "reserved", "reserved", "reserved",
	"reserved", "reserved", "#VC", "#SX security", "reserved",
};

void trap_handler(const struct trap_frame *f);

void trap_handler(const struct trap_frame *f)
{
	uint64_t cr2;

	__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
	kprintf("\nUSTOR-PANIC CPU exception %llu (%s) error=0x%llx rip=0x%llx rsp=0x%llx "
		"rflags=0x%llx",
		(unsigned long long)f->vector, trap_names[f->vector & 31],
		(unsigned long long)f->error, (unsigned long long)f->rip,
		(unsigned long long)f->rsp, (unsigned long long)f->rflags);
	if (f->vector == 14)
		kprintf(" cr2=0x%llx%s", (unsigned long long)cr2,
			cr2 >= KERNEL_IDENTITY_MAP_END ? " (above 4 GiB: only mapped MMIO is there)" : "");
	kprintf("\n");
	kernel_exit(KERNEL_EXIT_FAIL);
}

void irq_register(unsigned vector, irq_handler_fn fn, void *arg)
{
	if (vector < 32 || vector > 255)
		return;
	irq_table[vector].arg = arg;
	irq_table[vector].fn = fn;
}

uint64_t irq_unexpected(void)
{
	return irq_unexpected_count;
}

void irq_dispatch(uint64_t vector);

/* Called by the stubs in boot.S with interrupts disabled (interrupt gate). */
void irq_dispatch(uint64_t vector)
{
	const struct irq_slot *s = &irq_table[vector & 255u];

	if (s->fn != NULL)
		s->fn(s->arg, (unsigned)vector);
	else
		irq_unexpected_count++;
	/* The local APIC delivered it and waits for an EOI before it delivers
	 * anything of equal or lower priority; its spurious vector and the
	 * (masked, remapped) 8259 PICs' spurious IRQ 7/15 take none. */
	if (vector != IRQ_VEC_SPURIOUS && (vector < IRQ_VEC_PIC_BASE || vector >= IRQ_VEC_PIC_BASE + 16))
		apic_eoi();
}
