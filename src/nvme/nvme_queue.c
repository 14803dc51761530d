/* SPDX-License-Identifier: MIT */
/* NVMe queue pairs: slots, command ids, completion processing, synchronous
 * command execution. */
#include "nvme_internal.h"

ustor_status ustor_nvme_queue_init(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
				   uint16_t qid, uint16_t depth, int io)
{
	const struct ustor_hal *hal = ctrl->hal;
	ustor_bus_addr ignored;
	ustor_status st;
	uint32_t nslots = (uint32_t)depth - 1u; /* a full SQ holds depth - 1 commands */
	uint32_t i;

	ustor_memset(q, 0, sizeof(*q));
	st = ustor_sqcq_init(&q->ring, hal, ctrl->regs, qid, depth, ctrl->dstrd, ctrl->page_size);
	if (st != USTOR_OK)
		return st;

	q->bookkeeping_bytes = nslots * (uint32_t)(sizeof(struct ustor_nvme_slot) + sizeof(uint16_t));
	q->bookkeeping = hal->dma_alloc(hal->ctx, q->bookkeeping_bytes, 16, &ignored);
	if (q->bookkeeping == NULL)
		goto nomem;
	q->slots = (struct ustor_nvme_slot *)q->bookkeeping;
	q->free_ids = (uint16_t *)(void *)(q->slots + nslots);

	if (io) {
		uint64_t pool;

		q->prp_area_bytes = ustor_nvme_prp_area_bytes(ctrl->max_transfer, ctrl->page_size);
		pool = (uint64_t)nslots * q->prp_area_bytes;
		if (pool > 0x7fffffffu) {
			ustor_nvme_queue_fini(ctrl, q);
			return USTOR_ERR_INVALID_ARG; /* depth x transfer size too large */
		}
		q->prp_pool_bytes = (uint32_t)pool;
		if (q->prp_pool_bytes != 0) {
			q->prp_pool = hal->dma_alloc(hal->ctx, q->prp_pool_bytes, ctrl->page_size,
						     &q->prp_pool_bus);
			if (q->prp_pool == NULL)
				goto nomem;
		}
		/* DSM range lists get a page of their own: some controllers
		 * want them page aligned (HARDWARE.md item 6). */
		q->dsm_page = hal->dma_alloc(hal->ctx, ctrl->page_size, ctrl->page_size, &q->dsm_bus);
		if (q->dsm_page == NULL)
			goto nomem;
	}
	for (i = 0; i < nslots; i++) {
		/* Hand out low indices first. */
		q->free_ids[i] = (uint16_t)(nslots - 1u - i);
	}
	q->nfree = (uint16_t)nslots;
	if (io) {
		/* Per-CPU queues: one CPU per I/O queue, no lock on its path. */
		if (ctrl->cfg.lockless_io_queues)
			q->ring.flags &= (uint8_t)~USTOR_SQCQ_F_LOCK;
		if (ctrl->adaptive)
			q->ring.flags |= USTOR_NVME_QF_ADAPTIVE;
	}
	return USTOR_OK;
nomem:
	ustor_nvme_queue_fini(ctrl, q);
	return USTOR_ERR_NO_MEMORY;
}

void ustor_nvme_queue_fini(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	const struct ustor_hal *hal = ctrl->hal;

	if (q->dsm_page != NULL)
		hal->dma_free(hal->ctx, q->dsm_page, ctrl->page_size);
	if (q->prp_pool != NULL)
		hal->dma_free(hal->ctx, q->prp_pool, q->prp_pool_bytes);
	if (q->bookkeeping != NULL)
		hal->dma_free(hal->ctx, q->bookkeeping, q->bookkeeping_bytes);
	ustor_sqcq_fini(&q->ring);
	ustor_memset(q, 0, sizeof(*q));
}

void ustor_nvme_defer_db(struct ustor_nvme_queue *q)
{
	ustor_sqcq_advance(&q->ring);
	q->ring.flags |= USTOR_NVME_QF_PENDING;
}

/* Everything but a ONE command that succeeded. The command id comes from
 * the device: check it names a slot in use with the current generation
 * before trusting it. */
