/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk I/O path (VIRTIO 1.2 section 5.2.6). A block request becomes
 * one or more descriptor chains: header (device-readable), data or one
 * discard/write-zeroes range, status byte (device-writable). Reads and
 * writes are cut so a chain has at most seg_lim data descriptors, each
 * within one window (4 KiB, or less when size_max says so); discard and
 * write-zeroes at the device's sector limits. What does not fit the ring
 * waits on the queue and is issued from poll. Sectors are 512 bytes
 * whatever the block size (HARDWARE.md item 10).
 */
#include "virtio_internal.h"

/* Header record of chain head `head`, and its bus address. */
static inline uint8_t *ustor_vblk_rec(const struct ustor_virtio_blk_queue *q, uint16_t head)
{
	return q->hdrs + ((size_t)head << USTOR_VBLK_REC_SHIFT);
}

static inline ustor_bus_addr ustor_vblk_rec_bus(const struct ustor_virtio_blk_queue *q,
						uint16_t head)
{
	return q->hdrs_bus + ((ustor_bus_addr)head << USTOR_VBLK_REC_SHIFT);
}

/* Non-coherent DMA: an indirect table is written like the ring. */
static inline void ustor_vblk_sync_table(const struct ustor_hal *hal,
					 const struct ustor_virtq_chain *c)
{
	if (c->tbl != NULL)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)c->tbl, (size_t)c->ndesc << 4,
			      USTOR_DMA_TO_DEVICE);
}

/* A request is finished (status final): statistics, then onto the list
 * whose callbacks run after the lock is dropped. Caller holds the lock. */
static inline void ustor_vblk_finish(struct ustor_virtio_blk *vb, struct ustor_vblk_done *d,
				     struct ustor_block_req *req)
{
	USTOR_VBLK_STATS_COMPLETE(&vb->bdev, req);
	ustor_vblk_done_add(d, req);
}

/* Fill a chain's header record (status byte preset to "unset"). */
static inline void ustor_vblk_hdr(const struct ustor_virtio_blk *vb, uint8_t *rec, uint32_t type,
				  uint64_t sector)
{
	struct ustor_virtio_blk_req_hdr *h = (struct ustor_virtio_blk_req_hdr *)(void *)rec;
	int legacy = vb->dev.legacy;

	h->type = ustor_virtio_w32(legacy, type);
	h->reserved = 0;
	h->sector = ustor_virtio_w64(legacy, sector);
	rec[USTOR_VBLK_REC_STATUS] = USTOR_VBLK_STATUS_UNSET;
}

/* Data bytes the next read/write chain can carry from `p` with `left`
 * bytes to go: within seg_lim windows and the chain cap, whole blocks.
 * 0 when not even one block fits (an odd buffer on a device with tiny
 * seg_max: the synchronous calls then bounce through an aligned buffer). */
static inline uint32_t ustor_vblk_chain_bytes(const struct ustor_virtio_blk *vb, uintptr_t p,
					      uint32_t left)
{
	uint32_t win = 1u << vb->seg_shift;
	uint32_t cap = (win - ((uint32_t)p & (win - 1u))) + (vb->seg_lim - 1u) * win;

	if (cap > vb->max_chain_bytes)
		cap = vb->max_chain_bytes;
	if (cap > left)
		cap = left;
	return cap & ~(vb->bdev.block_size - 1u);
}

/* Record a chain in its slot and account it to the request. */
static inline void ustor_vblk_slot_fill(struct ustor_virtio_blk_queue *q, uint16_t head,
					struct ustor_block_req *req, uint32_t type,
					uint32_t nblocks)
{
	struct ustor_virtio_blk_slot *s = &q->slots[head];

	s->owner = req;
	s->lba = req->next_lba == USTOR_VBLK_FUA_FLUSH ? req->lba : req->next_lba;
	s->nblocks = nblocks;
	s->kind = USTOR_VBLK_SLOT_BLOCK;
	s->type = (uint8_t)type;
	req->in_flight++;
}

