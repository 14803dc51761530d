/* SPDX-License-Identifier: MIT */
/*
 * The x86_64 example kernel: declarations shared by its files.
 *
 * Memory model: the boot code identity-maps the low 4 GiB (virtual ==
 * physical == bus address, no IOMMU), so a pointer below 4 GiB is also the
 * address a PCI device uses for DMA. Above 4 GiB only MMIO is mapped (still
 * identity, uncached), on demand: firmware may put 64-bit BARs up there
 * (OVMF does).
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ustor/hal.h"

#define KERNEL_IDENTITY_MAP_END 0x100000000ull /* first unmapped address */
#define PAGE_SIZE 4096u

/* ---- Port I/O and CPU helpers --------------------------------------------- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	/* lfence: keep earlier loads (e.g. a PIT status read) before the TSC read. */
	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" : : : "memory");
}
static inline void cpu_halt_forever(void)
{
	for (;;)
		__asm__ __volatile__("cli; hlt" : : : "memory");
}

/* ---- console.c: COM1 serial console, formatting, QEMU exit ----------------- */
void console_init(void);
void console_write(const char *s, size_t len);
int console_getc(void); /* a received byte, or -1 if none is waiting (never blocks) */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* " temperature read-only ..." for the set SMART critical-warning bits. */
void smart_warning_text(uint8_t cw, char *buf, size_t size);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Leave QEMU through isa-debug-exit (exit status (code << 1) | 1); halts
 * if the device is absent (real hardware). */
__attribute__((noreturn)) void kernel_exit(uint32_t code);
#define KERNEL_EXIT_PASS 0u /* QEMU exit status 1 */
#define KERNEL_EXIT_FAIL 1u /* QEMU exit status 3 */

/* ---- trap.c: the IDT (CPU exceptions, interrupt dispatch) -------------------- */
void trap_init(void);
/* Interrupt vectors this kernel uses. */
#define IRQ_VEC_PIC_BASE 0x20   /* 8259 PICs, remapped here and masked (spurious only) */
#define IRQ_VEC_TIMER 0x40      /* LAPIC timer: the 1 ms backstop of irq_wait() */
#define IRQ_VEC_NVME_BASE 0x50  /* + 8 * controller + MSI-X entry */
#define IRQ_VEC_NVME_PER_CTRL 8
#define IRQ_VEC_WAKE 0xf0       /* IPI that wakes a halted CPU for work (smp.c) */
#define IRQ_VEC_SPURIOUS 0xff   /* LAPIC spurious vector */
typedef void (*irq_handler_fn)(void *arg, unsigned vector);
/* Run fn(arg, vector) when `vector` (32-255) arrives; EOI is sent for it. */
void irq_register(unsigned vector, irq_handler_fn fn, void *arg);
uint64_t irq_unexpected(void); /* interrupts on vectors without a handler */
void trap_load_idt(void);       /* load the IDT on this CPU (trap_init does it on the boot CPU) */

/* ---- apic.c: local APIC, its timer, the legacy PICs ---------------------------- */
/* Enable the local APIC (xAPIC, MMIO at the IA32_APIC_BASE address, mapped
 * uncached), remap and mask the 8259 PICs, set up the timer that irq_wait arms (none
 * for a period of 0). 0 on success, -1 (and a message) if there is no
 * usable APIC. Needs time_init. */
int apic_init(uint32_t timer_period_us);
int apic_active(void);          /* apic_init succeeded */
uint32_t apic_id(void);         /* this CPU's APIC ID (the MSI destination) */
/* Write the ICR: IPI `icr_low` (delivery mode, vector) to APIC ID `dest`;
 * waits until the APIC has sent it. */
void apic_send_ipi(uint32_t dest, uint32_t icr_low);
/* On another CPU (smp.c): software-enable its local APIC (the boot CPU's
 * apic_init must have run), every LVT masked, no timer. */
void apic_ap_init(void);
void apic_eoi(void);
uint64_t apic_timer_ticks(void);
/* Sleep until the next interrupt (sti; hlt; cli): at most one timer period
 * when the APIC runs; just a pause otherwise. Interrupts are enabled only here. */
void irq_wait(void);

