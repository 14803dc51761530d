/* SPDX-License-Identifier: MIT */
/*
 * Boot path of the x86_64 example kernel: multiboot1 and multiboot2
 * headers, 32-bit entry, identity paging for the low 4 GiB, switch to long
 * mode, call kmain(). Also the CPU exception and interrupt entry stubs (the
 * C side is in trap.c).
 *
 * One binary, two protocols: QEMU -kernel and GRUB `multiboot` use the
 * multiboot1 header, GRUB `multiboot2` (BIOS and UEFI) the multiboot2 one.
 * Both enter at _start32 in the same machine state (Multiboot 0.6.96
 * section 3.2, Multiboot2 section 3.3): 32-bit protected mode, paging off,
 * interrupts off, EAX = the protocol's magic (0x2BADB002 / 0x36D76289), EBX
 * = physical address of the boot information; the GDT and the stack are
 * not ours to use. kmain() tells the two apart by the magic.
 *
 * Paging: PML4[0] -> one PDPT whose first four entries point to four page
 * directories of 512 x 2 MiB pages each, so virtual == physical for every
 * address below 4 GiB. Everything starts write-back cacheable; mm.c later
 * sets PCD|PWT (uncached) on the 2 MiB pages that hold MMIO (NVMe BARs, the
 * PCIe ECAM window) once PCI enumeration knows where they are.
 */

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_HEADER_FLAGS 0x00000002 /* bit 1: pass memory info (mem_*, mmap_*) */

#define MB2_HEADER_MAGIC 0xE85250D6
#define MB2_ARCH_I386 0            /* 32-bit protected mode entry */
#define MB2_HTAG_END 0
#define MB2_HTAG_INFO_REQUEST 1
#define MB2_HTAG_OPTIONAL 1        /* tag flag: the loader may ignore the tag */

#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xC0000080
#define EFER_LME 0x00000100

#define PTE_P 0x001  /* present */
#define PTE_RW 0x002 /* writable */
#define PTE_PS 0x080 /* 2 MiB page (in a page directory entry) */

#define SEL_CODE64 0x08
#define SEL_DATA 0x10

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

/* ---- Multiboot headers: first bytes of the first loaded section ----------
 * Multiboot1: within the first 8 KiB of the file, 4-byte aligned.
 * Multiboot2: within the first 32 KiB, 8-byte aligned; a list of 8-byte
 * aligned tags ending with an end tag. The ELF program headers say where to
 * load, so neither header needs the address fields. */
	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long MB_HEADER_MAGIC
	.long MB_HEADER_FLAGS
	.long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

	.balign 8
multiboot2_header:
	.long MB2_HEADER_MAGIC
	.long MB2_ARCH_I386
	.long multiboot2_header_end - multiboot2_header
	.long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (multiboot2_header_end - multiboot2_header))
	/* Information request: the tags kmain() reads (command line, memory
	 * map, ACPI RSDP old and new). GRUB gives them anyway; marked optional
	 * so a loader that lacks one still boots the kernel. */
	.balign 8
	.word MB2_HTAG_INFO_REQUEST, MB2_HTAG_OPTIONAL
	.long 8 + 4 * 4
	.long 1, 6, 14, 15
	/* No entry-address, framebuffer or EFI-boot-services tags: the loader
	 * exits UEFI boot services and enters _start32 (the ELF entry) in
	 * 32-bit protected mode, like multiboot1. */
	.balign 8
	.word MB2_HTAG_END, 0
	.long 8
multiboot2_header_end:

/* ---- 32-bit entry --------------------------------------------------------- */
	.section .boot32, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	/* Keep the boot loader's magic and info pointer (in .data, which the
	 * .bss clearing below does not touch). */
	movl %eax, boot_mb_magic
	movl %ebx, boot_mb_info

	/* Long mode present? CPUID 80000001h EDX bit 29. */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc no_long_mode

	/* Clear .bss (QEMU and GRUB do it already; a plainer loader may not). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	movl $boot_stack_top, %esp

	/* PML4[0] -> PDPT. */
	movl $boot_pdpt, %eax
	orl $(PTE_P | PTE_RW), %eax
	movl %eax, boot_pml4

	/* PDPT[0..3] -> the four page directories (1 GiB each). */
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_RW), %eax
	xorl %ecx, %ecx