/* One read or write chain. */
static ustor_status ustor_vblk_chain_rw(struct ustor_virtio_blk *vb,
					struct ustor_virtio_blk_queue *q,
					struct ustor_block_req *req)
{
	const struct ustor_hal *hal = vb->hal;
	uint32_t shift = vb->bdev.block_shift;
	uint32_t done = (uint32_t)(req->next_lba - req->lba); /* < nblocks */
	uintptr_t p = (uintptr_t)req->buf + ((uintptr_t)done << shift);
	uint32_t win = 1u << vb->seg_shift;
	uint32_t bytes = ustor_vblk_chain_bytes(vb, p, req->left << shift);
	uint32_t nwin;
	uint32_t off;
	int is_read = req->op == USTOR_BLOCK_READ;
	struct ustor_virtq_chain c;
	uint8_t *rec;
	ustor_bus_addr rec_bus;

	if (USTOR_VIRTIO_UNLIKELY(bytes == 0))
		return USTOR_ERR_NOT_DMA_ABLE;
	nwin = (((uint32_t)p & (win - 1u)) + bytes + win - 1u) >> vb->seg_shift;
	if (ustor_virtq_begin(&q->vq, &c, (uint16_t)(nwin + 2u)) != 0)
		return USTOR_ERR_BUSY;
	rec = ustor_vblk_rec(q, c.head);
	rec_bus = ustor_vblk_rec_bus(q, c.head);
	ustor_vblk_hdr(vb, rec, is_read ? USTOR_VIRTIO_BLK_T_IN : USTOR_VIRTIO_BLK_T_OUT,
		       ustor_virtio_shl64(req->next_lba, vb->sector_shift));
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_HDR,
			sizeof(struct ustor_virtio_blk_req_hdr), 0);
	/* One descriptor per window, each translated on its own (the HAL
	 * answers per page); nothing is committed until all are. */
	for (off = 0; off < bytes;) {
		const void *a = (const void *)(p + off);
		uint32_t n = win - ((uint32_t)(p + off) & (win - 1u));
		ustor_bus_addr bus;

		if (n > bytes - off)
			n = bytes - off;
		if (USTOR_VIRTIO_UNLIKELY(hal->virt_to_bus(hal->ctx, a, n, &bus) != USTOR_OK))
			return USTOR_ERR_NOT_DMA_ABLE;
		ustor_virtq_add(&q->vq, &c, bus, n, is_read);
		off += n;
	}
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_STATUS, 1, 1);
	if (q->vq.sync) {
		hal->dma_sync(hal->ctx, rec, USTOR_VBLK_REC_BYTES, USTOR_DMA_BIDIRECTIONAL);
		hal->dma_sync(hal->ctx, (const void *)p, bytes, USTOR_DMA_BIDIRECTIONAL);
		ustor_vblk_sync_table(hal, &c);
	}
	ustor_virtq_commit(&q->vq, &c);
	ustor_vblk_slot_fill(q, c.head, req,
			     is_read ? USTOR_VIRTIO_BLK_T_IN : USTOR_VIRTIO_BLK_T_OUT,
			     bytes >> shift);
	req->next_lba += bytes >> shift;
	req->left -= bytes >> shift;
	return USTOR_OK;
}

/* One header-and-status chain (flush), or one with a range (discard,
 * write-zeroes) of at most `max_blocks`. */
static ustor_status ustor_vblk_chain_cmd(struct ustor_virtio_blk *vb,
					 struct ustor_virtio_blk_queue *q,
					 struct ustor_block_req *req, uint32_t type,
					 uint32_t max_blocks)
{
	const struct ustor_hal *hal = vb->hal;
	int ranged = type != USTOR_VIRTIO_BLK_T_FLUSH;
	uint32_t n = 0;
	struct ustor_virtq_chain c;
	uint8_t *rec;
	ustor_bus_addr rec_bus;

	if (ustor_virtq_begin(&q->vq, &c, ranged ? 3u : 2u) != 0)
		return USTOR_ERR_BUSY;
	rec = ustor_vblk_rec(q, c.head);
	rec_bus = ustor_vblk_rec_bus(q, c.head);
	ustor_vblk_hdr(vb, rec, type, 0);
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_HDR,
			sizeof(struct ustor_virtio_blk_req_hdr), 0);
	if (ranged) {
		struct ustor_virtio_blk_discard_write_zeroes *r =
			(struct ustor_virtio_blk_discard_write_zeroes
				 *)(void *)(rec + USTOR_VBLK_REC_RANGE);
		int legacy = vb->dev.legacy;

		n = req->left < max_blocks ? req->left : max_blocks;
		r->sector = ustor_virtio_w64(legacy,
					     ustor_virtio_shl64(req->next_lba, vb->sector_shift));
		r->num_sectors = ustor_virtio_w32(legacy, n << vb->sector_shift);
		/* unmap stays 0: DISCARD must not set it, and write-zeroes
		 * must read back zeroes either way. */
		r->flags = 0;
		ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_RANGE,
				sizeof(struct ustor_virtio_blk_discard_write_zeroes), 0);
	}
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_STATUS, 1, 1);
	if (q->vq.sync) {
		hal->dma_sync(hal->ctx, rec, USTOR_VBLK_REC_BYTES, USTOR_DMA_BIDIRECTIONAL);
		ustor_vblk_sync_table(hal, &c);
	}
	ustor_virtq_commit(&q->vq, &c);
	ustor_vblk_slot_fill(q, c.head, req, type, n);
	if (ranged) {
		req->next_lba += n;
		req->left -= n;
	} else {
		req->left = 0;
	}
	return USTOR_OK;
}

