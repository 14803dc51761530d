/* SPDX-License-Identifier: MIT */
/* uStor hosted HAL: see hosted_hal.h for what it checks and why. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "hosted_hal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HAL_PAGE 4096u
#define HAL_MAX_ALIGN 65536u
#define HAL_DEFAULT_GRANULE 4096u
#define HAL_START_TIME_NS 1000000000ULL

/*
 * One DMA allocation (contiguous bus mapping) or one registered buffer
 * (scattered when granule != 0). For a scattered buffer, virtual granule j
 * (counted from the granule containing `virt`) lives in bus slot
 * npieces-1-j, each slot 2*granule wide: the upper half is a gap.
 */
struct ustor_test_hal_region {
	uintptr_t virt;
	size_t len;
	ustor_bus_addr bus; /* contiguous: bus of virt; scattered: slot 0 */
	size_t granule;     /* 0: contiguous */
	size_t npieces;
	int is_dma;
};

static void hal_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void hal_die(const char *fmt, ...)
{
	va_list ap;

	fputs("ustor hosted HAL: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static struct ustor_test_hal *hal_of(void *ctx)
{
	return (struct ustor_test_hal *)ctx;
}

static int is_pow2(size_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static uint64_t round_up64(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---- Region bookkeeping --------------------------------------------- */

static struct ustor_test_hal_region *region_add(struct ustor_test_hal *h)
{
	if (h->nregions == h->cap_regions) {
		size_t cap = h->cap_regions ? h->cap_regions * 2 : 32;
		void *p = realloc(h->regions, cap * sizeof(*h->regions));

		if (!p)
			return NULL;
		h->regions = p;
		h->cap_regions = cap;
	}
	return &h->regions[h->nregions++];
}

static void region_remove(struct ustor_test_hal *h, size_t i)
{
	h->regions[i] = h->regions[h->nregions - 1];
	h->nregions--;
}

static long region_find_virt(const struct ustor_test_hal *h, uintptr_t v)
{
	for (size_t i = 0; i < h->nregions; i++) {
		const struct ustor_test_hal_region *r = &h->regions[i];

		if (v >= r->virt && v - r->virt < r->len)
			return (long)i;
	}
	return -1;
}

static int region_overlaps(const struct ustor_test_hal *h, uintptr_t v,
			   size_t len)
{
	for (size_t i = 0; i < h->nregions; i++) {
		const struct ustor_test_hal_region *r = &h->regions[i];

		if (v < r->virt + r->len && r->virt < v + len)
			return 1;
	}
	return 0;
}

/* Reserve `span` bytes of fresh bus space aligned to `align`, plus a gap. */
static ustor_bus_addr bus_reserve(struct ustor_test_hal *h, uint64_t span,
				  uint64_t align)
{
	ustor_bus_addr b = round_up64(h->next_bus, align);

	h->next_bus = round_up64(b + span, HAL_PAGE) + HAL_PAGE;
	return b;
}

/* Granule index of v within a scattered region. */
static size_t scatter_index(const struct ustor_test_hal_region *r, uintptr_t v)
{
	uintptr_t first = r->virt & ~(uintptr_t)(r->granule - 1);

	return (size_t)((v - first) / r->granule);
}

static ustor_bus_addr scatter_bus(const struct ustor_test_hal_region *r,
				  uintptr_t v)
{
	size_t j = scatter_index(r, v);
	uint64_t slot = (uint64_t)(r->npieces - 1 - j);

	return r->bus + slot * 2 * r->granule + (v & (r->granule - 1));
}

/* ---- Memory callbacks --------------------------------------------- */

static void *hal_dma_alloc(void *ctx, size_t size, size_t align,
			   ustor_bus_addr *out_bus)
{
	struct ustor_test_hal *h = hal_of(ctx);
	struct ustor_test_hal_region *r;
	size_t valign;
	void *p = NULL;

	if (size == 0 || !is_pow2(align) || align > HAL_MAX_ALIGN || !out_bus)
		hal_die("dma_alloc(size=%zu, align=%zu, out_bus=%p) breaks "
			"the HAL contract", size, align, (void *)out_bus);
	if (h->fail_alloc_after == 0) {
		h->fail_alloc_after = -1;
		h->alloc_failures++;
		return NULL;
	}
	if (h->fail_alloc_after > 0)
		h->fail_alloc_after--;
	valign = align < sizeof(void *) ? sizeof(void *) : align;
	if (posix_memalign(&p, valign, size) != 0)
		return NULL;
	r = region_add(h);
	if (!r) {
		free(p);
		return NULL;
	}
	memset(p, 0, size);
	r->virt = (uintptr_t)p;
	r->len = size;
	r->granule = 0;
	r->npieces = 1;
	r->is_dma = 1;
	/* Page offset preserved, so `align` (< or >= 4 KiB) holds on the bus. */
	r->bus = bus_reserve(h, size + HAL_PAGE,
			     align > HAL_PAGE ? align : HAL_PAGE) +
		 (r->virt & (HAL_PAGE - 1));
	h->dma_allocs++;
	*out_bus = r->bus;
	return p;
}

static void hal_dma_free(void *ctx, void *virt, size_t size)
{
	struct ustor_test_hal *h = hal_of(ctx);
	long i = region_find_virt(h, (uintptr_t)virt);
	struct ustor_test_hal_region *r;

	if (i < 0 || h->regions[i].virt != (uintptr_t)virt ||
	    !h->regions[i].is_dma)
		hal_die("dma_free(%p): not a live DMA allocation", virt);
	r = &h->regions[i];
	if (r->len != size)
		hal_die("dma_free(%p, %zu): allocated with size %zu", virt,
			size, r->len);
	free(virt);
	region_remove(h, (size_t)i);
	h->dma_frees++;
}

static ustor_status hal_virt_to_bus(void *ctx, const void *virt, size_t len,
				    ustor_bus_addr *out_bus)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uintptr_t v = (uintptr_t)virt;
	const struct ustor_test_hal_region *r;
	long i;

	h->virt_to_bus_calls++;
	if (len == 0)
		len = 1;
	i = region_find_virt(h, v);
	if (i < 0 || !out_bus)
		goto refuse;
	r = &h->regions[i];
	if (len > r->len - (v - r->virt))
		goto refuse;
	if (r->granule == 0) {
		*out_bus = r->bus + (uint64_t)(v - r->virt);
		return USTOR_OK;
	}
	if (len > r->granule - (v & (r->granule - 1)))
		goto refuse; /* crosses a granule: not bus-contiguous */
	*out_bus = scatter_bus(r, v);
	return USTOR_OK;
refuse:
	h->virt_to_bus_failures++;
	return USTOR_ERR_NOT_DMA_ABLE;
}

/* ---- MMIO ------------------------------------------------------------- */

static struct ustor_test_hal_mmio *mmio_find_w(struct ustor_test_hal *h,
						volatile void *addr,
						uint32_t *out_off,
						uintptr_t width)
{
	uintptr_t a = (uintptr_t)addr;

	for (unsigned i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++) {
		struct ustor_test_hal_mmio *w = &h->mmio[i];

		if (w->size && a >= w->base && a - w->base < w->size) {
			uintptr_t off = a - w->base;

			if ((off & (width - 1)) != 0 || w->size - off < width)
				hal_die("MMIO access at %p: offset 0x%lx not "
					"a whole aligned %lu-byte register",
					(void *)a, (unsigned long)off,
					(unsigned long)width);
			*out_off = (uint32_t)off;
			return w;
		}
	}
	hal_die("MMIO access at %p: outside every register window",
		(void *)a);
}

static struct ustor_test_hal_mmio *mmio_find(struct ustor_test_hal *h,
					      volatile void *addr,
					      uint32_t *out_off)
{
	return mmio_find_w(h, addr, out_off, 4);
}

/* 8/16-bit access: the window's own handlers, or abort. */
static struct ustor_test_hal_mmio *mmio_find_narrow(struct ustor_test_hal *h,
						     volatile void *addr,
						     uint32_t *out_off,
						     uintptr_t width)
{
	struct ustor_test_hal_mmio *w = mmio_find_w(h, addr, out_off, width);

	if (!w->read8)
		hal_die("%lu-byte MMIO access at %p: the window has no "
			"8/16-bit handlers", (unsigned long)width,
			(void *)(uintptr_t)addr);
	return w;
}

static uint8_t hal_mmio_read8(void *ctx, volatile void *addr)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint32_t off;
	struct ustor_test_hal_mmio *w = mmio_find_narrow(h, addr, &off, 1);

	h->mmio_narrow_reads++;
	return w->read8(w->dev, off);
}

static uint16_t hal_mmio_read16(void *ctx, volatile void *addr)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint32_t off;
	struct ustor_test_hal_mmio *w = mmio_find_narrow(h, addr, &off, 2);

	h->mmio_narrow_reads++;
	return w->read16(w->dev, off);
}

static void hal_mmio_write8(void *ctx, volatile void *addr, uint8_t val)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint32_t off;
	struct ustor_test_hal_mmio *w = mmio_find_narrow(h, addr, &off, 1);

	h->mmio_narrow_writes++;
	w->write8(w->dev, off, val);
}

