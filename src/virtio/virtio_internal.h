/* SPDX-License-Identifier: MIT */
/* Internal interfaces between the virtio files: wire byte order, register
 * helpers, the virtqueue's hot operations, and the block driver's pieces. */
#ifndef USTOR_VIRTIO_INTERNAL_H
#define USTOR_VIRTIO_INTERNAL_H

#include "ustor/endian.h"
#include "ustor/virtio.h"
#include "ustor/virtio_blk.h"

#include "../core/log.h"
#include "../core/mem.h"
#include "../core/wait.h"

#define USTOR_VIRTIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define USTOR_VIRTIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- Wire byte order ----------------------------------------------------
 * Modern devices: little-endian. Legacy devices: the guest's own order
 * (VIRTIO 1.2 2.7.1 and 5.2.4, legacy notes). On a little-endian CPU both
 * are the same and the test folds away. */
static inline uint16_t ustor_virtio_w16(int legacy, uint16_t v)
{
	return legacy ? v : ustor_cpu_to_le16(v);
}

static inline uint32_t ustor_virtio_w32(int legacy, uint32_t v)
{
	return legacy ? v : ustor_cpu_to_le32(v);
}

static inline uint64_t ustor_virtio_w64(int legacy, uint64_t v)
{
	return legacy ? v : ustor_cpu_to_le64(v);
}

/* Decoding is the same swap (or none). */
#define ustor_virtio_r16 ustor_virtio_w16
#define ustor_virtio_r32 ustor_virtio_w32

/* A value of `width` bytes at p in the device's order (config decoding). */
static inline uint64_t ustor_virtio_get(int legacy, const uint8_t *p, uint32_t width)
{
	uint64_t v = 0;
	uint32_t i;

	if (!legacy || !USTOR_BIG_ENDIAN) {
		for (i = width; i-- > 0;)
			v = (v << 8) | p[i];
	} else {
		for (i = 0; i < width; i++)
			v = (v << 8) | p[i];
	}
	return v;
}

/* 64-bit shifts by a variable count (0..31) from 32-bit halves: a plain
 * 64-bit `<<` or `>>` by a variable is a libgcc call (__ashldi3,
 * __lshrdi3) on i386 and m68k, which a freestanding kernel lacks. */
