/* SPDX-License-Identifier: MIT */
/*
 * Self-test of the virtio-blk model and the hosted HAL, without the uStor
 * library: a tiny driver written here from the VIRTIO 1.2 specification
 * brings the device up over each transport (virtio-pci modern, virtio-mmio
 * version 2, legacy virtio-mmio version 1), moves data, flushes, reads the
 * device ID, then pokes the fault knobs. Exit status 0 when every check
 * passed. Register access is 32-bit only, as the HAL offers.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_blk_model.h"

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",         \
				__FILE__, __LINE__, #cond);                  \
			failures++;                                          \
		}                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		unsigned long long va_ = (unsigned long long)(a);            \
		unsigned long long vb_ = (unsigned long long)(b);            \
		if (va_ != vb_) {                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s "     \
				"(0x%llx != 0x%llx)\n", __FILE__, __LINE__,  \
				#a, #b, va_, vb_);                           \
			failures++;                                          \
		}                                                            \
	} while (0)

/* The spec's numbers, written out here on purpose (not from the model). */
#define S_ACK 0x01u
#define S_DRIVER 0x02u
#define S_DRIVER_OK 0x04u
#define S_FEATURES_OK 0x08u
#define S_NEEDS_RESET 0x40u

#define F_SIZE_MAX (1ULL << 1)
#define F_SEG_MAX (1ULL << 2)
#define F_BLK_SIZE (1ULL << 6)
#define F_FLUSH (1ULL << 9)
#define F_DISCARD (1ULL << 13)
#define F_WRITE_ZEROES (1ULL << 14)
#define F_INDIRECT (1ULL << 28)
#define F_EVENT_IDX (1ULL << 29)
#define F_VERSION_1 (1ULL << 32)
#define F_RING_PACKED (1ULL << 34)

#define T_IN 0u
#define T_OUT 1u
#define T_FLUSH 4u
#define T_GET_ID 8u
#define T_WRITE_ZEROES 13u

#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u

#define QSZ 16u

/* ---- Byte order: little-endian, or native for the legacy transport ---- */

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t gle16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t gle32(const uint8_t *p)
{
	return (uint32_t)gle16(p) | ((uint32_t)gle16(p + 2) << 16);
}

/* ---- A minimal driver ----------------------------------------------------- */

struct drv {
	struct ustor_test_hal h;
	struct ustor_virtio_blk_model m;
	enum ustor_virtio_blk_model_transport t;
	int legacy;
	volatile uint8_t *base; /* MMIO window or BAR4 */
	uint32_t pa;            /* PCI address */
	uint32_t common, notify, isr, devcfg, mult, msix_cap;
	uint16_t notify_off;
	uint64_t features;

	uint8_t *ring;
	ustor_bus_addr ring_bus;
	size_t ring_size;
	uint8_t *desc, *avail, *used;
	uint64_t desc_bus, avail_bus, used_bus;
	uint16_t avail_idx, used_seen, next_desc;

	uint8_t *buf; /* header at 0, status bytes at 64.., segments at 128,
			 GET_ID at 256, indirect table at 512 */
	ustor_bus_addr buf_bus;
	uint8_t *data; /* 16 KiB */
	ustor_bus_addr data_bus;
};

/* Ring and request fields: LE for modern, native for legacy (memcpy on
 * purpose, unlike the model's byte shuffling). */
static void w16(struct drv *d, uint8_t *p, uint16_t v)
{
	if (d->legacy)
		memcpy(p, &v, 2);
	else
		le16(p, v);
}

static void w32(struct drv *d, uint8_t *p, uint32_t v)
{
	if (d->legacy)
		memcpy(p, &v, 4);
	else
		le32(p, v);
}

static void w64(struct drv *d, uint8_t *p, uint64_t v)
{
	if (d->legacy) {
		memcpy(p, &v, 8);
	} else {
		le32(p, (uint32_t)v);
		le32(p + 4, (uint32_t)(v >> 32));
	}
}

static uint16_t r16(struct drv *d, const uint8_t *p)
{
	uint16_t v;

	if (!d->legacy)
		return gle16(p);
	memcpy(&v, p, 2);
	return v;
}

static uint32_t r32(struct drv *d, const uint8_t *p)
{
	uint32_t v;

	if (!d->legacy)
		return gle32(p);
	memcpy(&v, p, 4);
	return v;
}

/* ---- Registers --------------------------------------------------------- */

static uint32_t rd(struct drv *d, uint32_t off)
{
	return d->h.hal.mmio_read32(d->h.hal.ctx, d->base + off);
}

static void wr(struct drv *d, uint32_t off, uint32_t v)
{
	d->h.hal.mmio_write32(d->h.hal.ctx, d->base + off, v);
}

static uint32_t pcir(struct drv *d, uint16_t off)
{
	return d->h.hal.pci_cfg_read32(d->h.hal.ctx, d->pa, off);
}

static void pciw(struct drv *d, uint16_t off, uint32_t v)
{
	d->h.hal.pci_cfg_write32(d->h.hal.ctx, d->pa, off, v);
}

/* Common configuration fields narrower than 32 bits, by read-modify-write
 * of their dword (the HAL has 32-bit access only). */
static uint32_t cc_rd(struct drv *d, uint32_t off, unsigned bytes)
{
	uint32_t v = rd(d, d->common + (off & ~3u)) >> ((off & 3u) * 8);

	return bytes == 4 ? v : v & ((1u << (8 * bytes)) - 1u);
}

static void cc_wr(struct drv *d, uint32_t off, unsigned bytes, uint32_t v)
{
	uint32_t sh = (off & 3u) * 8, cur, mask;

	if (bytes == 4) {
		wr(d, d->common + off, v);
		return;
	}
	mask = ((1u << (8 * bytes)) - 1u) << sh;
	cur = rd(d, d->common + (off & ~3u));
	wr(d, d->common + (off & ~3u), (cur & ~mask) | ((v << sh) & mask));
}

static int is_pci(const struct drv *d)
{
	return d->t == USTOR_VIRTIO_BLK_MODEL_PCI;
}

static uint8_t status_rd(struct drv *d)
{
	return (uint8_t)(is_pci(d) ? cc_rd(d, 0x14, 1) : rd(d, 0x70));
}

static void status_wr(struct drv *d, uint8_t v)
{
	if (is_pci(d))
		cc_wr(d, 0x14, 1, v);
	else
		wr(d, 0x70, v);
}

static uint32_t dev_features(struct drv *d, uint32_t sel)
{
	if (is_pci(d)) {
		wr(d, d->common + 0x00, sel);
		return rd(d, d->common + 0x04);
	}
	wr(d, 0x14, sel);
	return rd(d, 0x10);
}