static USTOR_NOINLINE unsigned ustor_nvme_cpl_other(struct ustor_nvme_ctrl *ctrl,
						    struct ustor_nvme_queue *q, uint16_t cid,
						    uint32_t dw0, uint16_t status,
						    struct ustor_nvme_done *done)
{
	unsigned idx = cid & USTOR_NVME_CID_SLOT_MASK;
	struct ustor_nvme_slot *s;

	if (idx >= (uint32_t)q->ring.depth - 1u || q->slots[idx].kind == USTOR_NVME_SLOT_FREE ||
	    cid != ustor_nvme_cid(q, idx)) {
		q->bad_cqe++;
		USTOR_ERR(ctrl->hal, "nvme%u: q%u: completion with unknown command id %04x (status %04x) ignored",
			  (unsigned)ctrl->cfg.index, (unsigned)q->ring.qid, (unsigned)cid,
			  (unsigned)status);
		return 0;
	}
	s = &q->slots[idx];
	switch (s->kind) {
	case USTOR_NVME_SLOT_BLOCK:
	case USTOR_NVME_SLOT_ONE:
	case USTOR_NVME_SLOT_ONE_AGED:
		return (unsigned)ustor_nvme_io_complete(ctrl, q, idx, status, done);
	case USTOR_NVME_SLOT_RAW: {
		struct ustor_nvme_raw *raw = (struct ustor_nvme_raw *)s->owner;
		raw->cpl.dw0 = dw0;
		raw->cpl.status = status;
		raw->done = 1;
		ustor_nvme_slot_put(q, idx);
		return 0;
	}
	case USTOR_NVME_SLOT_DELAYED: /* not sent: a completion for it is forged */
		q->bad_cqe++;
		return 0;
	default: /* abandoned: its owner gave up; now the slot is free */
		if (q->dsm_owner == (void *)s)
			q->dsm_owner = NULL;
		ustor_nvme_slot_put(q, idx);
		return 0;
	}
}

/*
 * The common completion, checked in full: success, and an id that names a
 * slot in use as ONE with the current generation. Such a completion is
 * consumed, its slot freed, its request stored in *req, and 1 returned.
 * Anything else returns 0, untouched, for ustor_nvme_reap_other, which
 * validates the id on its own.
 */
static USTOR_ALWAYS_INLINE int ustor_nvme_reap_one(struct ustor_nvme_queue *q,
						   const volatile struct ustor_nvme_cqe *e,
						   struct ustor_block_req **req)
{
	uint32_t cid = ustor_le16_to_cpu(e->cid);
	uint32_t idx = cid & USTOR_NVME_CID_SLOT_MASK;

	/* One 32-bit index (GCC otherwise keeps a 16-bit copy beside it). */
	USTOR_OPAQUE(idx);
	/* idx < depth - 1: within the slots. */
	if (USTOR_UNLIKELY(idx + 1u >= q->ring.depth || q->slots[idx].kind != USTOR_NVME_SLOT_ONE ||
			   q->slots[idx].gen != (cid & ~USTOR_NVME_CID_SLOT_MASK) ||
			   USTOR_NVME_STATUS_FAILED(ustor_le16_to_cpu(e->status) >> 1)))
		return 0;
	*req = (struct ustor_block_req *)q->slots[idx].owner;
	ustor_sqcq_pop(&q->ring, ustor_le16_to_cpu(e->sqhd));
	ustor_nvme_slot_put(q, idx);
	return 1;
}

/* A completion ustor_nvme_reap_one did not take: read it, consume it,
 * then let ustor_nvme_cpl_other validate and handle it. Returns the
 * request it finished (it finishes at most one), or NULL. */
static USTOR_NOINLINE struct ustor_block_req *ustor_nvme_reap_other(struct ustor_nvme_ctrl *ctrl,
								    struct ustor_nvme_queue *q,
								    const volatile struct ustor_nvme_cqe *e)
{
	struct ustor_nvme_done more = { NULL, NULL };
	uint16_t cid = ustor_le16_to_cpu(e->cid);
	uint32_t dw0 = ustor_le32_to_cpu(e->dw0);
	uint16_t status = (uint16_t)(ustor_le16_to_cpu(e->status) >> 1);

	/* Consumed first: a retry in cpl_other needs the SQ room this
	 * completion reports. */
	ustor_sqcq_pop(&q->ring, ustor_le16_to_cpu(e->sqhd));
	ustor_nvme_cpl_other(ctrl, q, cid, dw0, status, &more);
	return more.head;
}