static void hal_mmio_write16(void *ctx, volatile void *addr, uint16_t val)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint32_t off;
	struct ustor_test_hal_mmio *w = mmio_find_narrow(h, addr, &off, 2);

	h->mmio_narrow_writes++;
	w->write16(w->dev, off, val);
}

static uint32_t hal_mmio_read32(void *ctx, volatile void *addr)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint32_t off;
	struct ustor_test_hal_mmio *w = mmio_find(h, addr, &off);

	h->mmio_reads++;
	return w->read32(w->dev, off);
}

static void hal_mmio_write32(void *ctx, volatile void *addr, uint32_t val)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint32_t off;
	struct ustor_test_hal_mmio *w = mmio_find(h, addr, &off);

	h->mmio_writes++;
	w->write32(w->dev, off, val);
}

/* 64-bit access: two dword accesses, low half first (HARDWARE.md item 4). */
static uint64_t hal_mmio_read64(void *ctx, volatile void *addr)
{
	volatile uint8_t *b = (volatile uint8_t *)addr;
	uint64_t lo = hal_mmio_read32(ctx, b);
	uint64_t hi = hal_mmio_read32(ctx, b + 4);

	return lo | (hi << 32);
}

static void hal_mmio_write64(void *ctx, volatile void *addr, uint64_t val)
{
	volatile uint8_t *b = (volatile uint8_t *)addr;

	hal_mmio_write32(ctx, b, (uint32_t)val);
	hal_mmio_write32(ctx, b + 4, (uint32_t)(val >> 32));
}