static void drv_features(struct drv *d, uint32_t sel, uint32_t v)
{
	if (is_pci(d)) {
		wr(d, d->common + 0x08, sel);
		wr(d, d->common + 0x0c, v);
		return;
	}
	wr(d, 0x24, sel);
	wr(d, 0x20, v);
}

static uint32_t cfg_rd(struct drv *d, uint32_t off)
{
	return rd(d, (is_pci(d) ? d->devcfg : 0x100u) + off);
}

/* A 32-bit configuration field: legacy fields are guest-native, so the
 * register value is taken back to its bytes and read natively. */
static uint32_t cfg_field32(struct drv *d, uint32_t off)
{
	uint32_t v = cfg_rd(d, off);
	uint8_t b[4];

	if (!d->legacy)
		return v;
	le32(b, v);
	memcpy(&v, b, 4);
	return v;
}

static uint32_t cfg_gen(struct drv *d)
{
	if (is_pci(d))
		return cc_rd(d, 0x15, 1);
	return d->legacy ? 0 : rd(d, 0xfc);
}

/* capacity (le64, or guest-native on legacy: the two dwords hold its
 * bytes, presented as every register read is) */
static uint64_t read_capacity(struct drv *d, unsigned *loops)
{
	uint32_t g1, g2, lo, hi;
	uint64_t cap;
	uint8_t b[8];

	*loops = 0;
	do {
		g1 = cfg_gen(d);
		lo = cfg_rd(d, 0);
		hi = cfg_rd(d, 4);
		g2 = cfg_gen(d);
		(*loops)++;
	} while (g1 != g2 && *loops < 100);
	if (!d->legacy)
		return lo | ((uint64_t)hi << 32);
	le32(b, lo);
	le32(b + 4, hi);
	memcpy(&cap, b, 8);
	return cap;
}

static void kick(struct drv *d)
{
	d->h.hal.wmb(d->h.hal.ctx);
	if (is_pci(d))
		wr(d, d->notify + (uint32_t)d->notify_off * d->mult, 0);
	else
		wr(d, 0x50, 0);
}

/* ---- PCI discovery ------------------------------------------------------ */

static void pci_probe(struct drv *d)
{
	uint32_t bar_lo, bar_hi, sized;
	uint64_t bar;
	unsigned found = 0;

	d->pa = ustor_virtio_blk_model_pci_addr(&d->m);
	CHECK(d->h.hal.pci_cfg_read32 != NULL);
	CHECK_EQ(pcir(d, 0x00), 0x10421af4u);
	CHECK_EQ(pcir(d, 0x08), 0x01000001u); /* class 01/00, revision 1 */
	CHECK(pcir(d, 0x04) & (0x10u << 16));  /* capability list */
	CHECK_EQ(pcir(d, 0x2c) >> 16, 0x1100u);

	bar_lo = pcir(d, 0x20);
	bar_hi = pcir(d, 0x24);
	CHECK_EQ(bar_lo & 0xfu, 0xcu); /* 64-bit prefetchable memory */
	bar = ((uint64_t)bar_hi << 32) | (bar_lo & ~0xfu);
	CHECK_EQ(bar, (uint64_t)(uintptr_t)ustor_virtio_blk_model_bar(&d->m, 4));
	CHECK(ustor_virtio_blk_model_bar(&d->m, 0) == NULL);
	pciw(d, 0x20, 0xffffffffu); /* size it */
	sized = pcir(d, 0x20);
	CHECK_EQ(sized, 0xffffc00cu); /* 16 KiB */
	pciw(d, 0x20, bar_lo);
	CHECK_EQ(pcir(d, 0x20), bar_lo);
	d->base = ustor_virtio_blk_model_bar(&d->m, 4);

	for (uint32_t c = pcir(d, 0x34) & 0xfcu; c; c = (pcir(d, (uint16_t)c) >> 8) & 0xfcu) {
		uint32_t d0 = pcir(d, (uint16_t)c);
		uint32_t type = d0 >> 24;

		if ((d0 & 0xffu) == 0x11u) {
			d->msix_cap = c;
			CHECK_EQ((d0 >> 16) & 0x7ffu, 1u); /* 2 vectors */
			CHECK_EQ(pcir(d, (uint16_t)(c + 4)) & 7u, 4u);
			continue;
		}
		CHECK_EQ(d0 & 0xffu, 0x09u);
		if (type >= 1 && type <= 4) {
			uint32_t off = pcir(d, (uint16_t)(c + 8));

			CHECK_EQ(pcir(d, (uint16_t)(c + 4)) & 0xffu, 4u);
			found |= 1u << type;
			if (type == 1)
				d->common = off;
			else if (type == 2) {
				d->notify = off;
				d->mult = pcir(d, (uint16_t)(c + 16));
				CHECK_EQ((d0 >> 16) & 0xffu, 20u);
			} else if (type == 3)
				d->isr = off;
			else
				d->devcfg = off;
		} else {
			CHECK_EQ(type, 5u); /* PCI configuration access */
			found |= 1u << type;
		}
	}
	CHECK_EQ(found, 0x3eu);
	CHECK(d->msix_cap != 0);

	/* Memory Space off: reads all-ones, a violation. */
	pciw(d, 0x04, 0);
	CHECK_EQ(rd(d, d->common + 0x14), 0xffffffffu);
	CHECK_EQ(d->m.host_violations, 1);
	ustor_virtio_blk_model_clear_violations(&d->m);
	pciw(d, 0x04, 0x0006u);
	CHECK_EQ(pcir(d, 0x04) & 0xffffu, 0x0006u);
}

/* ---- Bring-up ------------------------------------------------------------ */

static void drv_init(struct drv *d, enum ustor_virtio_blk_model_transport t)
{
	struct ustor_virtio_blk_model_cfg cfg;

	memset(d, 0, sizeof(*d));
	d->t = t;
	d->legacy = t == USTOR_VIRTIO_BLK_MODEL_MMIO1;
	ustor_test_hal_init(&d->h);
	ustor_virtio_blk_model_cfg_default(&cfg);
	cfg.transport = t;
	CHECK_EQ(ustor_virtio_blk_model_init(&d->m, &d->h, &cfg), USTOR_OK);
	if (is_pci(d)) {
		CHECK(ustor_virtio_blk_model_mmio_base(&d->m) == NULL);
		pci_probe(d);
	} else {
		CHECK(ustor_virtio_blk_model_bar(&d->m, 4) == NULL);
		d->base = ustor_virtio_blk_model_mmio_base(&d->m);
		CHECK_EQ(rd(d, 0x000), 0x74726976u);
		CHECK_EQ(rd(d, 0x004), d->legacy ? 1u : 2u);
		CHECK_EQ(rd(d, 0x008), 2u);
		CHECK_EQ(rd(d, 0x00c), 0x554d4551u);
	}
	d->buf = d->h.hal.dma_alloc(d->h.hal.ctx, 4096, 4096, &d->buf_bus);
	d->data = d->h.hal.dma_alloc(d->h.hal.ctx, 16384, 4096, &d->data_bus);
	CHECK(d->buf && d->data);
}