static inline uint64_t ustor_virtio_shl64(uint64_t v, uint32_t s)
{
	uint32_t lo = (uint32_t)v;
	uint32_t hi = (uint32_t)(v >> 32);

	if (s == 0)
		return v;
	hi = (hi << s) | (lo >> (32u - s));
	lo <<= s;
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t ustor_virtio_shr64(uint64_t v, uint32_t s)
{
	uint32_t lo = (uint32_t)v;
	uint32_t hi = (uint32_t)(v >> 32);

	if (s == 0)
		return v;
	lo = (lo >> s) | (hi << (32u - s));
	hi >>= s;
	return ((uint64_t)hi << 32) | lo;
}

/* ---- Registers ----------------------------------------------------------- */

static inline uint32_t ustor_virtio_rd32(const struct ustor_virtio_dev *dev, volatile uint8_t *base,
					 uint32_t off)
{
	return dev->hal->mmio_read32(dev->hal->ctx, base + off);
}

static inline void ustor_virtio_wr32(const struct ustor_virtio_dev *dev, volatile uint8_t *base,
				     uint32_t off, uint32_t val)
{
	dev->hal->mmio_write32(dev->hal->ctx, base + off, val);
}

/* 8/16-bit fields: hal->mmio_read8/16, mmio_write8/16 if the port has them, otherwise the
 * aligned dword holding the field (virtio.h says why that is enough).
 * Stores through the dword rewrite the other lanes with what was just
 * read from them. */
uint32_t ustor_virtio_rd_narrow(const struct ustor_virtio_dev *dev, volatile uint8_t *base,
				uint32_t off, uint32_t width);
void ustor_virtio_wr_narrow(const struct ustor_virtio_dev *dev, volatile uint8_t *base,
			    uint32_t off, uint32_t width, uint32_t val);

/* Transports. */
extern const struct ustor_virtio_transport_ops ustor_virtio_pci_ops;
extern const struct ustor_virtio_transport_ops ustor_virtio_mmio_ops;

/* Log the device status with a reason (all transports). */
void ustor_virtio_log_status(struct ustor_virtio_dev *dev, const char *why);

/* ---- Virtqueue hot operations --------------------------------------------
 * A chain is built in place: begin (room check, nothing taken), one add per
 * descriptor in order, then commit (taken off the free list and put in the
 * available ring, not yet visible to the device) or nothing at all to drop
 * it (the descriptors written stay free; the device never sees them).
 * ustor_virtq_kick publishes every committed chain and notifies. */
struct ustor_virtq_chain {
	uint16_t head;
	uint16_t cur;	 /* descriptor the next add writes */
	uint16_t ndesc;	 /* descriptors in the chain */
	uint16_t left;	 /* adds still to come */
	uint32_t in_len; /* device-writable bytes so far */
};

static inline int ustor_virtq_begin(const struct ustor_virtq *vq, struct ustor_virtq_chain *c,
				    uint16_t ndesc)
{
	if (USTOR_VIRTIO_UNLIKELY(vq->num_free < ndesc || ndesc == 0))
		return -1;
	c->head = vq->free_head;
	c->cur = vq->free_head;
	c->ndesc = ndesc;
	c->left = ndesc;
	c->in_len = 0;
	return 0;
}

/* Write the next descriptor; `write` makes it device-writable. The link
 * comes from the shadow (the free list is already chained). */
static inline void ustor_virtq_add(struct ustor_virtq *vq, struct ustor_virtq_chain *c,
				   ustor_bus_addr bus, uint32_t len, int write)
{
	volatile struct ustor_virtq_desc *d = &vq->desc[c->cur];
	uint16_t flags = write ? USTOR_VIRTQ_DESC_F_WRITE : 0;
	uint16_t next = vq->next[c->cur];
	int legacy = vq->legacy;

	if (--c->left != 0)
		flags |= USTOR_VIRTQ_DESC_F_NEXT;
	d->addr = ustor_virtio_w64(legacy, bus);
	d->len = ustor_virtio_w32(legacy, len);
	d->flags = ustor_virtio_w16(legacy, flags);
	d->next = ustor_virtio_w16(legacy, flags & USTOR_VIRTQ_DESC_F_NEXT ? next : 0);
	if (write)
		c->in_len += len;
	if (c->left != 0)
		c->cur = next;
}

/* Take the chain off the free list and put its head in the available ring
 * (unpublished). Returns the head. */
static inline uint16_t ustor_virtq_commit(struct ustor_virtq *vq, const struct ustor_virtq_chain *c)
{
	struct ustor_virtq_head *h = &vq->heads[c->head];

	vq->free_head = vq->next[c->cur];
	vq->num_free = (uint16_t)(vq->num_free - c->ndesc);
	h->in_len = c->in_len;
	h->ndesc = c->ndesc;
	h->last = c->cur;
	vq->avail_ring[vq->avail_shadow & vq->mask] = ustor_virtio_w16(vq->legacy, c->head);
	vq->avail_shadow++;
	return c->head;
}

/* Publish committed chains (available idx) and notify the device. */
void ustor_virtq_kick(struct ustor_virtq *vq);

/* Take the next used element: USTOR_VIRTQ_USED_* (virtio.h). The id and
 * the len are checked against the shadow before anything uses them. */
int ustor_virtq_get_used(struct ustor_virtq *vq, uint16_t *out_head, uint32_t *out_len);

/* Number of chains the device holds. */
static inline uint32_t ustor_virtq_in_flight(const struct ustor_virtq *vq)
{
	return (uint32_t)vq->size - vq->num_free;
}

/* ---- Block driver ------------------------------------------------------- */

/* vb->state */
#define USTOR_VBLK_STATE_OFF 0
#define USTOR_VBLK_STATE_READY 1
#define USTOR_VBLK_STATE_SHUT_DOWN 2
#define USTOR_VBLK_STATE_BROKEN 3 /* reset after a fatal device error; unusable */

/* Slot kinds. */
#define USTOR_VBLK_SLOT_FREE 0
#define USTOR_VBLK_SLOT_BLOCK 1	    /* one chain of a block request */
#define USTOR_VBLK_SLOT_INTERNAL 2  /* GET_ID at init */
#define USTOR_VBLK_SLOT_ABANDONED 3 /* owner timed out: drop the completion */

/* Per-head DMA record: header, one discard/write-zeroes range, status
 * byte, GET_ID data. */
#define USTOR_VBLK_REC_BYTES 64u
#define USTOR_VBLK_REC_SHIFT 6u
#define USTOR_VBLK_REC_HDR 0u
#define USTOR_VBLK_REC_RANGE 16u
#define USTOR_VBLK_REC_STATUS 32u
#define USTOR_VBLK_REC_ID 40u
_Static_assert(USTOR_VBLK_REC_ID + USTOR_VIRTIO_BLK_ID_BYTES <= USTOR_VBLK_REC_BYTES,
	       "GET_ID data fits the per-head record");
_Static_assert((1u << USTOR_VBLK_REC_SHIFT) == USTOR_VBLK_REC_BYTES, "record shift");

/* Written into the status byte before a chain goes out: a device that
 * returns the chain without writing a status is caught (not a valid one). */
#define USTOR_VBLK_STATUS_UNSET 0xffu

/* req->next_lba once a FUA write's data is done and its flush is due. */
#define USTOR_VBLK_FUA_FLUSH (~(uint64_t)0)

_Static_assert(offsetof(struct ustor_virtio_blk, bdev) == 0, "bdev first in ustor_virtio_blk");
static inline struct ustor_virtio_blk *ustor_vblk_of(struct ustor_block_device *bdev)
{
	return (struct ustor_virtio_blk *)(void *)bdev;
}

static inline void ustor_vblk_lock(const struct ustor_hal *hal, struct ustor_virtio_blk_queue *q)
{
	if (q->locked)
		hal->lock(hal->ctx, &q->lock_word);
}

static inline void ustor_vblk_unlock(const struct ustor_hal *hal, struct ustor_virtio_blk_queue *q)
{
	if (q->locked)
		hal->unlock(hal->ctx, &q->lock_word);
}

/* Finished requests whose callbacks are still to run (next_waiting links). */
struct ustor_vblk_done {
	struct ustor_block_req *head;
	struct ustor_block_req *tail;
};

static inline void ustor_vblk_done_add(struct ustor_vblk_done *d, struct ustor_block_req *req)
{
	req->next_waiting = NULL;
	if (d->tail != NULL)
		d->tail->next_waiting = req;
	else
		d->head = req;
	d->tail = req;
}

extern const struct ustor_block_ops ustor_virtio_blk_ops;

/* Run the callbacks of a finished list (no lock held); returns how many. */
unsigned ustor_vblk_deliver(struct ustor_virtio_blk *vb, struct ustor_block_req *req);

/* Take every outstanding request (in flight, waiting, undelivered) off the
 * queue onto `d`, ending those not yet finished with `status`. Only once
 * the device is reset or stopped (no DMA can follow). Caller holds the
 * lock. */
void ustor_vblk_collect_all(struct ustor_virtio_blk *vb, ustor_status status,
			    struct ustor_vblk_done *d);

/* The device broke (impossible used element, DEVICE_NEEDS_RESET): log, make
 * the block device unusable with `status`, and leave the reset to
 * ustor_vblk_after_unlock. Caller holds the lock. */
void ustor_vblk_break(struct ustor_virtio_blk *vb, ustor_status status, const char *why);

/* After the queue lock is dropped: finish a pending break (reset the
 * device, bounded, then end everything outstanding with the unusable
 * reason onto `d`), then run the callbacks on `d`. Returns how many ran. */
unsigned ustor_vblk_after_unlock(struct ustor_virtio_blk *vb, struct ustor_vblk_done *d);

/* Read the configuration fields the driver uses (generation-checked). */
ustor_status ustor_vblk_read_capacity(struct ustor_virtio_blk *vb, uint64_t *out_sectors);

/* Status check behind ustor_virtio_blk_check (ISR, DEVICE_NEEDS_RESET,
 * configuration change) for a caller that holds the queue lock. */
ustor_status ustor_vblk_check_locked(struct ustor_virtio_blk *vb);

#endif