/* ---- bootinfo.c: what the boot loader said, copied out of its structures ---------- */
#define BOOT_MMAP_MAX 128
struct boot_mmap {
	uint64_t base, len;
	uint32_t type;             /* 1 = available RAM */
};
struct boot_info {
	const char *protocol;      /* "multiboot1" or "multiboot2" */
	char cmdline[512];
	char loader[64];           /* boot loader name, "" if not given */
	int have_mem_upper;
	uint32_t mem_upper_kib;    /* KiB of RAM from 1 MiB up to the first hole */
	unsigned nmmap;
	int mmap_truncated;        /* more than BOOT_MMAP_MAX entries */
	struct boot_mmap mmap[BOOT_MMAP_MAX];
	uint8_t rsdp[36];          /* a copy of the ACPI RSDP (multiboot2 tags 14/15) */
	uint32_t rsdp_len;         /* 0: none given, scan the BIOS areas */
	uint32_t rsdp_tag;         /* 14 (ACPI 1.0) or 15 (ACPI 2.0+) */
};
extern struct boot_info boot_info;
/* Copy the loader's information (EAX magic, EBX address) into boot_info:
 * 0, or -1 for an unknown magic. */
int bootinfo_parse(uint32_t magic, uint32_t info_addr);

/* ---- mm.c: DMA page allocator and the page tables of the identity map ---------- */
int mm_init(const struct boot_info *bi, uintptr_t kernel_end);
void *page_alloc(size_t size, size_t align);   /* zeroed, NULL if out of memory */
void page_free(void *p, size_t size);
uint32_t mm_pages_used(void);
uint32_t mm_pages_total(void);
uintptr_t mm_region_start(void);
uintptr_t mm_region_end(void);
/* Make [base, base+len) MMIO-ready in the identity map: uncached (PCD|PWT)
 * below 4 GiB; above it, map it first (2 MiB pages, uncached). 0 on success,
 * -1 if the range is beyond the CPU's physical address width or the page
 * table pool is exhausted. */
int mm_map_uncached(uint64_t base, uint64_t len);

/* ---- time.c: TSC calibrated against the PIT ------------------------------------ */
void time_init(void);
uint64_t time_now_ns(void);
void time_delay_us(uint32_t us);
uint64_t time_tsc_hz(void);
const char *time_source(void); /* what the TSC was calibrated against */

/* ---- pci.c: configuration space (ECAM from ACPI MCFG, or ports CF8/CFC) --------- */
#define PCI_BDF(bus, dev, fn) (((uint32_t)(bus) << 8) | ((uint32_t)(dev) << 3) | (uint32_t)(fn))
#define PCI_BUS(bdf) (((bdf) >> 8) & 0xffu)
#define PCI_DEV(bdf) (((bdf) >> 3) & 0x1fu)
#define PCI_FN(bdf) ((bdf) & 0x7u)

struct pci_nvme {
	uint32_t bdf;
	uint16_t vendor, device;
	uint64_t bar0;       /* physical address; 0 = not assigned by firmware */
	uint64_t bar0_size;
	uint8_t bar0_64bit;
	uint8_t bar0_io;     /* BAR0 is an I/O BAR: not an NVMe register file */
};

/* One base address register, decoded and sized. */
struct pci_bar {
	uint64_t addr;       /* bus (= physical) address; 0 = not assigned by firmware */
	uint64_t size;       /* bytes; 0 = not implemented (or an I/O BAR: not sized) */
	uint8_t is64;        /* a 64-bit memory BAR: also spans the next slot */
	uint8_t io;          /* an I/O BAR */
	uint8_t prefetch;
};

/* A virtio-blk PCI function (vendor 1AF4h, device 1042h, or the
 * transitional 1001h with subsystem device ID 2). */
struct pci_vblk {
	uint32_t bdf;
	uint16_t vendor, device;
	uint16_t subsys;     /* subsystem device ID (the virtio type for 1001h) */
	struct pci_bar bar[6]; /* the upper slot of a 64-bit BAR stays zero */
};

void pci_init(void);
const char *pci_method(void); /* how config space is reached, for the log */
uint32_t pci_cfg_read32(uint32_t bdf, uint16_t offset);
void pci_cfg_write32(uint32_t bdf, uint16_t offset, uint32_t val);
/* Every NVMe function (class 01h, subclass 08h, prog-if 02h), bus order. */
unsigned pci_find_nvme(struct pci_nvme *out, unsigned max);
/* Every virtio-blk function, bus order, with all six BARs decoded. */
unsigned pci_find_virtio_blk(struct pci_vblk *out, unsigned max);
/* Decode and size BAR `index` (memory decoding briefly off); returns the
 * slots it spans (2 for a 64-bit BAR). */