static void drv_fini(struct drv *d)
{
	if (d->ring)
		d->h.hal.dma_free(d->h.hal.ctx, d->ring, d->ring_size);
	d->h.hal.dma_free(d->h.hal.ctx, d->buf, 4096);
	d->h.hal.dma_free(d->h.hal.ctx, d->data, 16384);
	CHECK_EQ(ustor_test_hal_live_allocs(&d->h), 0);
	ustor_virtio_blk_model_fini(&d->m);
	ustor_test_hal_fini(&d->h);
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; 0 if accepted. */
static int negotiate(struct drv *d, uint64_t want)
{
	uint64_t offered;
	uint8_t st;

	status_wr(d, 0);
	CHECK_EQ(status_rd(d), 0);
	status_wr(d, S_ACK);
	status_wr(d, S_ACK | S_DRIVER);
	offered = dev_features(d, 0);
	if (!d->legacy)
		offered |= (uint64_t)dev_features(d, 1) << 32;
	else
		CHECK_EQ(dev_features(d, 1), 0);
	d->features = offered & want;
	drv_features(d, 0, (uint32_t)d->features);
	if (!d->legacy)
		drv_features(d, 1, (uint32_t)(d->features >> 32));
	/* legacy needs no FEATURES_OK, but a device accepts it */
	status_wr(d, S_ACK | S_DRIVER | S_FEATURES_OK);
	st = status_rd(d);
	return (st & S_FEATURES_OK) ? 0 : -1;
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void queue_setup(struct drv *d, uint16_t n)
{
	size_t avail_off = 16u * n, used_off;

	if (d->legacy) {
		used_off = align_up(avail_off + 6 + 2u * n, 4096);
		if (!d->ring) {
			d->ring_size = used_off + align_up(6 + 8u * n, 4096);
			d->ring = d->h.hal.dma_alloc(d->h.hal.ctx, d->ring_size,
						     4096, &d->ring_bus);
		}
	} else {
		used_off = align_up(avail_off + 6 + 2u * n, 4);
		if (!d->ring) {
			d->ring_size = 4096;
			d->ring = d->h.hal.dma_alloc(d->h.hal.ctx, 4096, 4096,
						     &d->ring_bus);
		}
	}
	CHECK(d->ring != NULL);
	memset(d->ring, 0, d->ring_size);
	d->desc = d->ring;
	d->avail = d->ring + avail_off;
	d->used = d->ring + used_off;
	d->desc_bus = d->ring_bus;
	d->avail_bus = d->ring_bus + avail_off;
	d->used_bus = d->ring_bus + used_off;
	d->avail_idx = d->used_seen = d->next_desc = 0;

	if (is_pci(d)) {
		cc_wr(d, 0x16, 2, 0);                /* queue_select */
		CHECK_EQ(cc_rd(d, 0x18, 2), 128u);   /* queue_size: max */
		CHECK_EQ(cc_rd(d, 0x12, 2), 1u);     /* num_queues */
		cc_wr(d, 0x18, 2, n);
		wr(d, d->common + 0x20, (uint32_t)d->desc_bus);
		wr(d, d->common + 0x24, (uint32_t)(d->desc_bus >> 32));
		wr(d, d->common + 0x28, (uint32_t)d->avail_bus);
		wr(d, d->common + 0x2c, (uint32_t)(d->avail_bus >> 32));
		wr(d, d->common + 0x30, (uint32_t)d->used_bus);
		wr(d, d->common + 0x34, (uint32_t)(d->used_bus >> 32));
		d->notify_off = (uint16_t)cc_rd(d, 0x1e, 2);
		cc_wr(d, 0x1c, 2, 1);                /* queue_enable */
		CHECK_EQ(cc_rd(d, 0x1c, 2), 1u);
	} else if (d->legacy) {
		wr(d, 0x028, 4096);                  /* GuestPageSize */
		wr(d, 0x030, 0);
		CHECK_EQ(rd(d, 0x040), 0);           /* QueuePFN: unused */
		CHECK_EQ(rd(d, 0x034), 128u);
		wr(d, 0x038, n);
		wr(d, 0x03c, 4096);                  /* QueueAlign */
		wr(d, 0x040, (uint32_t)(d->ring_bus >> 12));
		CHECK_EQ(rd(d, 0x040), (uint32_t)(d->ring_bus >> 12));
	} else {
		wr(d, 0x030, 0);
		CHECK_EQ(rd(d, 0x044), 0);           /* QueueReady */
		CHECK_EQ(rd(d, 0x034), 128u);
		wr(d, 0x038, n);
		wr(d, 0x080, (uint32_t)d->desc_bus);
		wr(d, 0x084, (uint32_t)(d->desc_bus >> 32));
		wr(d, 0x090, (uint32_t)d->avail_bus);
		wr(d, 0x094, (uint32_t)(d->avail_bus >> 32));
		wr(d, 0x0a0, (uint32_t)d->used_bus);
		wr(d, 0x0a4, (uint32_t)(d->used_bus >> 32));
		wr(d, 0x044, 1);
		CHECK_EQ(rd(d, 0x044), 1u);
	}
}

static void bring_up(struct drv *d, uint64_t want)
{
	CHECK_EQ(negotiate(d, want), 0);
	queue_setup(d, QSZ);
	status_wr(d, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	CHECK_EQ(status_rd(d), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

/* ---- Requests ------------------------------------------------------------- */

struct buf {
	uint64_t bus;
	uint32_t len;
	uint16_t flags; /* D_WRITE, D_INDIRECT */
};

/* Chain `nb` descriptors from the next free index and make it available. */
static uint16_t submit(struct drv *d, const struct buf *b, unsigned nb,
		       int notify)
{
	uint16_t head = d->next_desc;

	for (unsigned i = 0; i < nb; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSZ);
		uint8_t *e = d->desc + 16u * idx;

		w64(d, e, b[i].bus);
		w32(d, e + 8, b[i].len);
		w16(d, e + 12, (uint16_t)(b[i].flags |
					  (i + 1 < nb ? D_NEXT : 0u)));
		w16(d, e + 14, (uint16_t)((idx + 1) % QSZ));
	}
	d->next_desc = (uint16_t)((head + nb) % QSZ);
	w16(d, d->avail + 4 + 2u * (d->avail_idx % QSZ), head);
	d->avail_idx++;
	w16(d, d->avail + 2, d->avail_idx);
	if (notify)
		kick(d);
	return head;
}

static int take(struct drv *d, uint32_t *id, uint32_t *len)
{
	const uint8_t *e;

	if (r16(d, d->used + 2) == d->used_seen)
		return 0;
	d->h.hal.rmb(d->h.hal.ctx);
	e = d->used + 4 + 8u * (d->used_seen % QSZ);
	*id = r32(d, e);
	*len = r32(d, e + 4);
	d->used_seen++;
	if (d->features & F_EVENT_IDX) /* notify me at the next one */
		w16(d, d->avail + 4 + 2 * QSZ, d->used_seen);
	return 1;
}

static void put_hdr(struct drv *d, uint32_t type, uint64_t sector)
{
	w32(d, d->buf, type);
	w32(d, d->buf + 4, 0);
	w64(d, d->buf + 8, sector);
	d->buf[64] = 0xee;
}

/* One request: header, optional data, status; returns the status byte or
 * -1 if nothing was completed. */
static int blk_req(struct drv *d, uint32_t type, uint64_t sector,
		   uint64_t data_bus, uint32_t len, int data_write,
		   uint32_t *used_len)
{
	struct buf b[3];
	unsigned nb = 0;
	uint32_t id = 0, ulen = 0;
	uint16_t head;

	put_hdr(d, type, sector);
	b[nb++] = (struct buf){ d->buf_bus, 16, 0 };
	if (len)
		b[nb++] = (struct buf){ data_bus, len,
					(uint16_t)(data_write ? D_WRITE : 0) };
	b[nb++] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
	head = submit(d, b, nb, 1);
	if (!take(d, &id, &ulen))
		return -1;
	CHECK_EQ(id, head);
	if (used_len)
		*used_len = ulen;
	return d->buf[64];
}

/* ISR (PCI, read clears) or InterruptStatus (MMIO, acknowledged). */
static uint32_t take_irq(struct drv *d)
{
	uint32_t v;

	if (is_pci(d))
		return rd(d, d->isr) & 0xffu;
	v = rd(d, 0x060);
	wr(d, 0x064, v);
	return v;
}

/* ---- The scenarios ---------------------------------------------------- */

static void expect_clean(struct drv *d, const char *where)
{
	if (d->m.host_violations) {
		fprintf(stderr, "%s: unexpected violations:\n%s", where,
			ustor_virtio_blk_model_violations(&d->m));
		failures++;
		ustor_virtio_blk_model_clear_violations(&d->m);
	}
}

static void basic_io(struct drv *d)
{
	uint64_t disk_bytes = 0;
	uint8_t *disk = ustor_virtio_blk_model_disk(&d->m, &disk_bytes);
	uint32_t ulen = 0;
	char id[21];

	CHECK_EQ(disk_bytes, 2048u * 512u);
	for (unsigned i = 0; i < 4096; i++)
		d->data[i] = (uint8_t)(i * 7 + 3);

	/* write 8 sectors at 100 */
	CHECK_EQ(blk_req(d, T_OUT, 100, d->data_bus, 4096, 0, &ulen), 0);
	CHECK_EQ(ulen, 1);
	CHECK(memcmp(disk + 100 * 512, d->data, 4096) == 0);
	CHECK_EQ(d->m.writes, 1);
	CHECK_EQ(d->m.bytes_written, 4096);
	CHECK_EQ(take_irq(d) & 1u, 1u);
	CHECK_EQ(take_irq(d), 0);

	/* read them back */
	memset(d->data + 4096, 0, 4096);
	CHECK_EQ(blk_req(d, T_IN, 100, d->data_bus + 4096, 4096, 1, &ulen), 0);
	CHECK_EQ(ulen, 4097);
	CHECK(memcmp(d->data + 4096, d->data, 4096) == 0);
	CHECK_EQ(d->m.reads, 1);

	/* flush */
	CHECK(d->m.unflushed_writes > 0);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &ulen), 0);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(d->m.flushes, 1);
	CHECK_EQ(d->m.unflushed_writes, 0);

	/* GET_ID */
	memset(d->buf + 256, 0xaa, 20);
	CHECK_EQ(blk_req(d, T_GET_ID, 0, d->buf_bus + 256, 20, 1, &ulen), 0);
	CHECK_EQ(ulen, 21);
	memcpy(id, d->buf + 256, 20);
	id[20] = '\0';
	CHECK(strcmp(id, "USTOR-VIRTIO-BLK-01") == 0);
	CHECK_EQ(d->buf[256 + 19], 0);

	/* out of range: IOERR and a violation */
	CHECK_EQ(blk_req(d, T_IN, 2044, d->data_bus, 4096, 1, &ulen), 1);
	CHECK_EQ(d->m.host_violations, 1);
	CHECK(strstr(ustor_virtio_blk_model_violations(&d->m),
		     "beyond capacity") != NULL);
	ustor_virtio_blk_model_clear_violations(&d->m);

	CHECK_EQ(d->m.used_notifications, 5);
	CHECK_EQ(d->m.notifications, 5);
	take_irq(d);
	expect_clean(d, "basic_io");
}

/* bad_used_id: the used element names a head never made available. */
static void bad_used_id(struct drv *d)
{
	struct buf b[2];
	uint32_t id = 0, len = 0;
	uint16_t head;

	d->m.bad_used_id = 1;
	put_hdr(d, T_FLUSH, 0);
	b[0] = (struct buf){ d->buf_bus, 16, 0 };
	b[1] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
	head = submit(d, b, 2, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(id, QSZ + 5u);
	CHECK(id != head);
	CHECK_EQ(len, 1);
	CHECK_EQ(d->m.bad_used_id, 0);
	d->m.bad_used_len = 1;
	head = submit(d, b, 2, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0xffffffffu);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), 0); /* normal again */
	CHECK_EQ(len, 1);
	take_irq(d);
	expect_clean(d, "bad_used_id");
}

/* A two-descriptor loop: a violation, the device broken, no completion. */
static void descriptor_loop(struct drv *d)
{
	uint8_t *a = d->desc + 16u * 0, *b = d->desc + 16u * 1;
	uint32_t id, len;
	uint64_t before = d->m.used_posted;

	d->next_desc = 0;
	put_hdr(d, T_FLUSH, 0);
	w64(d, a, d->buf_bus);
	w32(d, a + 8, 16);
	w16(d, a + 12, D_NEXT);
	w16(d, a + 14, 1);
	w64(d, b, d->buf_bus + 64);
	w32(d, b + 8, 1);
	w16(d, b + 12, D_NEXT | D_WRITE);
	w16(d, b + 14, 0); /* back to the head */
	w16(d, d->avail + 4 + 2u * (d->avail_idx % QSZ), 0);
	d->avail_idx++;
	w16(d, d->avail + 2, d->avail_idx);
	kick(d);
	CHECK(!take(d, &id, &len));
	CHECK_EQ(d->m.used_posted, before);
	CHECK_EQ(d->m.host_violations, 1);
	CHECK(strstr(ustor_virtio_blk_model_violations(&d->m), "loops") !=
	      NULL);
	CHECK(ustor_virtio_blk_model_broken(&d->m));
	if (!d->legacy) {
		CHECK(status_rd(d) & S_NEEDS_RESET);
		CHECK(take_irq(d) & 2u); /* configuration change */
	}
	/* a reset repairs it */
	ustor_virtio_blk_model_clear_violations(&d->m);
	status_wr(d, 0);
	CHECK_EQ(status_rd(d), 0);
	CHECK(!ustor_virtio_blk_model_broken(&d->m));
	expect_clean(d, "descriptor_loop");
}

/* PCI: indirect descriptors, MSI-X routing, RING_EVENT_IDX, strict width. */
static void pci_extras(struct drv *d)
{
	uint8_t *ind = d->buf + 512, *disk = ustor_virtio_blk_model_disk(&d->m, NULL);
	struct buf b;
	uint32_t id = 0, len = 0, ctrl, st8;
	uint16_t head;

	CHECK_EQ(d->features & (F_INDIRECT | F_EVENT_IDX),
		 F_INDIRECT | F_EVENT_IDX);
	/* read sectors 100..107 through a 3-entry indirect table */
	put_hdr(d, T_IN, 100);
	memset(d->data + 8192, 0, 4096);
	w64(d, ind, d->buf_bus);
	w32(d, ind + 8, 16);
	w16(d, ind + 12, D_NEXT);
	w16(d, ind + 14, 1);
	w64(d, ind + 16, d->data_bus + 8192);
	w32(d, ind + 24, 4096);
	w16(d, ind + 28, D_NEXT | D_WRITE);
	w16(d, ind + 30, 2);
	w64(d, ind + 32, d->buf_bus + 64);
	w32(d, ind + 40, 1);
	w16(d, ind + 44, D_WRITE);
	w16(d, ind + 46, 0);
	b = (struct buf){ d->buf_bus + 512, 48, D_INDIRECT };
	head = submit(d, &b, 1, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 4097);
	CHECK_EQ(d->buf[64], 0);
	CHECK(memcmp(d->data + 8192, disk + 100 * 512, 4096) == 0);
	CHECK_EQ(d->m.indirect_tables, 1);
	/* the device publishes avail_event after the used ring */
	CHECK_EQ(r16(d, d->used + 4 + 8 * QSZ), d->avail_idx);
	take_irq(d);

	/* RING_EVENT_IDX: used_event ahead suppresses the notification */
	w16(d, d->avail + 4 + 2 * QSZ, (uint16_t)(d->used_seen + 5));
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), 0);
	CHECK_EQ(d->m.used_suppressed, 1);
	CHECK_EQ(take_irq(d), 0);
	w16(d, d->avail + 4 + 2 * QSZ, d->used_seen); /* the next one */
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), 0);
	CHECK_EQ(take_irq(d) & 1u, 1u);

	/* MSI-X: enable, unmask entry 1, route queue 0 to vector 1 */
	ctrl = pcir(d, (uint16_t)d->msix_cap);
	pciw(d, (uint16_t)d->msix_cap, ctrl | (0x8000u << 16));
	wr(d, 0x3800 + 16 + 12, 0); /* vector control: unmasked */
	cc_wr(d, 0x1a, 2, 1);
	CHECK_EQ(cc_rd(d, 0x1a, 2), 1u);
	cc_wr(d, 0x10, 2, 7); /* beyond the table: NO_VECTOR */
	CHECK_EQ(cc_rd(d, 0x10, 2), 0xffffu);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), 0);
	CHECK_EQ(d->m.msix_messages[1], 1);
	CHECK_EQ(pcir(d, 0x04) & (0x08u << 16), 0); /* no INTx status */
	pciw(d, (uint16_t)d->msix_cap, ctrl);
	take_irq(d);

	/* PCI configuration access capability: read queue_select's dword */
	pciw(d, 0x88, 4);
	pciw(d, 0x8c, d->common + 0x14);
	pciw(d, 0x90, 4);
	CHECK_EQ(pcir(d, 0x94), rd(d, d->common + 0x14));

	/* strict width: a dword spanning device_status and queue_select */
	d->m.strict_access_width = 1;
	cc_wr(d, 0x16, 2, 0);
	CHECK(d->m.host_violations >= 1);
	CHECK(strstr(ustor_virtio_blk_model_violations(&d->m),
		     "spans several fields") != NULL);
	d->m.strict_access_width = 0;
	ustor_virtio_blk_model_clear_violations(&d->m);
	/* ... a 16-bit access through the HAL is one field: nothing to report */
	st8 = cc_rd(d, 0x14, 1);
	d->m.strict_access_width = 1;
	d->h.hal.mmio_write16(d->h.hal.ctx, d->base + d->common + 0x16, 0);
	CHECK_EQ(d->h.hal.mmio_read16(d->h.hal.ctx, d->base + d->common + 0x16), 0u);
	CHECK_EQ(d->h.hal.mmio_read8(d->h.hal.ctx, d->base + d->common + 0x14), st8);
	CHECK_EQ(d->m.host_violations, 0);
	d->m.strict_access_width = 0;
	expect_clean(d, "pci_extras");
}

