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
#define USTOR_VIRTIO_NOINLINE __attribute__((noinline))

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

/* Full barrier: stores before it are visible before loads after it. The
 * HAL's wmb/rmb order stores with stores and loads with loads; EVENT_IDX
 * needs store-then-load (publish the index, then read the device's event
 * index; write used_event, then re-check the used ring), as in 2.7.10. */
static inline void ustor_virtio_mb(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("mfence" ::: "memory");
#elif defined(__i386__)
	__asm__ __volatile__("lock; addl $0,(%%esp)" ::: "memory", "cc");
#elif defined(__aarch64__)
	__asm__ __volatile__("dmb osh" ::: "memory");
#elif defined(__riscv)
	__asm__ __volatile__("fence iorw,iorw" ::: "memory");
#else
	/* m68k and others uStor builds for: one in-order CPU. */
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* The wrap-safe event test of 2.7.10 (vring_need_event): notify (or
 * interrupt) when `event` lies in [old, new) of a 16-bit index. */
static inline int ustor_virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1u) < (uint16_t)(new_idx - old_idx);
}

/* ---- Virtqueue hot operations --------------------------------------------
 * A chain is built in place: begin (room check, nothing taken), one add per
 * descriptor in order, then commit (taken off the free list; split: put in
 * the available ring, not yet visible to the device; packed: made
 * available, not yet notified) or nothing at all to drop it (the
 * descriptors written stay free; the device never sees them: a packed
 * chain's head flags are written last, at commit).
 * ustor_virtq_kick publishes every committed chain and notifies when the
 * device wants it. With indirect tables the descriptors go to the head's
 * table and the ring gets one descriptor. */
struct ustor_virtq_chain {
	volatile uint8_t *tbl; /* indirect table being filled, or NULL */
	uint16_t head;	       /* split: head descriptor; packed: buffer id */
	uint16_t cur;	       /* descriptor (ring, or table entry) the next add writes */
	uint16_t ndesc;	       /* descriptors in the chain */
	uint16_t left;	       /* adds still to come */
	uint16_t pos;	       /* packed: ring position of the first descriptor */
	uint16_t head_flags;   /* packed direct: the first descriptor's flags, stored last */
	uint8_t wrap;	       /* packed: wrap counter at `cur` */
	uint8_t rsvd[3];
	uint32_t in_len; /* device-writable bytes so far */
};

static inline int ustor_virtq_begin(const struct ustor_virtq *vq, struct ustor_virtq_chain *c,
				    uint16_t ndesc)
{
	c->ndesc = ndesc;
	c->left = ndesc;
	c->in_len = 0;
	c->head = vq->free_head;
	if (vq->ind != NULL && ndesc <= vq->ind_max) {
		if (USTOR_VIRTIO_UNLIKELY(vq->num_free == 0))
			return -1;
		c->tbl = vq->ind + (size_t)c->head * vq->ind_stride;
		c->cur = 0;
	} else {
		if (USTOR_VIRTIO_UNLIKELY(vq->num_free < ndesc || ndesc == 0))
			return -1;
		c->tbl = NULL;
		c->cur = vq->free_head;
	}
	if (vq->packed) {
		c->pos = vq->avail_shadow;
		c->wrap = vq->avail_wrap;
		if (c->tbl == NULL)
			c->cur = vq->avail_shadow;
	}
	return 0;
}