static void hal_wmb(void *ctx)
{
	hal_of(ctx)->wmb_count++;
	atomic_thread_fence(memory_order_seq_cst);
}

static void hal_rmb(void *ctx)
{
	hal_of(ctx)->rmb_count++;
	atomic_thread_fence(memory_order_seq_cst);
}

/* ---- Time ---------------------------------------------------------- */

static uint64_t hal_now_ns(void *ctx)
{
	struct ustor_test_hal *h = hal_of(ctx);
	uint64_t t = h->now;

	h->now_calls++;
	h->now += h->ns_per_now_call;
	return t;
}

/* ---- CPU index ------------------------------------------------------- */

static uint32_t hal_cpu_id(void *ctx)
{
	struct ustor_test_hal *h = hal_of(ctx);

	h->cpu_id_calls++;
	return h->cpu;
}

static void hal_delay_us(void *ctx, uint32_t us)
{
	struct ustor_test_hal *h = hal_of(ctx);

	h->delay_calls++;
	h->delay_us_total += us;
	h->now += (uint64_t)us * 1000u;
}

/* ---- Optional services ------------------------------------------- */

static void log_append(struct ustor_test_hal *h, const char *msg)
{
	size_t n = strlen(msg);

	if (n > USTOR_TEST_HAL_LOG_CAP / 2)
		n = USTOR_TEST_HAL_LOG_CAP / 2;
	if (h->log_len + n + 2 > USTOR_TEST_HAL_LOG_CAP) {
		/* Drop the older half, at a line boundary. */
		const char *cut = strchr(h->log_buf + h->log_len / 2, '\n');
		size_t drop = cut ? (size_t)(cut + 1 - h->log_buf) : h->log_len;

		memmove(h->log_buf, h->log_buf + drop, h->log_len - drop);
		h->log_len -= drop;
	}
	memcpy(h->log_buf + h->log_len, msg, n);
	h->log_len += n;
	h->log_buf[h->log_len++] = '\n';
	h->log_buf[h->log_len] = '\0';
}