/*
 * The reaping loop of the synchronous exec and of polls of a queue with
 * flags (see ustor_nvme_ns_poll). Requests it finishes go on `done`. It
 * stops when no slot is in use: nothing can be due, and whatever a device
 * posts regardless stays in the CQ until a command is outstanding again.
 * Caller holds the queue lock; `flags` is q->ring.flags as it read them.
 */
static USTOR_ALWAYS_INLINE unsigned ustor_nvme_queue_reap(struct ustor_nvme_ctrl *ctrl,
							  struct ustor_nvme_queue *q,
							  struct ustor_nvme_done *done,
							  uint32_t flags)
{
	const volatile struct ustor_nvme_cqe *e;
	unsigned finished = 0;

	while (q->nfree + 1u != q->ring.depth &&
	       (e = ustor_sqcq_peek_flags(&q->ring, flags)) != NULL) {
		struct ustor_block_req *req;

		if (!ustor_nvme_reap_one(q, e, &req))
			req = ustor_nvme_reap_other(ctrl, q, e);
		if (req != NULL) {
			if (flags & USTOR_NVME_QF_STATS)
				ustor_nvme_finish(done, req);
			else
				ustor_nvme_done_add(done, req);
			finished++;
		}
	}
	ustor_sqcq_ring_cq_flags(&q->ring, 0, flags);
	/* flags == 0 says nothing waits (USTOR_NVME_QF_PENDING). */
	if (flags != 0 && q->waiting != NULL)
		ustor_nvme_io_issue_waiting(ctrl, q, done);
	return finished;
}

unsigned ustor_nvme_queue_process(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	struct ustor_nvme_done done = { q->done_head, q->done_tail };
	unsigned n = ustor_nvme_queue_reap(ctrl, q, &done, q->ring.flags);

	/* Called with the lock held (exec): no callbacks here, they wait on q
	 * for the next poll, which the pending flag sends the general way. */
	q->done_head = done.head;
	q->done_tail = done.tail;
	if (done.head != NULL)
		q->ring.flags |= USTOR_NVME_QF_PENDING;
	return n;
}

/*
 * Poll a queue that has flags (a lock, cache maintenance, or requests
 * pending): reap under the lock, then run the callbacks of the finished
 * requests with the lock dropped (they may submit again), those a
 * synchronous exec reaped first. Out of line: the plain poll pays for none
 * of its registers.
 */