/* Issue as many chains of `req` as the ring takes. USTOR_ERR_BUSY: the
 * ring is full with work left; other errors: nothing more can go out for
 * this request. Caller holds the lock; the caller kicks. */
static ustor_status ustor_vblk_issue(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q,
				     struct ustor_block_req *req)
{
	while (req->left != 0) {
		ustor_status st;

		if (req->next_lba == USTOR_VBLK_FUA_FLUSH) {
			st = ustor_vblk_chain_cmd(vb, q, req, USTOR_VIRTIO_BLK_T_FLUSH, 0);
		} else {
			switch (req->op) {
			case USTOR_BLOCK_READ:
			case USTOR_BLOCK_WRITE:
				st = ustor_vblk_chain_rw(vb, q, req);
				break;
			case USTOR_BLOCK_DISCARD:
				st = ustor_vblk_chain_cmd(vb, q, req, USTOR_VIRTIO_BLK_T_DISCARD,
							  vb->discard_max_blocks);
				break;
			case USTOR_BLOCK_WRITE_ZEROES:
				st = ustor_vblk_chain_cmd(vb, q, req,
							  USTOR_VIRTIO_BLK_T_WRITE_ZEROES,
							  vb->wz_max_blocks);
				break;
			default:
				st = ustor_vblk_chain_cmd(vb, q, req, USTOR_VIRTIO_BLK_T_FLUSH, 0);
				break;
			}
		}
		if (st != USTOR_OK)
			return st;
	}
	return USTOR_OK;
}

static void ustor_vblk_wait_add(struct ustor_virtio_blk_queue *q, struct ustor_block_req *req)
{
	req->next_waiting = NULL;
	if (q->waiting_tail != NULL)
		q->waiting_tail->next_waiting = req;
	else
		q->waiting = req;
	q->waiting_tail = req;
}

/* Take `req` off the waiting list if it is there. */
static void ustor_vblk_unlink(struct ustor_virtio_blk_queue *q, struct ustor_block_req *req)
{
	struct ustor_block_req **pp = &q->waiting;
	struct ustor_block_req *prev = NULL;

	while (*pp != NULL && *pp != req) {
		prev = *pp;
		pp = &(*pp)->next_waiting;
	}
	if (*pp == NULL)
		return;
	*pp = req->next_waiting;
	if (q->waiting_tail == req)
		q->waiting_tail = prev;
	req->next_waiting = NULL;
}

/* Issue waiting requests in order until the ring is full. One that cannot
 * go out at all with nothing in flight is finished with its error. */
static void ustor_vblk_issue_waiting(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q,
				     struct ustor_vblk_done *d)
{
	while (q->waiting != NULL) {
		struct ustor_block_req *req = q->waiting;
		ustor_status st = ustor_vblk_issue(vb, q, req);

		if (st == USTOR_ERR_BUSY)
			return;
		q->waiting = req->next_waiting;
		if (q->waiting == NULL)
			q->waiting_tail = NULL;
		req->next_waiting = NULL;
		if (st != USTOR_OK) {
			if (req->status == USTOR_OK)
				req->status = st;
			req->left = 0;
			if (req->in_flight == 0)
				ustor_vblk_finish(vb, d, req);
		}
	}
}

/* Every buffer page of a request that needs several chains is checked
 * before any goes out, so an untranslatable tail never leaves a half-done
 * write. */
