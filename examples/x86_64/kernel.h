/* SPDX-License-Identifier: MIT */
/*
 * The x86_64 example kernel: declarations shared by its files.
 *
 * Memory model: the boot code identity-maps the low 4 GiB (virtual ==
 * physical == bus address, no IOMMU), so a pointer below 4 GiB is also the
 * address a PCI device uses for DMA. Nothing above 4 GiB is mapped.
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
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Leave QEMU through isa-debug-exit (exit status (code << 1) | 1); halts
 * if the device is absent (real hardware). */
__attribute__((noreturn)) void kernel_exit(uint32_t code);
#define KERNEL_EXIT_PASS 0u /* QEMU exit status 1 */
#define KERNEL_EXIT_FAIL 1u /* QEMU exit status 3 */

/* ---- trap.c: CPU exceptions -------------------------------------------------- */
void trap_init(void);

/* ---- mm.c: DMA page allocator and cache attributes of the identity map ---------- */
struct multiboot_info;
int mm_init(const struct multiboot_info *mbi, uintptr_t kernel_end);
void *page_alloc(size_t size, size_t align);   /* zeroed, NULL if out of memory */
void page_free(void *p, size_t size);
uint32_t mm_pages_used(void);
uint32_t mm_pages_total(void);
uintptr_t mm_region_start(void);
uintptr_t mm_region_end(void);
/* Mark [base, base+len) uncached (PCD|PWT) in the identity map; 0 if it is
 * below 4 GiB, -1 otherwise. */
int mm_map_uncached(uint64_t base, uint64_t len);

/* ---- time.c: TSC calibrated against the PIT ------------------------------------ */
void time_init(void);
uint64_t time_now_ns(void);
void time_delay_us(uint32_t us);
uint64_t time_tsc_hz(void);

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

void pci_init(void);
const char *pci_method(void); /* how config space is reached, for the log */
uint32_t pci_cfg_read32(uint32_t bdf, uint16_t offset);
void pci_cfg_write32(uint32_t bdf, uint16_t offset, uint32_t val);
/* Every NVMe function (class 01h, subclass 08h, prog-if 02h), bus order. */
unsigned pci_find_nvme(struct pci_nvme *out, unsigned max);

/* ---- hal_port.c: struct ustor_hal for this kernel ------------------------------- */
struct port_ctx {
	unsigned index;        /* controller number, for messages */
	uint64_t dma_bytes;    /* bytes the library holds right now */
	uint32_t dma_allocs;   /* allocations the library holds right now */
	uint32_t dma_total;    /* allocations made, ever */
	uint32_t bad_frees;    /* frees of memory this port never handed out */
};
void port_hal_init(struct ustor_hal *hal, struct port_ctx *ctx, enum ustor_log_level level);

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
	int irq;                   /* irq=1 asked (not implemented) */
	int bench_qd1;             /* bench=qd1 */
	int peek_set;              /* peek=<lba> given */
	uint64_t peek_lba;
};
extern struct kernel_options kopt;

/* ---- selftest.c --------------------------------------------------------------------- */
/* Run the test contract on every NVMe controller; returns the number of failures. */
unsigned selftest_run(void);

/* ---- string.c (the four functions GCC and uStor need) --------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t kstrlen(const char *s);

#endif