static void hal_log(void *ctx, enum ustor_log_level level, const char *msg)
{
	static const char tag[] = "EWID";
	struct ustor_test_hal *h = hal_of(ctx);

	if (!msg)
		hal_die("log called with a NULL message");
	h->log_lines++;
	log_append(h, msg);
	if (h->verbose)
		fprintf(stderr, "[ustor %c] %s\n",
			(unsigned)level < 4 ? tag[level] : '?', msg);
}

static uint32_t hal_pci_read32(void *ctx, uint32_t pci_addr, uint16_t off)
{
	struct ustor_test_hal *h = hal_of(ctx);

	if (off & 3)
		hal_die("pci_cfg_read32 at unaligned offset 0x%x", off);
	h->pci_reads++;
	return h->pci_rd(h->pci_dev, pci_addr, off);
}

static void hal_pci_write32(void *ctx, uint32_t pci_addr, uint16_t off,
			    uint32_t val)
{
	struct ustor_test_hal *h = hal_of(ctx);

	if (off & 3)
		hal_die("pci_cfg_write32 at unaligned offset 0x%x", off);
	h->pci_writes++;
	h->pci_wr(h->pci_dev, pci_addr, off, val);
}

/* The lock word is ours to use (hal.h): 1 while held, so pairing is checked
 * per lock and a recursive lock (a deadlock on real hardware) aborts. */
static void hal_lock(void *ctx, volatile uint32_t *lock)
{
	struct ustor_test_hal *h = hal_of(ctx);

	if (!lock)
		hal_die("lock(NULL)");
	if (*lock != 0)
		hal_die("lock(%p): already held (would deadlock)",
			(void *)(uintptr_t)lock);
	*lock = 1;
	h->lock_count++;
	h->locks_held++;
}

static void hal_unlock(void *ctx, volatile uint32_t *lock)
{
	struct ustor_test_hal *h = hal_of(ctx);

	if (!lock)
		hal_die("unlock(NULL)");
	if (*lock != 1 || h->locks_held == 0)
		hal_die("unlock(%p) without lock", (void *)(uintptr_t)lock);
	*lock = 0;
	h->unlock_count++;
	h->locks_held--;
}

/* A yield stands for the kernel sleeping until something happens: virtual
 * time passes (20 us), so waits that yield still reach their deadlines. */
static void hal_yield(void *ctx)
{
	struct ustor_test_hal *h = hal_of(ctx);

	h->yield_count++;
	h->now += 20000u;
}

/* ---- Public API -------------------------------------------------- */

void ustor_test_hal_init(struct ustor_test_hal *h)
{
	const char *v = getenv("USTOR_TEST_VERBOSE");

	memset(h, 0, sizeof(*h));
	h->hal.ctx = h;
	h->hal.dma_alloc = hal_dma_alloc;
	h->hal.dma_free = hal_dma_free;
	h->hal.virt_to_bus = hal_virt_to_bus;
	h->hal.mmio_read32 = hal_mmio_read32;
	h->hal.mmio_write32 = hal_mmio_write32;
	h->hal.mmio_read64 = hal_mmio_read64;
	h->hal.mmio_write64 = hal_mmio_write64;
	h->hal.mmio_read8 = hal_mmio_read8;
	h->hal.mmio_read16 = hal_mmio_read16;
	h->hal.mmio_write8 = hal_mmio_write8;
	h->hal.mmio_write16 = hal_mmio_write16;
	h->hal.wmb = hal_wmb;
	h->hal.rmb = hal_rmb;
	h->hal.now_ns = hal_now_ns;
	h->hal.delay_us = hal_delay_us;
	h->hal.log = hal_log;
	h->hal.log_level = USTOR_LOG_DEBUG;
	h->hal.lock = hal_lock;
	h->hal.unlock = hal_unlock;
	h->hal.yield = hal_yield;
	h->hal.cpu_id = hal_cpu_id;
	h->fail_alloc_after = -1;
	h->scatter_granule = HAL_DEFAULT_GRANULE;
	h->ns_per_now_call = 1000;
	h->now = HAL_START_TIME_NS;
	h->next_bus = USTOR_TEST_HAL_BUS_BASE + 0x123000u;
	h->verbose = v && *v && strcmp(v, "0") != 0;
	h->log_buf = calloc(1, USTOR_TEST_HAL_LOG_CAP);
	if (!h->log_buf)
		hal_die("out of host memory for the log buffer");
}