/* MMIO2: scattered buffer, write zeroes, deferred + reorder, config
 * generation churn, other knobs. */
static void mmio2_extras(struct drv *d)
{
	uint8_t *disk = ustor_virtio_blk_model_disk(&d->m, NULL);
	uint8_t *ubuf;
	void *mem = NULL;
	ustor_bus_addr p0 = 0, p1 = 0;
	int nonzero = 0;
	struct buf b[4];
	uint32_t id = 0, len = 0;
	uint16_t h1, h2;
	unsigned loops = 0;

	/* a registered (scattered) 8 KiB buffer: one descriptor per piece */
	CHECK_EQ(posix_memalign(&mem, 4096, 8192), 0);
	ubuf = mem;
	if (!ubuf)
		return;
	CHECK_EQ(ustor_test_hal_register(&d->h, ubuf, 8192), USTOR_OK);
	CHECK_EQ(d->h.hal.virt_to_bus(d->h.hal.ctx, ubuf, 4096, &p0), USTOR_OK);
	CHECK_EQ(d->h.hal.virt_to_bus(d->h.hal.ctx, ubuf + 4096, 4096, &p1),
		 USTOR_OK);
	for (unsigned i = 0; i < 8192; i++)
		disk[i] = (uint8_t)(i ^ (i >> 8));
	put_hdr(d, T_IN, 0);
	b[0] = (struct buf){ d->buf_bus, 16, 0 };
	b[1] = (struct buf){ p0, 4096, D_WRITE };
	b[2] = (struct buf){ p1, 4096, D_WRITE };
	b[3] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
	h1 = submit(d, b, 4, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(id, h1);
	CHECK_EQ(len, 8193);
	CHECK(memcmp(ubuf, disk, 8192) == 0);
	ustor_test_hal_unregister(&d->h, ubuf);
	free(ubuf);

	/* WRITE_ZEROES of sectors 100..107 */
	put_hdr(d, T_WRITE_ZEROES, 0);
	w64(d, d->buf + 128, 100);
	w32(d, d->buf + 136, 8);
	w32(d, d->buf + 140, 0);
	b[0] = (struct buf){ d->buf_bus, 16, 0 };
	b[1] = (struct buf){ d->buf_bus + 128, 16, 0 };
	b[2] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
	h1 = submit(d, b, 3, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(d->buf[64], 0);
	for (unsigned i = 0; i < 4096; i++)
		nonzero |= disk[100 * 512 + i];
	CHECK_EQ(nonzero, 0);
	CHECK_EQ(d->m.write_zeroes, 1);

	/* deferred + reorder: two flushes come back newest first */
	d->m.deferred = 1;
	d->m.reorder = 1;
	put_hdr(d, T_FLUSH, 0);
	b[0] = (struct buf){ d->buf_bus, 16, 0 };
	b[1] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
	h1 = submit(d, b, 2, 1);
	b[1] = (struct buf){ d->buf_bus + 65, 1, D_WRITE };
	h2 = submit(d, b, 2, 1);
	CHECK(!take(d, &id, &len));
	CHECK_EQ(ustor_virtio_blk_model_pending(&d->m), 2);
	take_irq(d);
	CHECK_EQ(ustor_virtio_blk_model_process(&d->m), 2);
	CHECK(take(d, &id, &len));
	CHECK_EQ(id, h2);
	CHECK(take(d, &id, &len));
	CHECK_EQ(id, h1);
	CHECK_EQ(take_irq(d) & 1u, 1u);
	d->m.deferred = 0;
	d->m.reorder = 0;

	/* a torn configuration read makes the generation loop go round */
	d->m.config_gen_churn = 3; /* two reads per pass: 3 passes */
	CHECK_EQ(read_capacity(d, &loops), 2048);
	CHECK_EQ(loops, 3);

	/* ioerr range */
	d->m.ioerr_sector_first = 103;
	d->m.ioerr_sector_count = 1;
	CHECK_EQ(blk_req(d, T_IN, 96, d->data_bus, 4096, 1, &len), 1);
	CHECK_EQ(len, 1);
	CHECK_EQ(blk_req(d, T_IN, 112, d->data_bus, 4096, 1, &len), 0);
	d->m.ioerr_sector_count = 0;

	/* capacity change: configuration change interrupt */
	take_irq(d);
	CHECK_EQ(ustor_virtio_blk_model_set_capacity(&d->m, 1024), USTOR_OK);
	CHECK_EQ(take_irq(d), 2u);
	CHECK_EQ(read_capacity(d, &loops), 1024);

	/* needs_reset_after: the first request completes, then nothing */
	d->m.needs_reset_after = 1;
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), 0);
	CHECK(status_rd(d) & S_NEEDS_RESET);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), -1);
	CHECK(take_irq(d) & 2u);

	/* refuse_features: FEATURES_OK does not stick */
	d->m.refuse_features = 1;
	CHECK_EQ(negotiate(d, F_VERSION_1 | F_FLUSH), -1);
	CHECK_EQ(d->m.features_ok_refused, 1);
	d->m.refuse_features = 0;
	/* not accepting VERSION_1 is refused too, and a violation */
	CHECK_EQ(negotiate(d, F_FLUSH), -1);
	CHECK_EQ(d->m.host_violations, 1);
	ustor_virtio_blk_model_clear_violations(&d->m);

	/* notify before DRIVER_OK: a violation, nothing processed */
	CHECK_EQ(negotiate(d, F_VERSION_1 | F_FLUSH), 0);
	queue_setup(d, QSZ);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), -1);
	CHECK(strstr(ustor_virtio_blk_model_violations(&d->m),
		     "before DRIVER_OK") != NULL);
	ustor_virtio_blk_model_clear_violations(&d->m);
	status_wr(d, 0);
	bring_up(d, F_VERSION_1 | F_FLUSH);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), 0);
	take_irq(d);
	expect_clean(d, "mmio2_extras");

	/* never_complete: executed (status written), never used; reusing
	 * its descriptors is a violation that breaks the device */
	d->m.never_complete = 1;
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), -1);
	CHECK_EQ(d->buf[64], 0);
	d->m.never_complete = 0;
	d->next_desc = (uint16_t)((d->next_desc + QSZ - 2u) % QSZ);
	CHECK_EQ(blk_req(d, T_FLUSH, 0, 0, 0, 0, &len), -1);
	CHECK(strstr(ustor_virtio_blk_model_violations(&d->m),
		     "still owned") != NULL);
	CHECK(ustor_virtio_blk_model_broken(&d->m));
	ustor_virtio_blk_model_clear_violations(&d->m);

	/* DISCARD: data kept unless discard_fill; unmap is UNSUPP */
	bring_up(d, F_VERSION_1 | F_FLUSH | F_DISCARD);
	d->m.discard_fill = 0x5a;
	put_hdr(d, 11, 0);
	w64(d, d->buf + 128, 200);
	w32(d, d->buf + 136, 8);
	w32(d, d->buf + 140, 0);
	b[0] = (struct buf){ d->buf_bus, 16, 0 };
	b[1] = (struct buf){ d->buf_bus + 128, 16, 0 };
	b[2] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
	submit(d, b, 3, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(d->buf[64], 0);
	CHECK_EQ(disk[200 * 512], 0x5a);
	CHECK_EQ(disk[208 * 512 - 1], 0x5a);
	CHECK_EQ(d->m.discards, 1);
	w32(d, d->buf + 140, 1); /* unmap: not for DISCARD */
	d->buf[64] = 0xee;
	submit(d, b, 3, 1);
	CHECK(take(d, &id, &len));
	CHECK_EQ(d->buf[64], 2);
	CHECK_EQ(d->m.host_violations, 1);
	ustor_virtio_blk_model_clear_violations(&d->m);
	d->m.discard_fill = -1;
	take_irq(d);
	expect_clean(d, "mmio2_extras (2)");
}