static ustor_status ustor_vblk_check_dma(const struct ustor_virtio_blk *vb, const uint8_t *buf,
					 uint32_t len)
{
	const struct ustor_hal *hal = vb->hal;
	uint32_t win = 1u << vb->seg_shift;

	while (len > 0) {
		uint32_t n = win - ((uint32_t)(uintptr_t)buf & (win - 1u));
		ustor_bus_addr bus;

		if (n > len)
			n = len;
		if (hal->virt_to_bus(hal->ctx, buf, n, &bus) != USTOR_OK)
			return USTOR_ERR_NOT_DMA_ABLE;
		buf += n;
		len -= n;
	}
	return USTOR_OK;
}

static ustor_status ustor_vblk_not_ready(const struct ustor_virtio_blk *vb)
{
	switch (vb->state) {
	case USTOR_VBLK_STATE_SHUT_DOWN:
		return USTOR_ERR_SHUT_DOWN;
	case USTOR_VBLK_STATE_BROKEN:
		return vb->bdev.unusable_reason;
	case USTOR_VBLK_STATE_RESETTING:
		return USTOR_ERR_BUSY; /* back once re-initialised */
	default:
		return USTOR_ERR_NOT_READY;
	}
}

/* The block device's submit (ustor_block_submit validated op, buffer and
 * range). */
static ustor_status ustor_vblk_submit(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	struct ustor_virtio_blk *vb = ustor_vblk_of(bdev);
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_blk_queue *q = ustor_vblk_queue_of(vb, req->queue);
	ustor_status st;

	if (USTOR_VIRTIO_UNLIKELY(vb->state != USTOR_VBLK_STATE_READY))
		return ustor_vblk_not_ready(vb);
	req->drv = vb;
	req->next_waiting = NULL;
	req->next_lba = req->lba;
	req->in_flight = 0;
	if (req->op == USTOR_BLOCK_READ || req->op == USTOR_BLOCK_WRITE) {
		uint32_t bytes = req->nblocks << bdev->block_shift;

		req->left = req->nblocks;
		if (bytes > ustor_vblk_chain_bytes(vb, (uintptr_t)req->buf, bytes)) {
			st = ustor_vblk_check_dma(vb, (const uint8_t *)req->buf, bytes);
			if (st != USTOR_OK)
				return st;
		}
	} else {
		req->left = req->op == USTOR_BLOCK_FLUSH ? 1u : req->nblocks;
	}

	ustor_vblk_lock(hal, q);
	if (USTOR_VIRTIO_UNLIKELY(vb->state != USTOR_VBLK_STATE_READY)) {
		ustor_vblk_unlock(hal, q);
		return ustor_vblk_not_ready(vb);
	}
	if (req->op == USTOR_BLOCK_FLUSH && !vb->flush) {
		/* No FLUSH command: the device has no write cache to flush
		 * (5.2.5; writeback reads 0 without it). Done at the next poll. */
		struct ustor_vblk_done d = { q->done_head, q->done_tail };

		req->left = 0;
		req->state = USTOR_REQ_STATE_ACTIVE;
		USTOR_VBLK_STATS_SUBMIT(bdev, req);
		ustor_vblk_finish(vb, &d, req);
		q->done_head = d.head;
		q->done_tail = d.tail;
		ustor_vblk_unlock(hal, q);
		return USTOR_OK;
	}
	/* Requests already waiting keep their order: a new one queues
	 * behind them. */
	st = q->waiting != NULL ? USTOR_ERR_BUSY : ustor_vblk_issue(vb, q, req);
	if (st != USTOR_OK &&
	    (st != USTOR_ERR_BUSY || (req->in_flight == 0 && q->waiting == NULL))) {
		if (req->in_flight == 0) {
			/* Nothing reached the device: refuse the request whole. */
			ustor_vblk_unlock(hal, q);
			return st;
		}
		/* Part went out, the rest cannot: finish with the error once
		 * the issued part completes. */
		req->status = st;
		req->left = 0;
	}
	req->state = USTOR_REQ_STATE_ACTIVE;
	USTOR_VBLK_STATS_SUBMIT(bdev, req);
	if (req->left != 0)
		ustor_vblk_wait_add(q, req);
	/* USTOR_REQ_F_MORE: the notification waits for the batch's last
	 * request, ustor_block_kick or the next poll of this queue. */
	if (!(req->flags & USTOR_REQ_F_MORE))
		ustor_virtq_kick(&q->vq);
	ustor_vblk_unlock(hal, q);
	return USTOR_OK;
}