unsigned pci_bar_decode(uint32_t bdf, unsigned index, struct pci_bar *b);
/* Something answers at 00:00.0 (a host bridge): the machine has PCI. */
int pci_present(void);
/* The ACPI DSDT contains these bytes (a _HID, say); 0 without ACPI. */
int acpi_dsdt_contains(const char *needle);
/* Config offset of capability `id`, 0 if absent. */
uint16_t pci_find_cap(uint32_t bdf, uint8_t id);
/* Address of memory BAR `index` (both halves of a 64-bit one); 0 for an
 * I/O BAR or an unassigned one. */
uint64_t pci_bar_address(uint32_t bdf, unsigned index);

struct pci_msix {
	uint32_t bdf;
	uint16_t cap;              /* config offset of the MSI-X capability */
	uint16_t entries;          /* table size */
	uint8_t bir;               /* BAR holding the table */
	uint32_t table_offset;     /* offset of the table in that BAR */
	uint64_t table_phys;
	volatile uint8_t *table;   /* mapped uncached */
};
/* Find MSI-X, map its table, switch Memory Space on, leave MSI-X disabled
 * with every entry masked. NULL on success, else why not. */
const char *pci_msix_init(uint32_t bdf, struct pci_msix *m);
/* Program table entry `entry` (message address and data) and unmask it
 * (or leave it masked: no message, only the pending bit). */
void pci_msix_set(struct pci_msix *m, uint16_t entry, uint64_t addr, uint32_t data, int unmask);
/* MSI-X Enable on (Function Mask off), or off (every entry masked first). */
void pci_msix_enable(struct pci_msix *m, int on);

/* ---- hal_port.c: struct ustor_hal for this kernel ------------------------------- */
struct port_ctx {
	unsigned index;        /* controller number, for messages */
	uint64_t dma_bytes;    /* bytes the library holds right now */
	uint32_t dma_allocs;   /* allocations the library holds right now */
	uint32_t dma_total;    /* allocations made, ever */
	uint32_t bad_frees;    /* frees of memory this port never handed out */
};
/* irq_mode: the kernel runs in interrupt mode (yield sleeps in irq_wait). */
void port_hal_init(struct ustor_hal *hal, struct port_ctx *ctx, enum ustor_log_level level,
		   int irq_mode);

/* ---- main.c: command line options ------------------------------------------------ */
struct kernel_options {
	enum ustor_log_level log_level;
	int scratch_set;           /* scratch= given */
	uint64_t scratch_lba;
	uint64_t scratch_nblocks;
	int read_only;             /* ro=1 */
	uint32_t queues;           /* 0 = library default */
	uint32_t depth;            /* 0 = library default */
	uint32_t io_timeout_ms;    /* 0 = library default (30 s) */
	int irq;                   /* irq=1: MSI-X interrupts wake the CPU (poll=1: none) */
	int irq_masked;            /* irq=masked: I/O queue entries left masked */
	int bench_qd1;             /* bench=qd1 */
	int peek_set;              /* peek=<lba> given */
	uint64_t peek_lba;
	int shell;                 /* shell=1: serial shell after bring-up (shell.c) */
	int vmmio;                 /* virtio-mmio slot scan: 0 auto, 1 always, -1 never */
	int vnarrow_off;           /* vnarrow=0: no 8/16-bit MMIO for virtio */
	int cmdline_vmmio;         /* the command line carried virtio_mmio.device= */
	int bench_fio;             /* bench=fio: the benchmark mode (bench.c) */
};
extern struct kernel_options kopt;

/* pci.c: an ACPI table by signature (checksum checked), NULL if absent. */
const uint8_t *acpi_table_find(const char sig[4]);

/* bench.c: takes bench_ms=, jobs=, raw=, ustor=, smp=; 1 if `key` was one. */
int bench_option(const char *key, const char *kend, const char *val, const char *vend);
/* bench=fio: the benchmark mode; returns the number of failures. */
unsigned bench_run(void);

/* ---- selftest.c --------------------------------------------------------------------- */
/* Run the test contract on every NVMe controller; returns the number of failures. */
unsigned selftest_run(void);

/* ---- shell.c ------------------------------------------------------------------------ */
/* shell=1: bring the controllers up, then read commands from COM1 until
 * `exit`, which shuts them down; returns the number of failures. */
unsigned shell_run(void);

/* ---- string.c (the four functions GCC and uStor need) --------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t kstrlen(const char *s);

#endif
