/* SPDX-License-Identifier: MIT */
/*
 * Physical memory for DMA: a bitmap allocator of 4 KiB pages over one fixed
 * window of RAM (16 MiB .. 64 MiB, clipped to what the memory map says is
 * usable). Pages come back zeroed. Because the kernel runs on an identity
 * map, the pointer returned is also the physical and the bus address.
 *
 * And the cache attributes of that identity map: mm_map_uncached() sets
 * PCD|PWT on the 2 MiB pages covering an MMIO range (PAT entry 3 = UC with
 * the power-on PAT), so register accesses are never cached or combined.
 */
#include "kernel.h"
#include "multiboot.h"

#define DMA_WINDOW_START (16u << 20)
#define DMA_WINDOW_END (64u << 20)
#define DMA_MAX_PAGES ((DMA_WINDOW_END - DMA_WINDOW_START) / PAGE_SIZE)

#define PDE_PWT 0x08ull
#define PDE_PCD 0x10ull

extern uint64_t boot_pd[2048]; /* boot.S: 2048 x 2 MiB entries = 4 GiB */

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

static uint64_t rd64u(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v)); /* memory map fields are unaligned */
	return v;
}

int mm_init(const struct multiboot_info *mbi, uintptr_t kernel_end)
{
	uint64_t start = DMA_WINDOW_START;
	uint64_t end = 0;

	if (kernel_end > start) {
		kprintf("mm: kernel ends at %p, inside the DMA window\n", (void *)kernel_end);
		return -1;
	}
	/* Clip the window to the usable RAM range holding its start (ACPI
	 * tables and other reserved ranges are never in an available entry). */
	if (mbi->flags & MULTIBOOT_INFO_MMAP) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)mbi->mmap_addr;
		const uint8_t *stop = p + mbi->mmap_length;

		while (p + 24 <= stop) {
			uint32_t size;
			uint32_t type;
			uint64_t base, len;

			memcpy(&size, p, 4);
			base = rd64u(p + 4);
			len = rd64u(p + 12);
			memcpy(&type, p + 20, 4);
			if (type == MULTIBOOT_MMAP_AVAILABLE && base <= start && base + len > start)
				end = base + len;
			p += size + 4u;
		}
	} else if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
		end = (1ull << 20) + (uint64_t)mbi->mem_upper * 1024u;
	}
	if (end > DMA_WINDOW_END)
		end = DMA_WINDOW_END;
	if (end < start + (1u << 20)) {
		kprintf("mm: no usable RAM at 16 MiB (need at least 17 MiB; give QEMU -m 128)\n");
		return -1;
	}
	region_start = (uintptr_t)start;
	region_end = (uintptr_t)(end & ~(uint64_t)(PAGE_SIZE - 1));
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
	/* First fit; region_start is 16 MiB, so page index alignment is
	 * physical alignment for any align up to 16 MiB. */
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

int mm_map_uncached(uint64_t base, uint64_t len)
{
	if (len == 0 || base >= KERNEL_IDENTITY_MAP_END || len > KERNEL_IDENTITY_MAP_END - base)
		return -1;
	for (uint64_t i = base >> 21; i <= (base + len - 1) >> 21; i++) {
		boot_pd[i] |= PDE_PCD | PDE_PWT;
		/* Drop any cached translation of that 2 MiB page. */
		__asm__ __volatile__("invlpg (%0)" : : "r"((uintptr_t)(i << 21)) : "memory");
	}
	return 0;
}