/* A chain of a block request came back (`raw`: status byte, or
 * USTOR_VIRTIO_BLK_RAW_BAD_LEN). Finishes the request onto `d` when it was
 * its last; a successful FUA write goes on to its flush. Returns 1 when the
 * chain failed. */
static int ustor_vblk_chain_done(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q,
				 struct ustor_virtio_blk_slot *s, uint32_t raw,
				 struct ustor_vblk_done *d)
{
	struct ustor_block_req *req = (struct ustor_block_req *)s->owner;
	int failed = raw != USTOR_VIRTIO_BLK_S_OK;

	s->kind = USTOR_VBLK_SLOT_FREE;
	if (USTOR_VIRTIO_UNLIKELY(failed)) {
		if (req->status == USTOR_OK) {
			uint8_t op = (s->type == USTOR_VIRTIO_BLK_T_IN ||
				      s->type == USTOR_VIRTIO_BLK_T_OUT) ?
					     req->op :
					     USTOR_BLOCK_FLUSH;
			req->status = raw == USTOR_VIRTIO_BLK_RAW_BAD_LEN ?
					      USTOR_ERR_BAD_DEVICE :
					      ustor_virtio_blk_status_to_ustor((uint8_t)raw, op);
			req->dev_status = (uint16_t)raw;
			req->error_lba = s->lba;
		}
		if (req->left != 0) { /* stop issuing the rest */
			req->left = 0;
			ustor_vblk_unlink(q, req);
		}
	}
	if (--req->in_flight != 0 || req->left != 0)
		return failed;
	/* FUA on a device with a volatile cache: the data is written, now
	 * make it durable before the request completes (virtio-blk has no
	 * FUA bit). */
	if (req->status == USTOR_OK && (req->flags & USTOR_REQ_F_FUA) &&
	    req->op == USTOR_BLOCK_WRITE && vb->flush && vb->info.writeback &&
	    req->next_lba != USTOR_VBLK_FUA_FLUSH) {
		req->next_lba = USTOR_VBLK_FUA_FLUSH;
		req->left = 1;
		if (q->waiting != NULL || ustor_vblk_issue(vb, q, req) == USTOR_ERR_BUSY)
			ustor_vblk_wait_add(q, req);
		return failed;
	}
	ustor_vblk_finish(vb, d, req);
	return failed;
}

/* Reap the used ring onto `d`. Caller holds the lock. */
static void ustor_vblk_reap(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q,
			    struct ustor_vblk_done *d)
{
	const struct ustor_hal *hal = vb->hal;
	int errors = 0;

	for (;;) {
		struct ustor_virtio_blk_slot *s;
		const uint8_t *status;
		uint16_t head;
		uint32_t len;
		uint32_t raw;
		int r = ustor_virtq_get_used(&q->vq, &head, &len);

		if (r == USTOR_VIRTQ_USED_NONE)
			break;
		if (USTOR_VIRTIO_UNLIKELY(r == USTOR_VIRTQ_USED_BAD_ID)) {
			/* Nothing the device says about this ring can be
			 * trusted any more. */
			q->bad_used++;
			USTOR_ERR(hal,
				  "%s: queue %u: used ring returned an id that is not a posted "
				  "chain (%s ring of %u, used %s %u, %u descriptors out)",
				  vb->bdev.name, (unsigned)q->index, q->vq.packed ? "packed" : "split",
				  (unsigned)q->vq.size, q->vq.packed ? "position" : "idx",
				  (unsigned)(q->vq.packed ? q->vq.last_used :
							    ustor_virtio_r16(q->vq.legacy,
									     *q->vq.used_idx)),
				  ustor_virtq_in_flight(&q->vq));
			ustor_vblk_break(vb, USTOR_ERR_BAD_DEVICE, "impossible used ring entry");
			return;
		}
		s = &q->slots[head];
		q->wd_since = 0; /* a completion ends a stall (virtio_recover.c) */
		status = ustor_vblk_rec(q, head) + USTOR_VBLK_REC_STATUS;
		if (q->vq.sync)
			hal->dma_sync(hal->ctx, status, 1, USTOR_DMA_FROM_DEVICE);
		raw = *(const volatile uint8_t *)status;
		if (USTOR_VIRTIO_UNLIKELY(r == USTOR_VIRTQ_USED_BAD_LEN)) {
			q->bad_len++;
			USTOR_ERR(hal,
				  "%s: chain %u returned with used len %u, more than it offered",
				  vb->bdev.name, (unsigned)head, len);
			raw = USTOR_VIRTIO_BLK_RAW_BAD_LEN;
		}
		switch (s->kind) {
		case USTOR_VBLK_SLOT_BLOCK:
			errors |= ustor_vblk_chain_done(vb, q, s, raw, d);
			break;
		case USTOR_VBLK_SLOT_INTERNAL:
			s->status = (uint8_t)(raw > 0xffu ? USTOR_VBLK_STATUS_UNSET : raw);
			s->done = 1;
			s->kind = USTOR_VBLK_SLOT_FREE;
			break;
		default: /* abandoned: its owner gave up; the chain is back */
			s->kind = USTOR_VBLK_SLOT_FREE;
			break;
		}
	}
	/* A failed chain may be the first sign of a resize or of a device
	 * that needs a reset. */
	if (USTOR_VIRTIO_UNLIKELY(errors))
		(void)ustor_vblk_check_locked(vb);
}