/* ---- Packed ring (2.8), written from the spec on virtio-mmio v2 -------- */

#define P_AVAIL 0x0080u
#define P_USED 0x8000u

struct pk {
	uint16_t pos;  /* next descriptor position the driver writes */
	int wrap;      /* driver ring wrap counter */
	uint16_t upos; /* next used position */
	int uwrap;     /* used wrap counter */
};

static uint8_t *pk_drv_evt(struct drv *d) { return d->ring + 16u * QSZ; }
static uint8_t *pk_dev_evt(struct drv *d) { return d->ring + 16u * QSZ + 64u; }

/* Write `nb` descriptors from the ring position on, buffer id `id` in the
 * last (and every) one, the first one's flags last. */
static void pk_submit(struct drv *d, struct pk *k, const struct buf *b,
		      unsigned nb, uint16_t id)
{
	uint16_t first = k->pos, first_flags = 0;

	for (unsigned i = 0; i < nb; i++) {
		uint8_t *e = d->ring + 16u * k->pos;
		uint16_t f = (uint16_t)(b[i].flags | (i + 1 < nb ? D_NEXT : 0u) |
					(k->wrap ? P_AVAIL : P_USED));

		le32(e + 8, b[i].len);
		le32(e, (uint32_t)b[i].bus);
		le32(e + 4, (uint32_t)(b[i].bus >> 32));
		le16(e + 12, id);
		if (i == 0)
			first_flags = f;
		else
			le16(e + 14, f);
		if (++k->pos == QSZ) {
			k->pos = 0;
			k->wrap ^= 1;
		}
	}
	d->h.hal.wmb(d->h.hal.ctx);
	le16(d->ring + 16u * first + 14, first_flags);
	kick(d);
}