static USTOR_NOINLINE unsigned ustor_nvme_queue_poll_flags(struct ustor_nvme_ctrl *ctrl,
							   struct ustor_nvme_queue *q,
							   uint32_t flags)
{
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_done done;
	struct ustor_block_req *req;
	uint32_t wrapped;
	unsigned n;

	ustor_nvme_lock(hal, q);
	/* The CQ wrapped since the last look (ustor_sqcq_pop): time for the
	 * watchdog even if every poll finds completions. Cleared under the
	 * lock; a wrap another CPU flags after `flags` was read stays set for
	 * the next poll. */
	wrapped = flags & USTOR_SQCQ_F_WRAPPED;
	if (wrapped != 0)
		q->ring.flags &= (uint8_t)~USTOR_SQCQ_F_WRAPPED;
	/* A doorbell USTOR_REQ_F_MORE deferred (the caller never kicked):
	 * ring it now, or those commands would never start. */
	ustor_sqcq_ring_sq(&q->ring);
	/* The list stays local, not on q, until the callbacks have run. */
	done.head = q->done_head;
	done.tail = q->done_tail;
	q->done_head = NULL;
	q->done_tail = NULL;
	n = ustor_nvme_queue_reap(ctrl, q, &done, flags);
	if (q->waiting == NULL)
		q->ring.flags &= (uint8_t)~USTOR_NVME_QF_PENDING;
	/* Idle: nothing counted at submission is left to count at completion;
	 * the next submission sets it again while statistics are on. */
	if (q->waiting == NULL && q->nfree + 1u == q->ring.depth)
		q->ring.flags &= (uint8_t)~USTOR_NVME_QF_STATS;
	if (flags & USTOR_NVME_QF_ADAPTIVE)
		ustor_nvme_adaptive_update(ctrl, q);
	ustor_nvme_unlock(hal, q);
	/* Outside the lock: a callback may submit (and so lock) again. */
	req = done.head;
	while (req != NULL) {
		/* next_waiting is left as it is: it means nothing once the
		 * request is off the list. */
		struct ustor_block_req *next = req->next_waiting;
		ustor_block_done_fn fn = req->done;

		/* Non-coherent CPUs: drop stale cache lines over what the
		 * device wrote before anyone reads it. */
		if ((flags & USTOR_SQCQ_F_SYNC) && req->op == USTOR_BLOCK_READ)
			hal->dma_sync(hal->ctx, req->buf,
				      (size_t)req->nblocks << ((struct ustor_nvme_ns *)req->drv)->info.lbads,
				      USTOR_DMA_FROM_DEVICE);
		/* With several CPUs a synchronous waiter returns as soon as it
		 * sees DONE and its request may be gone: status first, state
		 * last, and nothing read from req after it (fn was loaded). */
		if (flags & USTOR_SQCQ_F_LOCK)
			hal->wmb(hal->ctx);
		req->state = USTOR_REQ_STATE_DONE;
		if (fn != NULL)
			fn(req);
		req = next;
	}
	/* Deadlines and delayed retries: on an empty poll, and whenever the
	 * CQ wrapped, so one stuck command among busy ones is still seen. */
	if (n == 0 || wrapped != 0)
		ustor_nvme_watchdog(ctrl, q);
	return n;
}

/*
 * Poll a queue whose flags are 0: no lock (one CPU), a coherent CPU and
 * nothing pending. With no lock to drop, a finished request's callback
 * runs as soon as its completion is consumed (as SPDK does), rather than
 * after the whole pass: no list to build and walk. The pass takes at most
 * as many completions as commands were in flight when it began, so the
 * commands that callbacks submit complete in a later poll, as before. A
 * callback may do anything a caller may: q is read afresh after each one,
 * and a controller that left READY (shut down from a callback) ends the
 * pass there.
 */
static USTOR_ALWAYS_INLINE unsigned ustor_nvme_queue_poll_plain(struct ustor_nvme_ctrl *ctrl,
								struct ustor_nvme_queue *q)
{
	const volatile struct ustor_nvme_cqe *e;
	uint32_t budget = (uint32_t)q->ring.depth - 1u - q->nfree; /* slots in use */
	unsigned n = 0;

	/* An empty poll (nothing in flight, or nothing new) is the watchdog's
	 * turn (deadlines, delayed retries, a reset asked for). The tests sit
	 * on the exits a busy poll does not take (at QD1 the pass ends on
	 * its budget), so it pays nothing for them. A CQ that wraps sets
	 * USTOR_SQCQ_F_WRAPPED, which sends the next poll the general way,
	 * which runs the watchdog too. */
	if (USTOR_LIKELY(budget != 0)) {
		while ((e = ustor_sqcq_peek_flags(&q->ring, 0)) != NULL) {
			struct ustor_block_req *req;
			ustor_block_done_fn fn;

			budget--;
			if (USTOR_UNLIKELY(!ustor_nvme_reap_one(q, e, &req))) {
				req = ustor_nvme_reap_other(ctrl, q, e);
				if (req == NULL)
					goto next;
			}
			n++;
			fn = req->done; /* loaded first: req may be gone once DONE */
			req->state = USTOR_REQ_STATE_DONE;
			if (fn != NULL) {
				fn(req);
				if (USTOR_UNLIKELY(ctrl->state != USTOR_NVME_STATE_READY))
					return n;
			}
next:
			if (budget == 0) {
				ustor_sqcq_ring_cq(&q->ring, 0);
				return n;
			}
		}
		ustor_sqcq_ring_cq(&q->ring, 0);
		if (USTOR_LIKELY(n != 0))
			return n;
	}
	ustor_nvme_watchdog(ctrl, q);
	return 0;
}

