/* SPDX-License-Identifier: MIT */
/*
 * A virtio-mmio block device for the fuzz targets, small and obedient to
 * the harness rather than to the spec: its configuration space, feature
 * bits, queue size and version are whatever the fuzz input says, and it
 * writes used elements only when told to (or at once in `auto_complete`
 * mode). It is the attacker's hand, so it trusts nothing the driver gives
 * it either: every ring index is masked, every descriptor mapped through
 * the HAL (a descriptor that maps nowhere is a driver bug and aborts).
 *
 * On an available-buffer notification it walks each new chain (direct or
 * one indirect table), writes the status byte (OK) into the last writable
 * byte, and records the chain as outstanding: head, writable bytes, request
 * type and sector range. `on_chain` (may be NULL) lets a target check the
 * chain against the limits it advertised.
 *
 * Split ring only for now; a packed ring (VIRTIO_F_RING_PACKED) would be
 * one more walker here and a second way to post used elements.
 */
#ifndef USTOR_FUZZ_FAKE_VMMIO_H
#define USTOR_FUZZ_FAKE_VMMIO_H

#include <string.h>

#include "fuzz_common.h"
#include "hosted_hal.h"

#define FVM_WINDOW 0x200u
#define FVM_MAX_Q 1024u
#define FVM_MAX_DATA 512u /* data descriptors remembered per chain */

struct fvm_chain {
	uint8_t live;
	uint8_t status_ok;   /* status byte OK as the device left it */
	uint16_t head;
	uint32_t type;
	uint64_t sector;
	uint32_t in_len;      /* device-writable bytes, status included */
	uint32_t data_bytes;  /* bytes between header and status */
	uint32_t ndata;       /* data descriptors */
	uint32_t max_data_desc; /* largest data descriptor */
	uint8_t *status;      /* host pointer of the status byte (NULL: none) */
};

struct fvm {
	struct ustor_test_hal *h;
	uint8_t *token;                     /* the window's address token */
	/* What the device says about itself (the fuzz input's). */
	uint32_t version;                   /* 1 legacy, 2 modern */
	uint32_t device_id;
	uint32_t vendor_id;
	uint64_t features;
	uint32_t queue_num_max;
	uint8_t config[256];
	uint32_t config_gen;
	int gen_churn;                      /* every config read bumps the generation */
	int auto_complete;                  /* post used elements at once */
	/* Driver-written state. */
	uint32_t dev_feat_sel, drv_feat_sel;
	uint64_t driver_features;
	uint32_t queue_sel, queue_num, queue_ready, page_size, queue_align, pfn;
	uint64_t desc, avail, used;
	uint32_t status;
	uint32_t isr;
	/* Queue 0 as the device sees it. */
	uint16_t last_avail;
	uint16_t used_idx;
	int skipped;                        /* a notification was ignored since reset */
	struct fvm_chain chains[FVM_MAX_Q];
	uint8_t stale_ok[FVM_MAX_Q];       /* used posted for a head not outstanding */
	uint64_t notifications, resets;
	void (*on_chain)(struct fvm *d, struct fvm_chain *c);
	/* A used element for live chain `c` became visible (or may). */
	void (*on_used)(struct fvm *d, const struct fvm_chain *c);
	void *user;
};

static inline int fvm_legacy(const struct fvm *d)
{
	return d->version == 1;
}

static inline uint16_t fvm_qsize(const struct fvm *d)
{
	uint32_t n = d->queue_num;

	if (n == 0 || n > FVM_MAX_Q || (n & (n - 1u)) != 0)
		return 0;
	return (uint16_t)n;
}