void ustor_test_hal_fini(struct ustor_test_hal *h)
{
	for (size_t i = 0; i < h->nregions; i++)
		if (h->regions[i].is_dma)
			free((void *)h->regions[i].virt);
	free(h->regions);
	free(h->log_buf);
	h->regions = NULL;
	h->nregions = 0;
	h->cap_regions = 0;
	h->log_buf = NULL;
	h->log_len = 0;
}

size_t ustor_test_hal_live_allocs(const struct ustor_test_hal *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->nregions; i++)
		n += h->regions[i].is_dma ? 1 : 0;
	return n;
}

ustor_status ustor_test_hal_register(struct ustor_test_hal *h, void *buf,
				     size_t len)
{
	uintptr_t v = (uintptr_t)buf;
	size_t g = h->scatter_granule;
	struct ustor_test_hal_region *r;
	uintptr_t first, last;

	if (!buf || len == 0 || v + len < v)
		return USTOR_ERR_INVALID_ARG;
	if (g != 0 && (!is_pow2(g) || g < 512))
		hal_die("scatter_granule %zu: not 0 or a power of two >= 512",
			g);
	if (region_overlaps(h, v, len))
		return USTOR_ERR_INVALID_ARG;
	r = region_add(h);
	if (!r)
		return USTOR_ERR_NO_MEMORY;
	r->virt = v;
	r->len = len;
	r->granule = g;
	r->is_dma = 0;
	if (g == 0) {
		r->npieces = 1;
		r->bus = bus_reserve(h, len + HAL_PAGE, HAL_PAGE) +
			 (v & (HAL_PAGE - 1));
		return USTOR_OK;
	}
	first = v & ~(uintptr_t)(g - 1);
	last = (v + len - 1) & ~(uintptr_t)(g - 1);
	r->npieces = (size_t)((last - first) / g) + 1;
	r->bus = bus_reserve(h, (uint64_t)r->npieces * 2 * g,
			     g > HAL_PAGE ? g : HAL_PAGE);
	return USTOR_OK;
}

void ustor_test_hal_unregister(struct ustor_test_hal *h, void *buf)
{
	long i = region_find_virt(h, (uintptr_t)buf);

	if (i < 0 || h->regions[i].virt != (uintptr_t)buf ||
	    h->regions[i].is_dma)
		hal_die("unregister(%p): not a registered buffer", buf);
	region_remove(h, (size_t)i);
}

/* 1 and *out_v if [b, b+len) is inside one bus-contiguous piece of r. */
static int region_bus_to_virt(const struct ustor_test_hal_region *r,
				    ustor_bus_addr b, size_t len,
				    uintptr_t *out_v)
{
	uint64_t rel, slot, in;
	uintptr_t first, v, piece_end;

	if (b < r->bus)
		return 0;
	rel = b - r->bus;
	if (r->granule == 0) {
		if (rel >= r->len || len > r->len - rel)
			return 0;
		*out_v = r->virt + (uintptr_t)rel;
		return 1;
	}
	slot = rel / (2 * (uint64_t)r->granule);
	in = rel % (2 * (uint64_t)r->granule);
	if (slot >= r->npieces || in >= r->granule)
		return 0;
	first = r->virt & ~(uintptr_t)(r->granule - 1);
	v = first + (uintptr_t)(r->npieces - 1 - slot) * r->granule +
	    (uintptr_t)in;
	piece_end = v - (uintptr_t)in + r->granule;
	if (piece_end > r->virt + r->len)
		piece_end = r->virt + r->len;
	if (v < r->virt || v >= piece_end || len > piece_end - v)
		return 0;
	*out_v = v;
	return 1;
}

void *ustor_test_hal_bus_to_virt(struct ustor_test_hal *h, ustor_bus_addr bus,
				 size_t len)
{
	uintptr_t v;

	if (len == 0)
		len = 1;
	for (size_t i = 0; i < h->nregions; i++)
		if (region_bus_to_virt(&h->regions[i], bus, len, &v))
			return (void *)v;
	return NULL;
}