unsigned ustor_vblk_deliver(struct ustor_virtio_blk *vb, struct ustor_block_req *req)
{
	const struct ustor_hal *hal = vb->hal;
	unsigned n = 0;

	while (req != NULL) {
		/* next_waiting is left as it is: it means nothing once the
		 * request is off the list. */
		struct ustor_block_req *next = req->next_waiting;
		ustor_block_done_fn fn = req->done;

		/* Non-coherent CPUs: drop stale lines over what the device
		 * wrote before anyone reads it. */
		if (hal->dma_sync != NULL && req->op == USTOR_BLOCK_READ)
			hal->dma_sync(hal->ctx, req->buf,
				      (size_t)req->nblocks << vb->bdev.block_shift,
				      USTOR_DMA_FROM_DEVICE);
		/* With several CPUs a synchronous waiter returns as soon as it
		 * sees DONE: status first, state last, nothing read after. */
		if (vb->q[0].locked)
			hal->wmb(hal->ctx);
		req->state = USTOR_REQ_STATE_DONE;
		n++;
		if (fn != NULL)
			fn(req);
		req = next;
	}
	return n;
}

/* Interrupt state of a queue after a reap (caller holds the lock).
 * Returns 1 when used elements arrived while interrupts were switched on:
 * they may have raised none, so the caller reaps again. */
static __attribute__((noinline)) int ustor_vblk_irq_update(struct ustor_virtio_blk *vb,
							   struct ustor_virtio_blk_queue *q)
{
	struct ustor_virtq *vq = &q->vq;
	uint32_t depth;
	uint32_t thr;

	switch (q->irq_mode) {
	case USTOR_VIRTIO_BLK_IRQ_OFF:
		return 0;
	case USTOR_VIRTIO_BLK_IRQ_ON:
		q->interrupts_armed++;
		return ustor_virtq_irq_on(vq, 1);
	default:
		break;
	}
	/* Adaptive: at low load one interrupt per completion; above the
	 * threshold the caller polls anyway. EVENT_IDX coalesces instead
	 * (split; packed when every chain is one indirect descriptor): one
	 * interrupt once the depth is back at the threshold. */
	depth = ustor_virtq_in_flight(vq);
	thr = vb->cfg.adaptive_depth;
	if (depth <= thr) {
		q->interrupts_armed++;
		return ustor_virtq_irq_on(vq, 1);
	}
	if (vq->event_idx && (!vq->packed || vq->ind != NULL)) {
		q->interrupts_armed++;
		return ustor_virtq_irq_on(vq, (uint16_t)(depth - thr));
	}
	if (vq->irq_on)
		q->interrupts_off++;
	ustor_virtq_irq_off(vq);
	return 0;
}

/* Poll: reap under the lock, issue what waits, then run the callbacks with
 * the lock dropped (they may submit again). */
/* A poll that finished nothing: a pending break first, then, with chains
 * in flight, the stall watchdog (virtio_recover.c). */
static USTOR_VIRTIO_NOINLINE unsigned ustor_vblk_poll_idle(struct ustor_virtio_blk *vb,
							   struct ustor_virtio_blk_queue *q,
							   struct ustor_vblk_done *d)
{
	unsigned n = ustor_vblk_after_unlock(vb, d);

	if (n == 0 && q->vq.num_free != q->vq.size)
		ustor_vblk_watchdog(vb, q);
	return n;
}

