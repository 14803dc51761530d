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
		struct ustor_nvme_slot *s = &q->slots[i];
		if (q->prp_pool != NULL) {
			s->prp_list = q->prp_pool + (size_t)i * q->prp_area_bytes;
			s->prp_bus = q->prp_pool_bus + (ustor_bus_addr)i * q->prp_area_bytes;
		}
		/* Hand out low indices first. */
		q->free_ids[i] = (uint16_t)(nslots - 1u - i);
	}
	q->nfree = (uint16_t)nslots;
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
		return (unsigned)ustor_nvme_io_complete(ctrl, q, idx, status, done);
	case USTOR_NVME_SLOT_RAW: {
		struct ustor_nvme_raw *raw = (struct ustor_nvme_raw *)s->owner;
		raw->cpl.dw0 = dw0;
		raw->cpl.status = status;
		raw->done = 1;
		ustor_nvme_slot_put(q, idx);
		return 0;
	}
	default: /* abandoned: its owner gave up; now the slot is free */
		if (q->dsm_owner == (void *)s)
			q->dsm_owner = NULL;
		ustor_nvme_slot_put(q, idx);
		return 0;
	}
}

/* The cold paths below fill a list of their own, spliced onto `done`
 * after: `done` itself never has its address taken, so it stays in
 * registers on the hot path. */
static inline unsigned ustor_nvme_reap_other(struct ustor_nvme_ctrl *ctrl,
					     struct ustor_nvme_queue *q,
					     const struct ustor_nvme_cqe *cqe,
					     struct ustor_nvme_done *done)
{
	struct ustor_nvme_done more = { NULL, NULL };
	unsigned n = ustor_nvme_cpl_other(ctrl, q, cqe->cid, cqe->dw0, cqe->status, &more);

	ustor_nvme_done_splice(done, &more);
	return n;
}

static inline void ustor_nvme_issue_waiting(struct ustor_nvme_ctrl *ctrl,
					    struct ustor_nvme_queue *q,
					    struct ustor_nvme_done *done)
{
	struct ustor_nvme_done more = { NULL, NULL };

	ustor_nvme_io_issue_waiting(ctrl, q, &more);
	ustor_nvme_done_splice(done, &more);
}

/*
 * The reaping loop, inline in both callers: poll (the I/O hot path) and
 * the synchronous exec. Requests it finishes go on `done`. It stops when
 * no slot is in use: nothing can be due (this is what makes the common
 * "CQ is empty now" case free), and whatever a device posts regardless
 * stays in the CQ until a command is outstanding again.
 */
static USTOR_ALWAYS_INLINE unsigned ustor_nvme_queue_reap(struct ustor_nvme_ctrl *ctrl,
							  struct ustor_nvme_queue *q,
							  struct ustor_nvme_done *done)
{
	struct ustor_nvme_cqe cqe;
	unsigned finished = 0;
	uint32_t nslots = (uint32_t)q->ring.depth - 1u;

	while (q->nfree != nslots && ustor_sqcq_reap(&q->ring, &cqe)) {
		uint32_t cid = cqe.cid;
		uint32_t idx = cid & USTOR_NVME_CID_SLOT_MASK;
		struct ustor_nvme_slot *s;

		/* The common case, checked in full (index in range, slot in
		 * use as ONE, current generation); anything else gets the
		 * general path, which validates the id on its own. */
		if (USTOR_LIKELY(idx < nslots)) {
			s = &q->slots[idx];
			if (USTOR_LIKELY(s->kind == USTOR_NVME_SLOT_ONE &&
					 s->gen == (cid >> USTOR_NVME_CID_SLOT_BITS) &&
					 !USTOR_NVME_STATUS_FAILED(cqe.status))) {
				struct ustor_block_req *req = (struct ustor_block_req *)s->owner;

				ustor_nvme_slot_put(q, idx);
				ustor_nvme_done_add(done, req);
				finished++;
				continue;
			}
		}
		finished += ustor_nvme_reap_other(ctrl, q, &cqe, done);
	}
	ustor_sqcq_ring_cq(&q->ring, 0);
	if (q->waiting != NULL)
		ustor_nvme_issue_waiting(ctrl, q, done);
	return finished;
}

unsigned ustor_nvme_queue_process(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	struct ustor_nvme_done done = { NULL, NULL };
	struct ustor_nvme_done later;
	unsigned n = ustor_nvme_queue_reap(ctrl, q, &done);

	/* Called with the lock held (exec): no callbacks here, they wait on q
	 * for the next poll. */
	later.head = q->done_head;
	later.tail = q->done_tail;
	ustor_nvme_done_splice(&later, &done);
	q->done_head = later.head;
	q->done_tail = later.tail;
	return n;
}

unsigned ustor_nvme_queue_poll(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_done done;
	struct ustor_block_req *req;
	unsigned n;

	ustor_nvme_lock(hal, q);
	/* What a synchronous exec finished comes first, then this batch: the
	 * list stays local, not on q, until the callbacks have run. */
	done.head = q->done_head;
	done.tail = q->done_tail;
	if (done.head != NULL) {
		q->done_head = NULL;
		q->done_tail = NULL;
	}
	n = ustor_nvme_queue_reap(ctrl, q, &done);
	ustor_nvme_unlock(hal, q);
	/* Outside the lock: a callback may submit (and so lock) again. */
	req = done.head;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_block_done_fn fn = req->done;

		req->next_waiting = NULL;
		/* Non-coherent CPUs: drop stale cache lines over what the
		 * device wrote before anyone reads it. */
		if (hal->dma_sync != NULL && req->op == USTOR_BLOCK_READ)
			hal->dma_sync(hal->ctx, req->buf,
				      (size_t)req->nblocks << ((struct ustor_nvme_ns *)req->drv)->info.lbads,
				      USTOR_DMA_FROM_DEVICE);
		/* With several CPUs a synchronous waiter returns as soon as it
		 * sees DONE and its request may be gone: status first, state
		 * last, and nothing read from req after it (fn was loaded). */
		if (hal->lock != NULL)
			hal->wmb(hal->ctx);
		req->state = USTOR_REQ_STATE_DONE;
		if (fn != NULL)
			fn(req);
		req = next;
	}
	return n;
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
			  : ustor_nvme_prp_build(ctrl, &q->slots[idx], (const uint8_t *)data, len, sqe);
	if (st != USTOR_OK) {
		ustor_nvme_slot_put(q, (unsigned)idx);
		ustor_nvme_unlock(hal, q);
		return st;
	}
	q->slots[idx].kind = USTOR_NVME_SLOT_RAW;
	q->slots[idx].owner = &raw;
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
			return (st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE) ? st
										     : USTOR_ERR_TIMEOUT;
		}
		ustor_nvme_unlock(hal, q);
		ustor_wait_between_polls(hal, &spins);
	}
	if (out != NULL)
		*out = raw.cpl;
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
	if ((ctrl->state != USTOR_NVME_STATE_READY && ctrl->state != USTOR_NVME_STATE_STOPPING) ||
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
