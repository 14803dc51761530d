/* SPDX-License-Identifier: MIT */
/*
 * Physical memory for DMA: a bitmap allocator of 4 KiB pages over one window
 * of RAM (at most 16 MiB .. 64 MiB: the longest stretch of it that the
 * loader's memory map calls available). Pages come back zeroed. Because the
 * kernel runs on an identity map, the pointer returned is also the physical
 * and the bus address.
 *
 * And the page tables of that identity map: mm_map_uncached() sets PCD|PWT
 * on the 2 MiB pages covering an MMIO range (PAT entry 3 = UC with the
 * power-on PAT), so register accesses are never cached or combined. Ranges
 * above 4 GiB (64-bit BARs placed there by UEFI firmware) are mapped on
 * demand, still 1:1, from a small pool of page-table pages.
 */
#include "kernel.h"

#define DMA_WINDOW_START (16u << 20)
#define DMA_WINDOW_END (64u << 20)
#define DMA_MAX_PAGES ((DMA_WINDOW_END - DMA_WINDOW_START) / PAGE_SIZE)
#define DMA_MIN_BYTES (1u << 20)
#define DMA_REGION_ALIGN (2u << 20) /* page_alloc alignment is relative to the start */

#define PTE_P 0x001ull
#define PTE_RW 0x002ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_PS 0x080ull /* 2 MiB page, in a page directory entry */
#define PTE_ADDR 0x000ffffffffff000ull

#define PT_POOL_PAGES 8 /* page directories / PDPTs for MMIO above 4 GiB */

extern uint64_t boot_pml4[512]; /* boot.S: PML4[0] -> boot_pdpt */
extern uint64_t boot_pdpt[512]; /* boot.S: PDPT[0..3] -> boot_pd */
extern uint64_t boot_pd[2048];  /* boot.S: 2048 x 2 MiB entries = 4 GiB */

static uint64_t pt_pool[PT_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pt_pool_used;

static uint64_t bitmap[DMA_MAX_PAGES / 64]; /* bit set = page in use */
static uintptr_t region_start, region_end;
static uint32_t npages, used;

static int page_busy(uint32_t i)
{
	return (int)((bitmap[i / 64] >> (i % 64)) & 1u);
}

static void page_mark(uint32_t i, int busy)
{
	if (busy)
		bitmap[i / 64] |= 1ull << (i % 64);
	else
		bitmap[i / 64] &= ~(1ull << (i % 64));
}

/* End of the available RAM that covers `addr`, following adjacent or
 * overlapping available entries (UEFI maps come in many small pieces);
 * `addr` itself if no available entry covers it. */
static uint64_t available_end(const struct boot_info *bi, uint64_t addr)
{
	uint64_t end = addr;
	int grew = 1;

	while (grew) {
		grew = 0;
		for (unsigned i = 0; i < bi->nmmap; i++) {
			const struct boot_mmap *m = &bi->mmap[i];

			if (m->type == 1 && m->base <= end && m->base + m->len > end) {
				end = m->base + m->len;
				grew = 1;
			}
		}
	}
	return end;
}

/* Reserved entries may overlap available ones in a sloppy map: stop the
 * window at the first of them. */
static uint64_t clip_reserved(const struct boot_info *bi, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < bi->nmmap; i++) {
		const struct boot_mmap *m = &bi->mmap[i];

		if (m->type != 1 && m->len != 0 && m->base < end && m->base + m->len > start)
			end = m->base > start ? m->base : start;
	}
	return end;
}

int mm_init(const struct boot_info *bi, uintptr_t kernel_end)
{
	uint64_t best_start = 0, best_end = 0;

	if (kernel_end > DMA_WINDOW_START) {
		kprintf("mm: kernel ends at %p, inside the DMA window\n", (void *)kernel_end);
		return -1;
	}
	if (bi->nmmap != 0) {
		/* Candidate starts: the window start and every available entry
		 * beginning inside the window; keep the longest stretch. */
		for (unsigned i = 0; i <= bi->nmmap; i++) {
			uint64_t s = i == bi->nmmap ? DMA_WINDOW_START : bi->mmap[i].base;
			uint64_t e;

			if (i < bi->nmmap && bi->mmap[i].type != 1)
				continue;
			if (s < DMA_WINDOW_START)
				s = DMA_WINDOW_START;
			s = (s + DMA_REGION_ALIGN - 1) & ~(uint64_t)(DMA_REGION_ALIGN - 1);
			if (s >= DMA_WINDOW_END)
				continue;
			e = available_end(bi, s);
			if (e > DMA_WINDOW_END)
				e = DMA_WINDOW_END;
			e = clip_reserved(bi, s, e);
			if (e > s && e - s > best_end - best_start) {
				best_start = s;
				best_end = e;
			}
		}
	} else if (bi->have_mem_upper) {
		best_start = DMA_WINDOW_START;
		best_end = (1ull << 20) + (uint64_t)bi->mem_upper_kib * 1024u;
		if (best_end > DMA_WINDOW_END)
			best_end = DMA_WINDOW_END;
	}
	if (best_end < best_start + DMA_MIN_BYTES) {
		kprintf("mm: no 1 MiB of available RAM between 16 and 64 MiB (give QEMU -m 128M "
			"or more)\n");
		return -1;
	}
	region_start = (uintptr_t)best_start;
	region_end = (uintptr_t)(best_end & ~(uint64_t)(PAGE_SIZE - 1));
	npages = (uint32_t)((region_end - region_start) / PAGE_SIZE);
	used = 0;
	return 0;
}