void ustor_test_hal_attach_mmio(struct ustor_test_hal *h, volatile void *base,
				size_t size, void *dev,
				uint32_t (*read32)(void *dev, uint32_t off),
				void (*write32)(void *dev, uint32_t off,
						uint32_t val))
{
	uintptr_t b = (uintptr_t)base;
	struct ustor_test_hal_mmio *slot = NULL;

	if (!base || size < 4 || !read32 || !write32)
		hal_die("attach_mmio: bad arguments");
	for (unsigned i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++) {
		struct ustor_test_hal_mmio *w = &h->mmio[i];

		if (!w->size) {
			if (!slot)
				slot = w;
		} else if (b < w->base + w->size && w->base < b + size) {
			hal_die("attach_mmio: window overlaps another");
		}
	}
	if (!slot)
		hal_die("attach_mmio: all %d windows in use",
			USTOR_TEST_HAL_MAX_MMIO);
	slot->base = b;
	slot->size = size;
	slot->dev = dev;
	slot->read32 = read32;
	slot->write32 = write32;
}

void ustor_test_hal_attach_mmio_narrow(struct ustor_test_hal *h,
				       volatile void *base,
				       uint8_t (*read8)(void *dev, uint32_t off),
				       uint16_t (*read16)(void *dev,
							  uint32_t off),
				       void (*write8)(void *dev, uint32_t off,
						      uint8_t val),
				       void (*write16)(void *dev, uint32_t off,
						       uint16_t val))
{
	if (!read8 || !read16 || !write8 || !write16)
		hal_die("attach_mmio_narrow: bad arguments");
	for (unsigned i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++) {
		struct ustor_test_hal_mmio *w = &h->mmio[i];

		if (w->size && w->base == (uintptr_t)base) {
			w->read8 = read8;
			w->read16 = read16;
			w->write8 = write8;
			w->write16 = write16;
			return;
		}
	}
	hal_die("attach_mmio_narrow(%p): no such window",
		(void *)(uintptr_t)base);
}

void ustor_test_hal_detach_mmio(struct ustor_test_hal *h, volatile void *base)
{
	for (unsigned i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++) {
		if (h->mmio[i].size && h->mmio[i].base == (uintptr_t)base) {
			memset(&h->mmio[i], 0, sizeof(h->mmio[i]));
			return;
		}
	}
	hal_die("detach_mmio(%p): no such window", (void *)(uintptr_t)base);
}

void ustor_test_hal_attach_pci(struct ustor_test_hal *h, void *dev,
			       uint32_t (*rd)(void *dev, uint32_t pci_addr,
					      uint16_t off),
			       void (*wr)(void *dev, uint32_t pci_addr,
					  uint16_t off, uint32_t val))
{
	if (!rd || !wr)
		hal_die("attach_pci: NULL handler");
	h->pci_dev = dev;
	h->pci_rd = rd;
	h->pci_wr = wr;
	h->hal.pci_cfg_read32 = hal_pci_read32;
	h->hal.pci_cfg_write32 = hal_pci_write32;
}

void ustor_test_hal_detach_pci(struct ustor_test_hal *h)
{
	h->pci_dev = NULL;
	h->pci_rd = NULL;
	h->pci_wr = NULL;
	h->hal.pci_cfg_read32 = NULL;
	h->hal.pci_cfg_write32 = NULL;
}

uint64_t ustor_test_hal_time(const struct ustor_test_hal *h)
{
	return h->now;
}

void ustor_test_hal_advance(struct ustor_test_hal *h, uint64_t ns)
{
	h->now += ns;
}

const char *ustor_test_hal_log_text(const struct ustor_test_hal *h)
{
	return h->log_buf ? h->log_buf : "";
}

void ustor_test_hal_log_clear(struct ustor_test_hal *h)
{
	h->log_len = 0;
	if (h->log_buf)
		h->log_buf[0] = '\0';
}

int ustor_test_hal_log_contains(const struct ustor_test_hal *h,
				const char *needle)
{
	return h->log_buf && needle && strstr(h->log_buf, needle) != NULL;
}