1:	movl %eax, boot_pdpt(, %ecx, 8)
	addl $0x1000, %eax
	incl %ecx
	cmpl $4, %ecx
	jb 1b

	/* 2048 directory entries: entry i maps [i * 2 MiB, (i + 1) * 2 MiB).
	 * The high halves stay zero (from the .bss clear): all below 4 GiB. */
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_RW | PTE_PS), %eax
	movl %eax, boot_pd(, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jb 2b

	/* CR3, then PAE, then EFER.LME, then CR0.PG: the order the Intel SDM
	 * (vol. 3A, 10.8.5 "Initializing IA-32e Mode") requires. */
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0

	/* Now in compatibility mode; a far jump to a 64-bit code segment
	 * enters 64-bit mode. */
	lgdt boot_gdt_ptr
	ljmp $SEL_CODE64, $start64

no_long_mode:
	movl $no_long_mode_msg, %esi
3:	lodsb
	testb %al, %al
	jz 4f
	movw $COM1, %dx
	outb %al, %dx
	jmp 3b
4:	movw $DEBUG_EXIT_PORT, %dx /* exit status 3 (fail) under QEMU */
	movl $1, %eax
	outl %eax, %dx
5:	hlt
	jmp 5b

/* ---- 64-bit entry --------------------------------------------------------- */
	.text
	.code64
start64:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp /* 16-byte aligned, as the ABI wants at a call */
	xorl %ebp, %ebp
	movl boot_mb_magic(%rip), %edi /* kmain(magic, info) */
	movl boot_mb_info(%rip), %esi
	call kmain
6:	cli
	hlt
	jmp 6b

/* ---- CPU exception stubs ---------------------------------------------------
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some vectors, an error
 * code. Each stub makes the frame uniform (a zero where the CPU pushes no
 * error code), pushes its vector and calls trap_handler(frame), which
 * reports and ends the run; it never returns. */
.macro ISR_NOERR n
isr_\n:
	pushq $0
	pushq $\n
	jmp isr_common
.endm
.macro ISR_ERR n
isr_\n:
	pushq $\n
	jmp isr_common
.endm

	ISR_NOERR 0
	ISR_NOERR 1
	ISR_NOERR 2
	ISR_NOERR 3
	ISR_NOERR 4
	ISR_NOERR 5
	ISR_NOERR 6
	ISR_NOERR 7
	ISR_ERR 8
	ISR_NOERR 9
	ISR_ERR 10
	ISR_ERR 11
	ISR_ERR 12
	ISR_ERR 13
	ISR_ERR 14
	ISR_NOERR 15
	ISR_NOERR 16
	ISR_ERR 17
	ISR_NOERR 18
	ISR_NOERR 19
	ISR_NOERR 20
	ISR_ERR 21
	ISR_NOERR 22
	ISR_NOERR 23
	ISR_NOERR 24
	ISR_NOERR 25
	ISR_NOERR 26
	ISR_NOERR 27
	ISR_NOERR 28
	ISR_ERR 29
	ISR_ERR 30
	ISR_NOERR 31

isr_common:
	movq %rsp, %rdi  /* struct trap_frame * */
	andq $-16, %rsp  /* ABI stack alignment for the call */
	call trap_handler
7:	cli
	hlt
	jmp 7b

/* ---- Interrupt stubs, vectors 32-255 ----------------------------------------
 * Interrupts (LAPIC timer, MSI-X, spurious) return to the interrupted code,
 * so the stub saves every register the C ABI lets irq_dispatch() clobber
 * (rax, rcx, rdx, rsi, rdi, r8-r11; the kernel is built with
 * -mgeneral-regs-only, so there is no SSE state to save, and with
 * -mno-red-zone, so nothing lives below the interrupted RSP).
 * Each stub is 16 bytes apart: stub for vector v = irq_stubs + 16 * (v - 32). */
	.balign 16
	.globl irq_stubs
irq_stubs:
	.set irq_vec, 32
	.rept 224
	.balign 16
	pushq $irq_vec
	jmp irq_common
	.set irq_vec, irq_vec + 1
	.endr

irq_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbp
	movq %rsp, %rbp
	movq 80(%rsp), %rdi /* the vector the stub pushed, under the 10 saved registers */
	andq $-16, %rsp     /* ABI stack alignment for the call */
	cld
	call irq_dispatch
	movq %rbp, %rsp
	popq %rbp
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $8, %rsp       /* the vector */
	iretq

	.section .rodata
	.balign 8
	.globl isr_stub_table
isr_stub_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr_\n
	.endr

no_long_mode_msg:
	.asciz "uStor: this CPU has no long mode (x86_64); stopping.\r\n"

/* GDT: null, 64-bit code (L=1, DPL 0), data. */
	.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_ptr:
	.word boot_gdt_end - boot_gdt - 1
	.quad boot_gdt

/* ---- Data ------------------------------------------------------------------ */
	.data
	.balign 4
	.globl boot_mb_magic, boot_mb_info
boot_mb_magic:
	.long 0
boot_mb_info:
	.long 0

	.bss
	.balign 4096
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
boot_stack:
	.skip 64 * 1024
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