/* Ring and descriptor fields: little-endian, or CPU order when legacy. */
static inline uint16_t fvm_g16(const struct fvm *d, const uint8_t *p)
{
	uint16_t v;

	if (fvm_legacy(d)) {
		memcpy(&v, p, 2);
		return v;
	}
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t fvm_g32(const struct fvm *d, const uint8_t *p)
{
	uint32_t v;

	if (fvm_legacy(d)) {
		memcpy(&v, p, 4);
		return v;
	}
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t fvm_g64(const struct fvm *d, const uint8_t *p)
{
	uint64_t v;

	if (fvm_legacy(d)) {
		memcpy(&v, p, 8);
		return v;
	}
	return (uint64_t)fvm_g32(d, p) | ((uint64_t)fvm_g32(d, p + 4) << 32);
}

static inline void fvm_p16(const struct fvm *d, uint8_t *p, uint16_t v)
{
	if (fvm_legacy(d)) {
		memcpy(p, &v, 2);
		return;
	}
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void fvm_p32(const struct fvm *d, uint8_t *p, uint32_t v)
{
	if (fvm_legacy(d)) {
		memcpy(p, &v, 4);
		return;
	}
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Host pointer of driver memory; a descriptor or ring the driver gave the
 * device must map. */
static inline uint8_t *fvm_map(struct fvm *d, uint64_t bus, size_t len, const char *what)
{
	uint8_t *p = ustor_test_hal_bus_to_virt(d->h, bus, len);

	if (p == NULL) {
		fprintf(stderr, "fake virtio: %s at bus %llx+%zu maps nowhere\n", what,
			(unsigned long long)bus, len);
		FUZZ_ASSERT(p != NULL);
	}
	return p;
}

static inline void fvm_ring_addrs(struct fvm *d)
{
	uint16_t n = fvm_qsize(d);

	if (!fvm_legacy(d) || n == 0)
		return;
	d->desc = (uint64_t)d->pfn * d->page_size;
	d->avail = d->desc + 16u * n;
	d->used = (d->avail + 6u + 2u * n + d->queue_align - 1u) & ~((uint64_t)d->queue_align - 1u);
}

/* What publishing the element at ring slot `slot` tells the driver. */
static inline void fvm_expose(struct fvm *d, uint8_t *u, uint16_t slot, uint16_t n)
{
	uint32_t id = fvm_g32(d, u + 4u + 8u * (slot & (n - 1u)));

	if (id < n && d->chains[id].live) {
		if (d->on_used != NULL)
			d->on_used(d, &d->chains[id]);
		d->chains[id].live = 0;
	} else if (id < FVM_MAX_Q && d->stale_ok[id] < 255) {
		d->stale_ok[id]++;
	}
}

/* Write one used element and publish it (idx += bump). A bump above 1
 * also publishes whatever older elements sit in the slots it skips. */
static inline void fvm_post_used(struct fvm *d, uint32_t id, uint32_t len, uint16_t bump)
{
	uint16_t n = fvm_qsize(d);
	uint16_t k;
	uint8_t *u;

	if (n == 0 || d->used == 0)
		return;
	u = fvm_map(d, d->used, 4u + 8u * n, "used ring");
	fvm_p32(d, u + 4u + 8u * (d->used_idx & (n - 1u)), id);
	fvm_p32(d, u + 8u + 8u * (d->used_idx & (n - 1u)), len);
	for (k = 0; k < bump && k < n; k++)
		fvm_expose(d, u, (uint16_t)(d->used_idx + k), n);
	if (bump == 0)
		fvm_expose(d, u, d->used_idx, n); /* may be published later */
	d->used_idx = (uint16_t)(d->used_idx + bump);
	fvm_p16(d, u + 2u, d->used_idx);
	d->isr |= 1u;
}

/* Walk one chain from `head`. Returns 0 if the chain is malformed (the
 * device then ignores it, as a broken device would). */
static inline int fvm_walk(struct fvm *d, uint16_t head, struct fvm_chain *c)
{
	uint16_t n = fvm_qsize(d);
	uint8_t *table = fvm_map(d, d->desc, 16u * n, "descriptor table");
	uint8_t *tab = table;
	uint32_t tab_n = n;
	uint32_t i = head;
	uint32_t steps = 0;
	uint32_t off = 0; /* bytes of the readable stream seen */
	uint8_t *last_w = NULL;
	uint8_t hdr[16];
	uint32_t hdr_got = 0;
	int indirect_done = 0;

	memset(c, 0, sizeof(*c));
	c->head = head;
	for (;;) {
		uint8_t *e;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;

		if (i >= tab_n || ++steps > 2u * FVM_MAX_Q)
			return 0;
		e = tab + 16u * i;
		addr = fvm_g64(d, e);
		len = fvm_g32(d, e + 8);
		flags = fvm_g16(d, e + 12);
		if (flags & 4u) { /* INDIRECT */
			if (indirect_done || tab != table || len == 0 || (len % 16u) != 0 ||
			    len / 16u > 4096u)
				return 0;
			tab = fvm_map(d, addr, len, "indirect table");
			tab_n = len / 16u;
			i = 0;
			indirect_done = 1;
			continue;
		}
		if (len != 0) {
			uint8_t *p = fvm_map(d, addr, len, "buffer");

			if (flags & 2u) { /* device-writable */
				c->in_len += len;
				last_w = p + len - 1u;
				memset(p, 0xa5, len);
			} else {
				uint32_t k;

				for (k = 0; k < len && hdr_got < 16u; k++)
					hdr[hdr_got++] = p[k];
				off += len;
			}
			(void)off;
		}
		if (!(flags & 1u)) /* no NEXT */
			break;
		i = fvm_g16(d, e + 14);
	}
	if (hdr_got < 16u || last_w == NULL)
		return 0;
	c->type = fvm_g32(d, hdr);
	c->sector = fvm_g64(d, hdr + 8);
	c->status = last_w;
	*last_w = 0; /* VIRTIO_BLK_S_OK */
	c->status_ok = 1;
	c->live = 1;
	return 1;
}

/* Second walk for the limits: data descriptors and their sizes. */
static inline void fvm_measure(struct fvm *d, struct fvm_chain *c)
{
	uint16_t n = fvm_qsize(d);
	uint8_t *tab = fvm_map(d, d->desc, 16u * n, "descriptor table");
	uint32_t tab_n = n;
	uint32_t i = c->head;
	uint32_t steps = 0;
	uint32_t ro = 0; /* readable bytes so far (header first) */
	uint32_t total_w = c->in_len;
	uint32_t w = 0;

	for (;;) {
		uint8_t *e = tab + 16u * i;
		uint32_t len = fvm_g32(d, e + 8);
		uint16_t flags = fvm_g16(d, e + 12);
		uint32_t data;

		if (flags & 4u) {
			tab = fvm_map(d, fvm_g64(d, e), len, "indirect table");
			tab_n = len / 16u;
			i = 0;
			continue;
		}
		if (flags & 2u) { /* writable: data unless it is the status byte */
			data = w + len >= total_w ? (len > 0 ? len - 1u : 0) : len;
			w += len;
		} else { /* readable: data past the 16-byte header */
			data = ro >= 16u ? len : (ro + len > 16u ? ro + len - 16u : 0);
			ro += len;
		}
		if (data != 0) {
			c->ndata++;
			c->data_bytes += data;
			if (data > c->max_data_desc)
				c->max_data_desc = data;
		}
		if (!(flags & 1u) || ++steps > 2u * FVM_MAX_Q)
			break;
		i = fvm_g16(d, e + 14);
		if (i >= tab_n)
			break;
	}
}

static inline void fvm_notify(struct fvm *d)
{
	uint16_t n = fvm_qsize(d);
	uint8_t *a;
	uint16_t idx;

	d->notifications++;
	if (n == 0 || d->avail == 0 || d->desc == 0 || d->used == 0 ||
	    (!fvm_legacy(d) && !d->queue_ready) || (d->status & 0x40u)) {
		d->skipped = 1;
		return;
	}
	a = fvm_map(d, d->avail, 4u + 2u * n, "available ring");
	idx = fvm_g16(d, a + 2);
	/* Never more than the ring holds beyond what the device took. Once
	 * broken by a driver that accepted a used element for a chain it had
	 * not yet published (regress/virtio_used/avail-jump): freeing that
	 * chain let it reuse the head while the device still had to read it. */
	if (!d->skipped && (uint16_t)(idx - d->last_avail) > n)
		FUZZ_ASSERT(!"available index ran ahead of the ring");
	while (d->last_avail != idx) {
		uint16_t head = fvm_g16(d, a + 4u + 2u * (d->last_avail & (n - 1u)));
		struct fvm_chain c;

		d->last_avail++;
		FUZZ_ASSERT(head < n);
		if (!fvm_walk(d, head, &c))
			FUZZ_ASSERT(!"driver posted a malformed chain");
		fvm_measure(d, &c);
		d->chains[head] = c;
		if (d->on_chain != NULL)
			d->on_chain(d, &d->chains[head]);
		if (d->auto_complete)
			fvm_post_used(d, head, c.in_len, 1);
	}
	/* VIRTIO_F_EVENT_IDX: ask to be notified of the very next chain. */
	if (d->driver_features & (1ull << 29)) {
		uint8_t *u = fvm_map(d, d->used, 6u + 8u * n, "used ring");

		fvm_p16(d, u + 4u + 8u * n, d->last_avail);
	}
}

static inline void fvm_reset(struct fvm *d)
{
	d->status = 0;
	d->isr = 0;
	d->queue_num = 0;
	d->queue_ready = 0;
	d->pfn = 0;
	d->desc = d->avail = d->used = 0;
	d->last_avail = 0;
	d->used_idx = 0;
	d->skipped = 0;
	d->driver_features = 0;
	memset(d->chains, 0, sizeof(d->chains));
	memset(d->stale_ok, 0, sizeof(d->stale_ok));
	d->resets++;
}

static uint32_t fvm_read32(void *dev, uint32_t off)
{
	struct fvm *d = dev;

	if (off >= 0x100u) {
		uint32_t o = off - 0x100u;

		if (d->gen_churn)
			d->config_gen++;
		return (uint32_t)d->config[o] | ((uint32_t)d->config[o + 1] << 8) |
		       ((uint32_t)d->config[o + 2] << 16) | ((uint32_t)d->config[o + 3] << 24);
	}
	switch (off) {
	case 0x000: return 0x74726976u;
	case 0x004: return d->version;
	case 0x008: return d->device_id;
	case 0x00c: return d->vendor_id;
	case 0x010:
		return d->dev_feat_sel == 0 ? (uint32_t)d->features :
		       d->dev_feat_sel == 1 ? (uint32_t)(d->features >> 32) : 0;
	case 0x034: return d->queue_sel == 0 ? d->queue_num_max : 0;
	case 0x040: return d->queue_sel == 0 ? d->pfn : 0;
	case 0x044: return d->queue_sel == 0 ? d->queue_ready : 0;
	case 0x060: return d->isr;
	case 0x070: return d->status;
	case 0x0fc: return d->config_gen;
	default: return 0;
	}
}

static void fvm_write32(void *dev, uint32_t off, uint32_t v)
{
	struct fvm *d = dev;

	switch (off) {
	case 0x014: d->dev_feat_sel = v; break;
	case 0x020:
		if (d->drv_feat_sel == 0)
			d->driver_features = (d->driver_features & ~0xffffffffull) | v;
		else if (d->drv_feat_sel == 1)
			d->driver_features = (d->driver_features & 0xffffffffull) | ((uint64_t)v << 32);
		break;
	case 0x024: d->drv_feat_sel = v; break;
	case 0x028: d->page_size = v; break;
	case 0x030: d->queue_sel = v; break;
	case 0x038: if (d->queue_sel == 0) d->queue_num = v; break;
	case 0x03c: if (d->queue_sel == 0) d->queue_align = v; break;
	case 0x040:
		if (d->queue_sel == 0) {
			d->pfn = v;
			if (v == 0) {
				d->last_avail = 0;
				d->used_idx = 0;
			}
			if (d->page_size == 0 || (d->page_size & (d->page_size - 1u)) != 0 ||
			    d->queue_align == 0 || (d->queue_align & (d->queue_align - 1u)) != 0)
				d->pfn = 0;
			fvm_ring_addrs(d);
		}
		break;
	case 0x044: if (d->queue_sel == 0) d->queue_ready = v & 1u; break;
	case 0x050: if (v == 0) fvm_notify(d); break;
	case 0x064: d->isr &= ~v; break;
	case 0x070:
		if (v == 0)
			fvm_reset(d);
		else
			d->status = v & 0xffu;
		break;
	case 0x080: d->desc = (d->desc & ~0xffffffffull) | v; break;
	case 0x084: d->desc = (d->desc & 0xffffffffull) | ((uint64_t)v << 32); break;
	case 0x090: d->avail = (d->avail & ~0xffffffffull) | v; break;
	case 0x094: d->avail = (d->avail & 0xffffffffull) | ((uint64_t)v << 32); break;
	case 0x0a0: d->used = (d->used & ~0xffffffffull) | v; break;
	case 0x0a4: d->used = (d->used & 0xffffffffull) | ((uint64_t)v << 32); break;
	default: break;
	}
}

/* Attach a fresh device (fields zeroed; set version etc. after). */
static inline void fvm_attach(struct fvm *d, struct ustor_test_hal *h)
{
	memset(d, 0, sizeof(*d));
	d->h = h;
	d->token = malloc(FVM_WINDOW);
	if (d->token == NULL)
		abort();
	d->version = 2;
	d->device_id = 2;
	d->vendor_id = 0x554d4551u;
	d->queue_align = 4096;
	d->page_size = 4096;
	ustor_test_hal_attach_mmio(h, d->token, FVM_WINDOW, d, fvm_read32, fvm_write32);
}

static inline void fvm_detach(struct fvm *d)
{
	ustor_test_hal_detach_mmio(d->h, d->token);
	free(d->token);
	d->token = NULL;
}

#endif