/* The used descriptor at the used position, if there is one. */
static int pk_take(struct drv *d, struct pk *k, unsigned ndesc, uint16_t *id,
		   uint32_t *len)
{
	const uint8_t *e = d->ring + 16u * k->upos;
	uint16_t f = gle16(e + 14);

	if (!!(f & P_AVAIL) != k->uwrap || !!(f & P_USED) != k->uwrap)
		return 0;
	*id = gle16(e + 12);
	*len = gle32(e + 8);
	k->upos = (uint16_t)(k->upos + ndesc);
	if (k->upos >= QSZ) {
		k->upos = (uint16_t)(k->upos - QSZ);
		k->uwrap ^= 1;
	}
	return 1;
}

static void packed_ring(void)
{
	struct drv *d = calloc(1, sizeof(*d));
	uint64_t want = F_VERSION_1 | F_RING_PACKED | F_EVENT_IDX | F_INDIRECT;
	struct ustor_virtio_blk_model_cfg cfg;
	struct pk k = { 0, 1, 0, 1 };
	uint64_t disk_bytes = 0;
	uint8_t *disk;
	uint16_t id = 0;
	uint32_t len = 0;
	uint64_t irqs;
	int before = failures;

	if (!d) {
		failures++;
		return;
	}
	memset(d, 0, sizeof(*d));
	d->t = USTOR_VIRTIO_BLK_MODEL_MMIO2;
	ustor_test_hal_init(&d->h);
	ustor_virtio_blk_model_cfg_default(&cfg);
	cfg.transport = USTOR_VIRTIO_BLK_MODEL_MMIO2;
	cfg.features |= F_RING_PACKED;
	CHECK_EQ(ustor_virtio_blk_model_init(&d->m, &d->h, &cfg), USTOR_OK);
	d->base = ustor_virtio_blk_model_mmio_base(&d->m);
	d->buf = d->h.hal.dma_alloc(d->h.hal.ctx, 4096, 4096, &d->buf_bus);
	d->data = d->h.hal.dma_alloc(d->h.hal.ctx, 16384, 4096, &d->data_bus);
	d->ring_size = 4096;
	d->ring = d->h.hal.dma_alloc(d->h.hal.ctx, 4096, 4096, &d->ring_bus);
	CHECK(d->buf && d->data && d->ring);
	memset(d->ring, 0, 4096);
	disk = ustor_virtio_blk_model_disk(&d->m, &disk_bytes);

	CHECK_EQ(negotiate(d, want), 0);
	CHECK_EQ(ustor_virtio_blk_model_features(&d->m), want);
	/* Descriptor ring, driver area = driver event suppression, device
	 * area = device event suppression. */
	wr(d, 0x030, 0);
	wr(d, 0x038, QSZ);
	wr(d, 0x080, (uint32_t)d->ring_bus);
	wr(d, 0x084, (uint32_t)(d->ring_bus >> 32));
	wr(d, 0x090, (uint32_t)(d->ring_bus + 16u * QSZ));
	wr(d, 0x094, (uint32_t)((d->ring_bus + 16u * QSZ) >> 32));
	wr(d, 0x0a0, (uint32_t)(d->ring_bus + 16u * QSZ + 64u));
	wr(d, 0x0a4, (uint32_t)((d->ring_bus + 16u * QSZ + 64u) >> 32));
	wr(d, 0x044, 1);
	status_wr(d, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);

	/* 12 reads of 3 descriptors: the ring (16) wraps twice over; each used
	 * descriptor carries the id, the written length, and AVAIL = USED =
	 * the used wrap counter. */
	for (unsigned i = 0; i < 4096; i++)
		disk[64 * 512 + i] = (uint8_t)(i * 13 + 1);
	for (unsigned r = 0; r < 12; r++) {
		struct buf b[3];

		memset(d->buf, 0, 32);
		le32(d->buf, T_IN);
		le32(d->buf + 8, 64);
		d->buf[64] = 0xee;
		memset(d->data, 0, 4096);
		b[0] = (struct buf){ d->buf_bus, 16, 0 };
		b[1] = (struct buf){ d->data_bus, 4096, D_WRITE };
		b[2] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
		pk_submit(d, &k, b, 3, (uint16_t)(100 + r));
		CHECK_EQ(pk_take(d, &k, 3, &id, &len), 1);
		CHECK_EQ(id, 100 + r);
		CHECK_EQ(len, 4097);
		CHECK_EQ(d->buf[64], 0);
		CHECK(memcmp(d->data, disk + 64 * 512, 4096) == 0);
		/* EVENT_IDX: the device asks for the next notification at
		 * the next available position, in its lap. */
		CHECK_EQ(gle16(pk_dev_evt(d) + 2), 2u);
		CHECK_EQ(gle16(pk_dev_evt(d)), k.pos | ((unsigned)k.wrap << 15));
	}
	CHECK_EQ(k.wrap, 1); /* 36 descriptors: two laps and a bit */
	CHECK_EQ(d->m.reads, 12);
	CHECK_EQ(d->m.used_notifications, 12); /* driver area: ENABLE (0) */

	/* Indirect: one ring descriptor, a table of packed descriptors. */
	{
		uint8_t *t = d->buf + 512;
		struct buf b;

		memset(t, 0, 48);
		le32(t, (uint32_t)d->buf_bus);
		le32(t + 4, (uint32_t)(d->buf_bus >> 32));
		le32(t + 8, 16);
		le32(t + 16, (uint32_t)(d->data_bus + 8192));
		le32(t + 20, (uint32_t)((d->data_bus + 8192) >> 32));
		le32(t + 24, 512);
		le16(t + 30, D_WRITE);
		le32(t + 32, (uint32_t)(d->buf_bus + 64));
		le32(t + 36, (uint32_t)((d->buf_bus + 64) >> 32));
		le32(t + 40, 1);
		le16(t + 46, D_WRITE);
		b = (struct buf){ d->buf_bus + 512, 48, D_INDIRECT };
		d->buf[64] = 0xee;
		pk_submit(d, &k, &b, 1, 5);
		CHECK_EQ(pk_take(d, &k, 1, &id, &len), 1);
		CHECK_EQ(id, 5);
		CHECK_EQ(len, 513);
		CHECK_EQ(d->buf[64], 0);
		CHECK(memcmp(d->data + 8192, disk + 64 * 512, 512) == 0);
		CHECK_EQ(d->m.indirect_tables, 1);
	}

	/* Driver event suppression: DISABLE, then DESC at a position the
	 * next completion does not reach, then at the one it does. */
	{
		struct buf b[2];

		le32(d->buf, T_FLUSH);
		le32(d->buf + 8, 0);
		b[0] = (struct buf){ d->buf_bus, 16, 0 };
		b[1] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
		irqs = d->m.used_notifications;
		le16(pk_drv_evt(d) + 2, 1); /* DISABLE */
		pk_submit(d, &k, b, 2, 9);
		CHECK_EQ(pk_take(d, &k, 2, &id, &len), 1);
		CHECK_EQ(d->m.used_notifications, irqs);
		le16(pk_drv_evt(d), (uint16_t)(((k.upos + 5u) % QSZ) |
					       ((unsigned)k.uwrap << 15)));
		le16(pk_drv_evt(d) + 2, 2); /* DESC */
		pk_submit(d, &k, b, 2, 9);
		CHECK_EQ(pk_take(d, &k, 2, &id, &len), 1);
		CHECK_EQ(d->m.used_notifications, irqs);
		le16(pk_drv_evt(d), (uint16_t)(k.upos | ((unsigned)k.uwrap << 15)));
		pk_submit(d, &k, b, 2, 9);
		CHECK_EQ(pk_take(d, &k, 2, &id, &len), 1);
		CHECK_EQ(d->m.used_notifications, irqs + 1);
	}
	expect_clean(d, "packed");

	/* A buffer id made available again while the device holds it. */
	{
		struct buf b[2];

		d->m.deferred = 1;
		b[0] = (struct buf){ d->buf_bus, 16, 0 };
		b[1] = (struct buf){ d->buf_bus + 64, 1, D_WRITE };
		pk_submit(d, &k, b, 2, 3);
		pk_submit(d, &k, b, 2, 3);
		CHECK(strstr(ustor_virtio_blk_model_violations(&d->m),
			     "buffer id 3 made available again") != NULL);
		CHECK(ustor_virtio_blk_model_broken(&d->m));
		ustor_virtio_blk_model_clear_violations(&d->m);
	}
	status_wr(d, 0);
	drv_fini(d);
	free(d);
	printf("%-6s %s\n", "packed", failures == before ? "ok" : "FAILED");
}