/* Write the next descriptor; `write` makes it device-writable. */
static inline void ustor_virtq_add(struct ustor_virtq *vq, struct ustor_virtq_chain *c,
				   ustor_bus_addr bus, uint32_t len, int write)
{
	uint16_t flags = write ? USTOR_VIRTQ_DESC_F_WRITE : 0;
	int legacy = vq->legacy;
	int more = --c->left != 0;

	if (write)
		c->in_len += len;
	if (c->tbl == NULL && !vq->packed) {
		/* Split ring, direct: the link comes from the shadow (the free
		 * list is already chained). */
		volatile struct ustor_virtq_desc *d = &vq->desc[c->cur];
		uint16_t next = vq->next[c->cur];

		if (more)
			flags |= USTOR_VIRTQ_DESC_F_NEXT;
		d->addr = ustor_virtio_w64(legacy, bus);
		d->len = ustor_virtio_w32(legacy, len);
		d->flags = ustor_virtio_w16(legacy, flags);
		d->next = ustor_virtio_w16(legacy, more ? next : 0);
		if (more)
			c->cur = next;
	} else if (c->tbl != NULL) {
		/* Indirect table: consecutive entries (2.7.5.3, 2.8.19). */
		volatile uint8_t *e = c->tbl + ((uint32_t)c->cur << 4);

		if (vq->packed) {
			volatile struct ustor_pvirtq_desc *d =
				(volatile struct ustor_pvirtq_desc *)(volatile void *)e;

			d->addr = ustor_virtio_w64(legacy, bus);
			d->len = ustor_virtio_w32(legacy, len);
			d->id = 0;
			d->flags = ustor_virtio_w16(legacy, flags);
		} else {
			volatile struct ustor_virtq_desc *d =
				(volatile struct ustor_virtq_desc *)(volatile void *)e;

			d->addr = ustor_virtio_w64(legacy, bus);
			d->len = ustor_virtio_w32(legacy, len);
			d->flags = ustor_virtio_w16(legacy,
						    (uint16_t)(flags | (more ? USTOR_VIRTQ_DESC_F_NEXT : 0)));
			d->next = ustor_virtio_w16(legacy, more ? (uint16_t)(c->cur + 1u) : 0);
		}
		c->cur++;
	} else {
		volatile struct ustor_pvirtq_desc *d = &vq->pdesc[c->cur];

		/* Packed, direct: AVAIL = wrap counter, USED = its inverse
		 * (2.8.1); the first descriptor's flags are stored at commit. */
		flags |= (uint16_t)((more ? USTOR_VIRTQ_DESC_F_NEXT : 0) |
				    (c->wrap ? USTOR_PVIRTQ_DESC_F_AVAIL : USTOR_PVIRTQ_DESC_F_USED));
		d->addr = ustor_virtio_w64(legacy, bus);
		d->len = ustor_virtio_w32(legacy, len);
		d->id = ustor_virtio_w16(legacy, c->head);
		if (c->left + 1u == c->ndesc)
			c->head_flags = flags;
		else
			d->flags = ustor_virtio_w16(legacy, flags);
		if (++c->cur == vq->size) {
			c->cur = 0;
			c->wrap ^= 1u;
		}
	}
}

/* Packed commit (virtq.c): take the id, advance the ring, store the head
 * flags last. */
uint16_t ustor_virtq_commit_packed(struct ustor_virtq *vq, struct ustor_virtq_chain *c);

/* Take the chain off the free list and make it available (split: in the
 * ring, unpublished; packed: visible, not notified). Returns the head. */
static inline uint16_t ustor_virtq_commit(struct ustor_virtq *vq, struct ustor_virtq_chain *c)
{
	struct ustor_virtq_head *h = &vq->heads[c->head];
	int legacy = vq->legacy;

	if (vq->packed)
		return ustor_virtq_commit_packed(vq, c);
	h->in_len = c->in_len;
	if (c->tbl != NULL) {
		volatile struct ustor_virtq_desc *d = &vq->desc[c->head];

		d->addr = ustor_virtio_w64(legacy,
					   vq->ind_bus + (ustor_bus_addr)c->head * vq->ind_stride);
		d->len = ustor_virtio_w32(legacy, (uint32_t)c->ndesc << 4);
		d->flags = ustor_virtio_w16(legacy, USTOR_VIRTQ_DESC_F_INDIRECT);
		d->next = 0;
		vq->free_head = vq->next[c->head];
		vq->num_free--;
		h->ndesc = 1;
		h->last = c->head;
	} else {
		vq->free_head = vq->next[c->cur];
		vq->num_free = (uint16_t)(vq->num_free - c->ndesc);
		h->ndesc = c->ndesc;
		h->last = c->cur;
	}
	vq->avail_ring[vq->avail_shadow & vq->mask] = ustor_virtio_w16(legacy, c->head);
	vq->avail_shadow++;
	return c->head;
}

/* Publish committed chains and notify the device if it wants it
 * (EVENT_IDX: avail_event / device event suppression). */
void ustor_virtq_kick(struct ustor_virtq *vq);

/* 1 if committed chains wait for ustor_virtq_kick. */
static inline int ustor_virtq_kick_pending(const struct ustor_virtq *vq)
{
	return vq->packed ? vq->pending != 0 : vq->avail_shadow != vq->avail_published;
}

/* Take the next used element: USTOR_VIRTQ_USED_* (virtio.h). The id and
 * the len are checked against the shadow before anything uses them. */