static unsigned ustor_vblk_poll(struct ustor_block_device *bdev, uint16_t queue)
{
	struct ustor_virtio_blk *vb = ustor_vblk_of(bdev);
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_blk_queue *q = ustor_vblk_queue_of(vb, queue);
	struct ustor_vblk_done d;
	uint32_t rounds = 0;

	if (USTOR_VIRTIO_UNLIKELY(vb->state != USTOR_VBLK_STATE_READY))
		return 0;
	ustor_vblk_lock(hal, q);
	/* The list stays local, not on q, until the callbacks have run. */
	d.head = q->done_head;
	d.tail = q->done_tail;
	q->done_head = NULL;
	q->done_tail = NULL;
again:
	ustor_vblk_reap(vb, q, &d);
	/* Interrupt bookkeeping (modes other than polling) out of the polled
	 * fast path: reap again (bounded) when used elements slipped in
	 * before interrupts were switched on. */
	if (USTOR_VIRTIO_UNLIKELY(q->irq_work) && vb->state == USTOR_VBLK_STATE_READY &&
	    ustor_vblk_irq_update(vb, q) && ++rounds < 4u)
		goto again;
	/* Polling with split EVENT_IDX: used_event, left one behind what was
	 * consumed, would be crossed again after 65536 chains; move it along
	 * every 16384. */
	if (USTOR_VIRTIO_UNLIKELY(q->ev_trail) &&
	    (uint16_t)(q->vq.last_used - ustor_virtio_r16(q->vq.legacy, *q->vq.used_event)) >=
		    0x4000u)
		ustor_virtq_irq_off(&q->vq);
	if (vb->state == USTOR_VBLK_STATE_READY) {
		if (q->waiting != NULL)
			ustor_vblk_issue_waiting(vb, q, &d);
		/* Also what USTOR_REQ_F_MORE left unnotified. */
		if (ustor_virtq_kick_pending(&q->vq))
			ustor_virtq_kick(&q->vq);
	}
	ustor_vblk_unlock(hal, q);
	/* Recovery: a stall shows on empty polls (reap ends one at each
	 * completion). */
	if (USTOR_VIRTIO_UNLIKELY(d.head == NULL))
		return ustor_vblk_poll_idle(vb, q, &d);
	return ustor_vblk_after_unlock(vb, &d);
}

void ustor_vblk_requeue(struct ustor_virtio_blk_queue *q, struct ustor_block_req *req)
{
	req->next_lba = req->lba;
	req->in_flight = 0;
	req->left = req->op == USTOR_BLOCK_FLUSH ? 1u : req->nblocks;
	req->state = USTOR_REQ_STATE_ACTIVE;
	ustor_vblk_wait_add(q, req); /* the next poll issues it */
}

/* Notify what USTOR_REQ_F_MORE left pending on `queue`. */
static void ustor_vblk_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	struct ustor_virtio_blk *vb = ustor_vblk_of(bdev);
	struct ustor_virtio_blk_queue *q = ustor_vblk_queue_of(vb, queue);

	if (vb->state != USTOR_VBLK_STATE_READY)
		return;
	ustor_vblk_lock(vb->hal, q);
	if (vb->state == USTOR_VBLK_STATE_READY)
		ustor_virtq_kick(&q->vq);
	ustor_vblk_unlock(vb->hal, q);
}

/* Collect `req` once (ACTIVE -> IDLE marks it taken) with `status`. */
static void ustor_vblk_collect(struct ustor_vblk_done *d, struct ustor_block_req *req,
			       ustor_status status)
{
	if (req == NULL || req->state != USTOR_REQ_STATE_ACTIVE)
		return;
	req->state = USTOR_REQ_STATE_IDLE;
	if (req->status == USTOR_OK)
		req->status = status;
	ustor_vblk_done_add(d, req);
}