static void run(enum ustor_virtio_blk_model_transport t, const char *name)
{
	struct drv *d = calloc(1, sizeof(*d));
	uint64_t want = F_VERSION_1 | F_FLUSH | F_BLK_SIZE | F_SEG_MAX |
			F_SIZE_MAX | F_DISCARD | F_WRITE_ZEROES;
	unsigned loops = 0;
	int before = failures;

	if (!d) {
		failures++;
		return;
	}
	if (t == USTOR_VIRTIO_BLK_MODEL_PCI)
		want |= F_INDIRECT | F_EVENT_IDX;
	drv_init(d, t);
	bring_up(d, want);
	if (!d->legacy)
		CHECK_EQ(ustor_virtio_blk_model_features(&d->m), d->features);
	CHECK_EQ(d->features & F_VERSION_1, d->legacy ? 0 : F_VERSION_1);
	CHECK_EQ(read_capacity(d, &loops), 2048);
	CHECK_EQ(cfg_field32(d, 20), 512); /* blk_size */
	CHECK_EQ(cfg_field32(d, 12), 126); /* seg_max */
	CHECK_EQ(ustor_virtio_blk_model_writeback(&d->m), 1);
	expect_clean(d, name);

	basic_io(d);
	bad_used_id(d);
	if (t == USTOR_VIRTIO_BLK_MODEL_PCI)
		pci_extras(d);
	if (t == USTOR_VIRTIO_BLK_MODEL_MMIO2)
		mmio2_extras(d);
	descriptor_loop(d);

	/* bring it back after the reset and do one more round trip */
	bring_up(d, want);
	CHECK_EQ(blk_req(d, T_IN, 100, d->data_bus, 4096, 1, NULL), 0);
	expect_clean(d, name);
	drv_fini(d);
	free(d);
	printf("%-6s %s\n", name, failures == before ? "ok" : "FAILED");
}

int main(void)
{
	run(USTOR_VIRTIO_BLK_MODEL_PCI, "pci");
	run(USTOR_VIRTIO_BLK_MODEL_MMIO2, "mmio2");
	run(USTOR_VIRTIO_BLK_MODEL_MMIO1, "mmio1");
	packed_ring();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all virtio-blk model checks passed\n");
	return 0;
}