/*
 * Poll a queue whose only flag is USTOR_SQCQ_F_WRAPPED (no lock: one CPU):
 * the plain poll, then the watchdog's turn (the plain poll took it already
 * if it found nothing).
 */
static USTOR_NOINLINE unsigned ustor_nvme_queue_poll_wrapped(struct ustor_nvme_ctrl *ctrl,
							     struct ustor_nvme_queue *q)
{
	unsigned n;

	q->ring.flags &= (uint8_t)~USTOR_SQCQ_F_WRAPPED;
	n = ustor_nvme_queue_poll_plain(ctrl, q);
	if (n != 0)
		ustor_nvme_watchdog(ctrl, q);
	return n;
}

unsigned ustor_nvme_ns_poll(struct ustor_block_device *bdev, uint16_t queue)
{
	struct ustor_nvme_ctrl *ctrl = ustor_nvme_bdev_ns(bdev)->ctrl;
	struct ustor_nvme_queue *q;
	uint32_t flags;

	if (USTOR_UNLIKELY(ctrl->state != USTOR_NVME_STATE_READY))
		return 0;
	q = ustor_nvme_io_queue(ctrl, queue);
	/* The HAL does not change while the queue lives: its flags are read
	 * once, here. */
	flags = q->ring.flags;
	/* Both run the watchdog on an empty poll; the general one also after
	 * the CQ wrapped (USTOR_SQCQ_F_WRAPPED). */
	if (USTOR_UNLIKELY(flags != 0)) {
		if (flags == USTOR_SQCQ_F_WRAPPED)
			return ustor_nvme_queue_poll_wrapped(ctrl, q);
		return ustor_nvme_queue_poll_flags(ctrl, q, flags);
	}
	return ustor_nvme_queue_poll_plain(ctrl, q);
}