void *page_alloc(size_t size, size_t align)
{
	uint32_t n = (uint32_t)((size + PAGE_SIZE - 1) / PAGE_SIZE);
	uint32_t step = align > PAGE_SIZE ? (uint32_t)(align / PAGE_SIZE) : 1u;

	if (n == 0 || (align & (align - 1)) != 0)
		return NULL;
	/* First fit; region_start is 2 MiB aligned, so page index alignment
	 * is physical alignment for any align up to 2 MiB. */
	for (uint32_t i = 0; i + n <= npages; i += step) {
		uint32_t j = 0;

		while (j < n && !page_busy(i + j))
			j++;
		if (j < n)
			continue;
		for (j = 0; j < n; j++)
			page_mark(i + j, 1);
		used += n;
		void *p = (void *)(region_start + (uintptr_t)i * PAGE_SIZE);
		memset(p, 0, (size_t)n * PAGE_SIZE);
		return p;
	}
	return NULL;
}

void page_free(void *p, size_t size)
{
	uintptr_t a = (uintptr_t)p;
	uint32_t n = (uint32_t)((size + PAGE_SIZE - 1) / PAGE_SIZE);

	if (p == NULL || a < region_start || a + (uintptr_t)n * PAGE_SIZE > region_end ||
	    (a & (PAGE_SIZE - 1)) != 0) {
		kprintf("mm: page_free(%p, %zu): not from page_alloc\n", p, size);
		return;
	}
	uint32_t first = (uint32_t)((a - region_start) / PAGE_SIZE);
	for (uint32_t i = first; i < first + n; i++) {
		if (!page_busy(i)) {
			kprintf("mm: page_free(%p, %zu): page %p was not allocated\n", p, size,
				(void *)(region_start + (uintptr_t)i * PAGE_SIZE));
			continue;
		}
		page_mark(i, 0);
		used--;
	}
}

uint32_t mm_pages_used(void)
{
	return used;
}

uint32_t mm_pages_total(void)
{
	return npages;
}

uintptr_t mm_region_start(void)
{
	return region_start;
}

uintptr_t mm_region_end(void)
{
	return region_end;
}

/* The page directory entry that maps the 2 MiB page at `addr`, creating
 * the PDPT and page directory on the way if needed (above 4 GiB only). */
static uint64_t *pd_entry(uint64_t addr)
{
	uint64_t *table = boot_pml4;

	if (addr < KERNEL_IDENTITY_MAP_END)
		return &boot_pd[addr >> 21];
	/* PML4 (bits 47-39) -> PDPT (38-30) -> page directory (29-21). */
	for (unsigned shift = 39; shift > 21; shift -= 9) {
		uint64_t *e = &table[(addr >> shift) & 511u];

		if (!(*e & PTE_P)) {
			if (pt_pool_used == PT_POOL_PAGES)
				return NULL;
			uint64_t *t = pt_pool[pt_pool_used++];
			memset(t, 0, PAGE_SIZE);
			*e = (uint64_t)(uintptr_t)t | PTE_P | PTE_RW;
		}
		table = (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
	}
	return &table[(addr >> 21) & 511u];
}

int mm_map_uncached(uint64_t base, uint64_t len)
{
	static unsigned phys_bits;

	if (phys_bits == 0) {
		/* CPUID 80000008h EAX[7:0]: physical address width. */
		uint32_t a, b, c, d;

		__asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000008u));
		phys_bits = (a & 0xffu) >= 32 && (a & 0xffu) <= 48 ? (a & 0xffu) : 36u;
	}
	if (len == 0 || base >= (1ull << phys_bits) || len > (1ull << phys_bits) - base)
		return -1;
	for (uint64_t page = base >> 21; page <= (base + len - 1) >> 21; page++) {
		uint64_t addr = page << 21;
		uint64_t *pde = pd_entry(addr);

		if (pde == NULL) {
			kprintf("mm: out of page-table pages mapping MMIO at 0x%llx\n",
				(unsigned long long)addr);
			return -1;
		}
		/* Identity: the 2 MiB page at `addr` maps to itself. */
		*pde = addr | PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT;
		/* Drop any cached translation of that 2 MiB page. */
		__asm__ __volatile__("invlpg (%0)" : : "r"((uintptr_t)addr) : "memory");
	}
	return 0;
}