int ustor_virtq_get_used(struct ustor_virtq *vq, uint16_t *out_head, uint32_t *out_len);

/* Used-buffer interrupts: off (VIRTQ_AVAIL_F_NO_INTERRUPT, used_event far
 * behind, or the DISABLE event flag), or on after `after` (>= 1) more
 * used chains (split with EVENT_IDX; otherwise at the next). After
 * switching on, returns 1 if used elements are already there (the caller
 * reaps again: they may not raise an interrupt). */
void ustor_virtq_irq_off(struct ustor_virtq *vq);
int ustor_virtq_irq_on(struct ustor_virtq *vq, uint16_t after);

/* Number of ring descriptors the device holds. */
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
#define USTOR_VBLK_STATE_RESETTING 4 /* recovery re-initialising: I/O gets BUSY */

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

/* The queue a request goes to (block.h: out of range means 0). */
static inline struct ustor_virtio_blk_queue *ustor_vblk_queue_of(struct ustor_virtio_blk *vb,
								  uint16_t queue)
{
	return &vb->q[queue < vb->nq ? queue : 0u];
}

/* Every queue's lock, in index order (lifecycle paths only). */
static inline void ustor_vblk_lock_all(struct ustor_virtio_blk *vb)
{
	uint32_t i;

	for (i = 0; i < vb->nq; i++)
		ustor_vblk_lock(vb->hal, &vb->q[i]);
}

static inline void ustor_vblk_unlock_all(struct ustor_virtio_blk *vb)
{
	uint32_t i;

	for (i = vb->nq; i-- > 0;)
		ustor_vblk_unlock(vb->hal, &vb->q[i]);
}

/* Set up the request queues (after feature negotiation and the
 * configuration read; before DRIVER_OK) / free them (only once the device
 * is reset). The hooks a re-initialisation after a reset uses. */
ustor_status ustor_vblk_queues_init(struct ustor_virtio_blk *vb);
void ustor_vblk_queues_free(struct ustor_virtio_blk *vb);

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

/* Statistics hooks (block.h): once per request accepted / finished, under
 * the queue lock. */
#define USTOR_VBLK_STATS_SUBMIT(bdev, req) ustor_stats_on_submit((bdev), (req))
#define USTOR_VBLK_STATS_COMPLETE(bdev, req) ustor_stats_on_complete((bdev), (req))

extern const struct ustor_block_ops ustor_virtio_blk_ops;

/* Run the callbacks of a finished list (no lock held); returns how many. */
unsigned ustor_vblk_deliver(struct ustor_virtio_blk *vb, struct ustor_block_req *req);

/* Take every outstanding request (in flight, waiting, undelivered) off
 * every queue onto `d`, ending those not yet finished with `status`. Only
 * once the device is reset or stopped (no DMA can follow). Takes each
 * queue's lock itself. */
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

/* Recovery (virtio_recover.c). An empty poll of q (no lock held): a queue
 * with chains in flight and no completion for cfg.cmd_timeout_ms is
 * stalled: one status read, then recovery or "device gone". */
void ustor_vblk_watchdog(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q);
/* Reset, re-initialise, re-submit (no lock held); finished requests go on
 * `d`. Not USTOR_OK: the device is broken and everything ended on `d`. */
ustor_status ustor_vblk_recover(struct ustor_virtio_blk *vb, ustor_status cause,
				struct ustor_vblk_done *d);
/* The bring-up again after a reset, with every queue freed: features
 * (must come out the same), configuration, queues, limits, DRIVER_OK
 * (virtio_blk.c). */
ustor_status ustor_vblk_reinit(struct ustor_virtio_blk *vb);
/* Put `req` back on its queue's waiting list from its first block (queue
 * lock held); the next poll of the queue sends it (virtio_blk_io.c). */
void ustor_vblk_requeue(struct ustor_virtio_blk_queue *q, struct ustor_block_req *req);

/* Read the configuration fields the driver uses (generation-checked). */
ustor_status ustor_vblk_read_capacity(struct ustor_virtio_blk *vb, uint64_t *out_sectors);

/* Status check behind ustor_virtio_blk_check (ISR, DEVICE_NEEDS_RESET,
 * configuration change) for a caller that holds the queue lock. */
ustor_status ustor_vblk_check_locked(struct ustor_virtio_blk *vb);

#endif
