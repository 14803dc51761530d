/* SPDX-License-Identifier: MIT */
/*
 * Real mode -> long mode trampoline for the other CPUs (smp.c). smp.c
 * copies the bytes between smp_tramp_start and smp_tramp_end to
 * SMP_TRAMP_BASE (below 1 MiB, 4 KiB aligned: the SIPI vector is its page
 * number), fills in the three words at the end (CR3, stack, entry) and
 * sends INIT-SIPI-SIPI. A CPU starting there in real mode at
 * SMP_TRAMP_BASE:0 loads the trampoline's own GDT, enters protected mode,
 * turns on PAE, loads the boot CPU's page tables (CR3), sets EFER.LME,
 * turns paging on, far-jumps into 64-bit mode, takes its stack and calls
 * the entry (smp.c ap_main), which never returns.
 *
 * Everything is addressed as SMP_TRAMP_BASE + (label - smp_tramp_start):
 * the code runs at a different address than the one it is linked at.
 */
#define SMP_TRAMP_BASE 0x8000
#define T(x) (SMP_TRAMP_BASE + ((x) - smp_tramp_start))

	.section .rodata
	.balign 16
	.globl smp_tramp_start, smp_tramp_end, smp_tramp_cr3, smp_tramp_stack, smp_tramp_entry
	.code16
smp_tramp_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl T(tramp_gdt_ptr)
	movl %cr0, %eax
	orl $1, %eax                   /* PE */
	movl %eax, %cr0
	ljmpl $0x18, $T(tramp_pm32)

	.code32
tramp_pm32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax                /* PAE */
	movl %eax, %cr4
	movl T(smp_tramp_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx         /* EFER */
	rdmsr
	orl $0x100, %eax               /* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax          /* PG */
	movl %eax, %cr0
	ljmpl $0x08, $T(tramp_lm64)

	.code64
tramp_lm64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movq T(smp_tramp_stack), %rsp
	xorl %ebp, %ebp
	movq T(smp_tramp_entry), %rax
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 16
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff       /* 0x08: 64-bit code, as in boot.S (the IDT's selector) */
	.quad 0x00cf92000000ffff       /* 0x10: data, as in boot.S */
	.quad 0x00cf9a000000ffff       /* 0x18: 32-bit code, for the step through protected mode */
tramp_gdt_end:
tramp_gdt_ptr:
	.word tramp_gdt_end - tramp_gdt - 1
	.long T(tramp_gdt)
	.balign 8
smp_tramp_cr3:
	.quad 0
smp_tramp_stack:
	.quad 0
smp_tramp_entry:
	.quad 0
smp_tramp_end:

	.section .note.GNU-stack, "", @progbits