static void ustor_vblk_collect_queue(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q,
				     ustor_status status, struct ustor_vblk_done *d)
{
	struct ustor_block_req *req;
	struct ustor_vblk_done fin = { NULL, NULL };
	uint32_t i;

	/* The waiting list first: collecting links a request onto `d`
	 * through the same next_waiting, so a partly issued request must not
	 * be taken through its slots while the list still runs through it. */
	req = q->waiting;
	q->waiting = NULL;
	q->waiting_tail = NULL;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_vblk_collect(&fin, req, status);
		req = next;
	}
	/* Completed but undelivered: they keep their own status (and were
	 * counted when they finished). */
	req = q->done_head;
	q->done_head = NULL;
	q->done_tail = NULL;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_vblk_collect(d, req, USTOR_OK);
		req = next;
	}
	if (q->slots != NULL) {
		for (i = 0; i < q->vq.size; i++) {
			struct ustor_virtio_blk_slot *s = &q->slots[i];

			if (s->kind == USTOR_VBLK_SLOT_BLOCK)
				ustor_vblk_collect(&fin, (struct ustor_block_req *)s->owner, status);
			s->kind = USTOR_VBLK_SLOT_FREE;
			s->owner = NULL;
		}
	}
	/* Those ended here are finished now: counted, then handed over. */
	req = fin.head;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_vblk_finish(vb, d, req);
		req = next;
	}
}

void ustor_vblk_collect_all(struct ustor_virtio_blk *vb, ustor_status status,
			    struct ustor_vblk_done *d)
{
	uint32_t i;

	for (i = 0; i < vb->nq; i++) {
		struct ustor_virtio_blk_queue *q = &vb->q[i];

		ustor_vblk_lock(vb->hal, q);
		ustor_vblk_collect_queue(vb, q, status, d);
		ustor_vblk_unlock(vb->hal, q);
	}
}

static ustor_status ustor_vblk_cancel(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	struct ustor_virtio_blk *vb = ustor_vblk_of(bdev);
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_blk_queue *q = ustor_vblk_queue_of(vb, req->queue);
	struct ustor_block_req **pp;
	struct ustor_block_req *prev = NULL;
	int completed = 0;
	ustor_status st;
	uint32_t i;

	ustor_vblk_lock(hal, q);
	/* Finished but not yet delivered: take it back, it did complete. */
	for (pp = &q->done_head; *pp != NULL; prev = *pp, pp = &(*pp)->next_waiting) {
		if (*pp == req) {
			*pp = req->next_waiting;
			if (q->done_tail == req)
				q->done_tail = prev;
			req->next_waiting = NULL;
			completed = 1;
			break;
		}
	}
	if (!completed) {
		/* It ends here, as a timeout, for the statistics. */
		ustor_status st_saved = req->status;

		req->status = USTOR_ERR_TIMEOUT;
		USTOR_VBLK_STATS_COMPLETE(bdev, req);
		req->status = st_saved;
		ustor_vblk_unlink(q, req);
		if (q->slots != NULL) {
			for (i = 0; i < q->vq.size; i++) {
				struct ustor_virtio_blk_slot *s = &q->slots[i];

				if (s->kind == USTOR_VBLK_SLOT_BLOCK && s->owner == req) {
					s->owner = NULL;
					s->kind = USTOR_VBLK_SLOT_ABANDONED;
				}
			}
		}
	}
	ustor_vblk_unlock(hal, q);
	if (completed) {
		req->state = USTOR_REQ_STATE_DONE;
		return req->status;
	}
	req->state = USTOR_REQ_STATE_IDLE;
	/* The device may still write into (or read from) the request's
	 * buffer. If that is the shared bounce buffer, stop using it: a later
	 * bounced write would otherwise go out with whatever lands there. */
	if (vb->bounce != NULL && (const uint8_t *)req->buf >= vb->bounce &&
	    (const uint8_t *)req->buf < vb->bounce + vb->bounce_bytes) {
		bdev->bounce = NULL;
		bdev->bounce_len = 0;
		USTOR_ERR(hal,
			  "%s: bounce buffer retired after a timeout (the device may still use it)",
			  bdev->name);
	}
	USTOR_ERR(hal, "%s: request lba %llu x %u (op %u) timed out after %u ms", bdev->name,
		  (unsigned long long)req->lba, req->nblocks, (unsigned)req->op, bdev->timeout_ms);
	if (vb->state != USTOR_VBLK_STATE_READY)
		return USTOR_ERR_TIMEOUT;
	ustor_virtio_log_status(&vb->dev, "I/O timeout");
	st = ustor_virtio_blk_check(vb);
	return (st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE) ? st : USTOR_ERR_TIMEOUT;
}

const struct ustor_block_ops ustor_virtio_blk_ops = {
	.submit = ustor_vblk_submit,
	.poll = ustor_vblk_poll,
	.cancel = ustor_vblk_cancel,
	.kick = ustor_vblk_kick,
};