ustor_status ustor_nvme_exec(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
			     struct ustor_nvme_sqe *sqe, const void *data, uint32_t len,
			     uint32_t timeout_ms, struct ustor_nvme_cpl *out)
{
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_raw raw;
	uint64_t deadline;
	uint32_t spins = 0;
	ustor_status st;
	int idx;

	raw.done = 0;
	raw.err = USTOR_OK;
	raw.cpl.dw0 = 0;
	raw.cpl.status = 0;
	raw.cpl.rsvd = 0;
	ustor_nvme_lock(hal, q);
	idx = ustor_nvme_slot_get(q);
	if (idx < 0) {
		ustor_nvme_unlock(hal, q);
		return USTOR_ERR_BUSY;
	}
	/* Caller data goes by PRPs built in this slot's own list area, under
	 * the lock, so the list stays the command's until it completes. */
	st = data == NULL ? USTOR_OK
			  : ustor_nvme_prp_build(ctrl, q, (unsigned)idx, (const uint8_t *)data, len, sqe);
	if (st != USTOR_OK) {
		ustor_nvme_slot_put(q, (unsigned)idx);
		ustor_nvme_unlock(hal, q);
		return st;
	}
	q->slots[idx].kind = USTOR_NVME_SLOT_RAW;
	q->slots[idx].owner = &raw;
	q->slots[idx].stamp = q->wd_epoch;
	q->slots[idx].opcode = (uint8_t)sqe->cdw0;
	sqe->cdw0 = (sqe->cdw0 & 0xffffu) | ((uint32_t)ustor_nvme_cid(q, (unsigned)idx) << 16);
	st = ustor_sqcq_push(&q->ring, sqe);
	if (st != USTOR_OK) {
		ustor_nvme_slot_put(q, (unsigned)idx);
		ustor_nvme_unlock(hal, q);
		return st;
	}
	ustor_sqcq_ring_sq(&q->ring);
	ustor_nvme_unlock(hal, q);

	deadline = hal->now_ns(hal->ctx) + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		ustor_nvme_lock(hal, q);
		ustor_nvme_queue_process(ctrl, q);
		if (raw.done) {
			ustor_nvme_unlock(hal, q);
			break;
		}
		if (hal->now_ns(hal->ctx) >= deadline) {
			/* Give the slot up; a late completion is dropped. */
			q->slots[idx].kind = USTOR_NVME_SLOT_ABANDONED;
			q->slots[idx].owner = NULL;
			ustor_nvme_unlock(hal, q);
			USTOR_ERR(hal, "nvme%u: q%u: opcode %02x timed out after %u ms",
				  (unsigned)ctrl->cfg.index, (unsigned)q->ring.qid,
				  (unsigned)(sqe->cdw0 & 0xffu), timeout_ms);
			ustor_nvme_log_regs(ctrl, "command timeout");
			st = ustor_nvme_ctrl_check(ctrl);
			/* The device may still use the slot's memory: the next
			 * I/O poll resets the controller (nvme_recover.c). */
			if (ctrl->recover_on && ctrl->reset_pending == USTOR_OK)
				ctrl->reset_pending = USTOR_ERR_TIMEOUT;
			return (st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE) ? st
										     : USTOR_ERR_TIMEOUT;
		}
		ustor_nvme_unlock(hal, q);
		ustor_wait_between_polls(hal, &spins);
	}
	if (out != NULL)
		*out = raw.cpl;
	if (raw.err != USTOR_OK)
		return raw.err; /* a reset ended it (its status says so) */
	if (USTOR_NVME_STATUS_FAILED(raw.cpl.status)) {
		USTOR_WARN(hal, "nvme%u: q%u: opcode %02x failed: %s (sct %u sc %02x%s%s)",
			   (unsigned)ctrl->cfg.index, (unsigned)q->ring.qid,
			   (unsigned)(sqe->cdw0 & 0xffu), ustor_nvme_status_name(raw.cpl.status),
			   USTOR_NVME_STATUS_SCT(raw.cpl.status), USTOR_NVME_STATUS_SC(raw.cpl.status),
			   USTOR_NVME_STATUS_DNR(raw.cpl.status) ? ", do not retry" : "",
			   USTOR_NVME_STATUS_MORE(raw.cpl.status) ? ", more in error log" : "");
		return ustor_nvme_status_to_ustor(raw.cpl.status);
	}
	return USTOR_OK;
}

ustor_status ustor_nvme_admin(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_sqe *sqe,
			      struct ustor_nvme_cpl *out)
{
	if ((ctrl->state != USTOR_NVME_STATE_READY && ctrl->state != USTOR_NVME_STATE_STOPPING &&
	     ctrl->state != USTOR_NVME_STATE_RESETTING) ||
	    ctrl->admin.ring.sq == NULL)
		return ctrl->state == USTOR_NVME_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN
								 : USTOR_ERR_NOT_READY;
	return ustor_nvme_exec(ctrl, &ctrl->admin, sqe, NULL, 0, ctrl->cfg.admin_timeout_ms, out);
}

ustor_status ustor_nvme_admin_page(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_sqe *sqe,
				   struct ustor_nvme_cpl *out)
{
	/* One page, page aligned: Identify data must not cross a page
	 * (HARDWARE.md item 6), so PRP1 alone covers it. */
	ustor_status st;

	if (ctrl->admin_buf == NULL)
		return USTOR_ERR_NOT_READY;
	/* Zeroed first: a device that completes without transferring data
	 * must not have the previous command's data decoded as its answer. */
	ustor_memset(ctrl->admin_buf, 0, ctrl->page_size);
	sqe->prp1 = ctrl->admin_buf_bus;
	if (ctrl->hal->dma_sync != NULL)
		ctrl->hal->dma_sync(ctrl->hal->ctx, ctrl->admin_buf, ctrl->page_size,
				    USTOR_DMA_BIDIRECTIONAL);
	st = ustor_nvme_admin(ctrl, sqe, out);
	if (ctrl->hal->dma_sync != NULL && ctrl->admin_buf != NULL)
		ctrl->hal->dma_sync(ctrl->hal->ctx, ctrl->admin_buf, ctrl->page_size,
				    USTOR_DMA_FROM_DEVICE);
	return st;
}
