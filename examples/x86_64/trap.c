/* SPDX-License-Identifier: MIT */
/*
 * CPU exceptions: a 32-entry IDT whose handlers print what happened (vector,
 * error code, RIP, CR2 for page faults) and end the run as a failure, so a
 * wild pointer shows up as a readable line instead of a silent triple fault.
 * Interrupts stay disabled for the whole run (the kernel polls).
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
static struct idt_entry idt[32];

void trap_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;

	for (unsigned i = 0; i < 32; i++) {
		uint64_t a = isr_stub_table[i];

		idt[i].offset_lo = (uint16_t)a;
		idt[i].selector = 0x08;   /* 64-bit code segment of boot.S */
		idt[i].ist = 0;
		idt[i].type_attr = 0x8e;  /* present, DPL 0, 64-bit interrupt gate */
		idt[i].offset_mid = (uint16_t)(a >> 16);
		idt[i].offset_hi = (uint32_t)(a >> 32);
		idt[i].zero = 0;
	}
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
			cr2 >= KERNEL_IDENTITY_MAP_END ? " (above the 4 GiB identity map)" : "");
	kprintf("\n");
	kernel_exit(KERNEL_EXIT_FAIL);
}
