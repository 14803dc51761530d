/* SPDX-License-Identifier: MIT */
/*
 * NVMe namespaces as block devices: the I/O path. A block request becomes
 * one or more commands ("chunks"): reads and writes are split at the
 * controller's transfer limit (MDTS and the configured cap), write-zeroes
 * at the 16-bit block count. What cannot be issued for lack of slots waits
 * on the queue and is issued from poll.
 */
#include "nvme_internal.h"

static uint8_t ustor_nvme_opcode(uint8_t op)
{
	switch (op) {
	case USTOR_BLOCK_READ:
		return USTOR_NVME_CMD_READ;
	case USTOR_BLOCK_WRITE:
		return USTOR_NVME_CMD_WRITE;
	case USTOR_BLOCK_FLUSH:
		return USTOR_NVME_CMD_FLUSH;
	case USTOR_BLOCK_DISCARD:
		return USTOR_NVME_CMD_DSM;
	default:
		return USTOR_NVME_CMD_WRITE_ZEROES;
	}
}

/* Two PRP entries cover the transfer (PRP1 up to the end of its page, PRP2
 * the next page): no list is needed. */
static inline int ustor_nvme_io_prp_short(uint32_t page, const uint8_t *buf, uint32_t len)
{
	return len <= 2u * page - ((uint32_t)(uintptr_t)buf & (page - 1u));
}

/* PRP1/PRP2 (CPU order) of a transfer ustor_nvme_io_prp_short accepted;
 * `flags` are the queue ring's (USTOR_SQCQ_F_SYNC: sync the buffer). Out
 * of line: the fast path only comes here for data that crosses a page. */
static USTOR_NOINLINE ustor_status ustor_nvme_io_prp_pair(const struct ustor_hal *hal,
							  uint32_t flags, uint32_t page,
							  const uint8_t *buf, uint32_t len,
							  ustor_bus_addr *prp1,
							  ustor_bus_addr *prp2)
{
	uint32_t mask = page - 1u;
	uint32_t off = (uint32_t)(uintptr_t)buf & mask;
	uint32_t first = page - off;

	if (first > len)
		first = len;
	/* USTOR_HAL_F_DMA_RANGES: both pages in one call when they are one
	 * run on the bus. */
	if ((hal->flags & USTOR_HAL_F_DMA_RANGES) != 0 && len > first &&
	    hal->virt_to_bus(hal->ctx, buf, len, prp1) == USTOR_OK) {
		if (((uint32_t)*prp1 & mask) != off)
			return USTOR_ERR_NOT_DMA_ABLE;
		if ((off & 3u) != 0)
			return USTOR_ERR_ALIGNMENT;
		*prp2 = *prp1 + first;
	} else {
		/* PRP1 keeps the buffer's offset in its page and must be
		 * dword aligned (an untranslatable buffer says so first: the
		 * synchronous calls bounce it). PRP2, if needed, names a
		 * whole page. */
		if (hal->virt_to_bus(hal->ctx, buf, first, prp1) != USTOR_OK ||
		    ((uint32_t)*prp1 & mask) != off)
			return USTOR_ERR_NOT_DMA_ABLE;
		if ((off & 3u) != 0)
			return USTOR_ERR_ALIGNMENT;
		*prp2 = 0;
		if (len > first &&
		    (hal->virt_to_bus(hal->ctx, buf + first, len - first, prp2) != USTOR_OK ||
		     (*prp2 & mask) != 0))
			return USTOR_ERR_NOT_DMA_ABLE;
	}
	if (flags & USTOR_SQCQ_F_SYNC)
		hal->dma_sync(hal->ctx, buf, len, USTOR_DMA_BIDIRECTIONAL);
	return USTOR_OK;
}

/* PRPs (CPU order) for one command's data; a list, if one is needed, goes
 * into the slot's PRP list area. */
static inline ustor_status ustor_nvme_io_prp(const struct ustor_nvme_ctrl *ctrl,
					     const struct ustor_nvme_queue *q,
					     const struct ustor_nvme_slot *s, const uint8_t *buf,
					     uint32_t len, struct ustor_nvme_sqe *sqe)
{
	if (!ustor_nvme_io_prp_short(ctrl->page_size, buf, len))
		return ustor_nvme_prp_build(ctrl, q, (unsigned)(s - q->slots), buf, len, sqe);
	return ustor_nvme_io_prp_pair(ctrl->hal, q->ring.flags, ctrl->page_size, buf, len,
				      &sqe->prp1, &sqe->prp2);
}

/* Fill the command for the chunk recorded in slot `idx`. Every field is
 * written (no memset): this runs once per command. */
static ustor_status ustor_nvme_io_build(const struct ustor_nvme_ctrl *ctrl,
					struct ustor_nvme_queue *q, const struct ustor_nvme_ns *ns,
					const struct ustor_block_req *req, unsigned idx,
					struct ustor_nvme_sqe *sqe)
{
	const struct ustor_nvme_slot *s = &q->slots[idx];

	sqe->cdw0 = (uint32_t)s->opcode | ((uint32_t)ustor_nvme_cid(q, idx) << 16);
	sqe->nsid = ns->info.nsid;
	sqe->cdw2 = 0;
	sqe->cdw3 = 0;
	sqe->mptr = 0;
	sqe->prp1 = 0;
	sqe->prp2 = 0;
	sqe->cdw10 = (uint32_t)s->lba;
	sqe->cdw11 = (uint32_t)(s->lba >> 32);
	sqe->cdw12 = s->nblocks - 1u;
	sqe->cdw13 = 0;
	sqe->cdw14 = 0;
	sqe->cdw15 = 0;
	switch (s->opcode) {
	case USTOR_NVME_CMD_READ:
	case USTOR_NVME_CMD_WRITE:
		if (req->flags & USTOR_REQ_F_FUA)
			sqe->cdw12 |= USTOR_NVME_RW_FUA;
		return ustor_nvme_io_prp(ctrl, q, s, (const uint8_t *)req->buf + s->buf_off,
					 s->nblocks << ns->info.lbads, sqe);
	case USTOR_NVME_CMD_WRITE_ZEROES:
		return USTOR_OK;
	case USTOR_NVME_CMD_DSM: {
		struct ustor_nvme_dsm_range *r = (struct ustor_nvme_dsm_range *)(void *)q->dsm_page;
		r->cattr = 0;
		r->nlb = ustor_cpu_to_le32(s->nblocks);
		r->slba = ustor_cpu_to_le64(s->lba);
		if (ctrl->hal->dma_sync != NULL)
			ctrl->hal->dma_sync(ctrl->hal->ctx, r, sizeof(*r), USTOR_DMA_TO_DEVICE);
		sqe->prp1 = q->dsm_bus;
		sqe->cdw10 = 0; /* one range (0-based) */
		sqe->cdw11 = USTOR_NVME_DSM_AD;
		sqe->cdw12 = 0;
		return USTOR_OK;
	}
	default: /* flush */
		sqe->cdw10 = 0;
		sqe->cdw11 = 0;
		sqe->cdw12 = 0;
		return USTOR_OK;
	}
}

/* Issue as many chunks of `req` as slots allow. USTOR_ERR_BUSY: out of
 * slots (or the DSM page is taken) with work left; other errors: nothing
 * more can be issued for this request. */
static ustor_status ustor_nvme_io_issue(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
					struct ustor_nvme_ns *ns, struct ustor_block_req *req)
{
	uint8_t opcode = ustor_nvme_opcode(req->op);

	while (req->left != 0) {
		struct ustor_nvme_sqe sqe;
		struct ustor_nvme_slot *s;
		uint32_t n = req->left;
		ustor_status st;
		int idx;

		if (opcode == USTOR_NVME_CMD_DSM && q->dsm_owner != NULL)
			return USTOR_ERR_BUSY;
		idx = ustor_nvme_slot_get(q);
		if (idx < 0)
			return USTOR_ERR_BUSY;
		s = &q->slots[idx];
		if (opcode == USTOR_NVME_CMD_READ || opcode == USTOR_NVME_CMD_WRITE) {
			if (n > ns->max_chunk_blocks)
				n = ns->max_chunk_blocks;
		} else if (opcode == USTOR_NVME_CMD_WRITE_ZEROES) {
			if (n > 0x10000u)
				n = 0x10000u;
		}
		s->kind = USTOR_NVME_SLOT_BLOCK;
		s->owner = req;
		s->opcode = opcode;
		s->lba = req->next_lba;
		s->nblocks = opcode == USTOR_NVME_CMD_FLUSH ? 0 : n;
		s->buf_off = (uint32_t)(req->next_lba - req->lba) << ns->info.lbads;
		s->retries_left = ctrl->io_retries;
		s->stamp = q->wd_epoch;
		st = ustor_nvme_io_build(ctrl, q, ns, req, (unsigned)idx, &sqe);
		if (st == USTOR_OK)
			st = ustor_sqcq_push(&q->ring, &sqe);
		if (st != USTOR_OK) {
			ustor_nvme_slot_put(q, (unsigned)idx);
			return st;
		}
		if (opcode == USTOR_NVME_CMD_DSM)
			q->dsm_owner = s;
		req->in_flight++;
		req->next_lba += n;
		req->left -= n;
	}
	return USTOR_OK;
}

static void ustor_nvme_io_unlink(struct ustor_nvme_queue *q, struct ustor_block_req *req)
{
	struct ustor_block_req **pp = &q->waiting;
	struct ustor_block_req *prev = NULL;

	while (*pp != NULL) {
		if (*pp == req) {
			*pp = req->next_waiting;
			if (q->waiting_tail == req)
				q->waiting_tail = prev;
			req->next_waiting = NULL;
			return;
		}
		prev = *pp;
		pp = &(*pp)->next_waiting;
	}
}

void ustor_nvme_io_issue_waiting(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
				 struct ustor_nvme_done *done)
{
	while (q->waiting != NULL) {
		struct ustor_block_req *req = q->waiting;
		struct ustor_nvme_ns *ns = (struct ustor_nvme_ns *)req->drv;
		ustor_status st = ustor_nvme_io_issue(ctrl, q, ns, req);

		if (st == USTOR_ERR_BUSY)
			break; /* keep order: nothing behind it goes first */
		ustor_nvme_io_unlink(q, req);
		if (st != USTOR_OK) {
			if (req->status == USTOR_OK)
				req->status = st;
			req->left = 0;
			if (req->in_flight == 0)
				ustor_nvme_finish(done, req);
		}
	}
	ustor_sqcq_ring_sq(&q->ring);
}

/* Turn a ONE slot into the BLOCK chunk it stands for, so retries and error
 * reports see the usual description. */
static void ustor_nvme_io_expand_one(const struct ustor_nvme_ctrl *ctrl,
				     struct ustor_nvme_slot *s, struct ustor_block_req *req)
{
	s->kind = USTOR_NVME_SLOT_BLOCK;
	s->opcode = req->op == USTOR_BLOCK_READ ? USTOR_NVME_CMD_READ : USTOR_NVME_CMD_WRITE;
	s->lba = req->lba;
	s->nblocks = req->nblocks;
	s->buf_off = 0;
	s->retries_left = ctrl->io_retries;
	req->next_lba = req->lba + req->nblocks;
	req->left = 0;
	req->in_flight = 1;
}

/* A block chunk in slot `idx` is over (success, or an error already
 * recorded): free the slot; returns 1 when that finished the request. */
static int ustor_nvme_io_chunk_done(struct ustor_nvme_queue *q, unsigned idx,
				    struct ustor_nvme_done *done)
{
	struct ustor_nvme_slot *s = &q->slots[idx];
	struct ustor_block_req *req = (struct ustor_block_req *)s->owner;

	if (q->dsm_owner == (void *)s)
		q->dsm_owner = NULL;
	ustor_nvme_slot_put(q, idx);
	if (--req->in_flight != 0 || req->left != 0)
		return 0;
	ustor_nvme_done_add(done, req);
	return 1;
}

int ustor_nvme_io_resend(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q, unsigned idx)
{
	struct ustor_nvme_slot *s = &q->slots[idx];
	struct ustor_block_req *req = (struct ustor_block_req *)s->owner;
	struct ustor_nvme_sqe sqe;

	s->kind = USTOR_NVME_SLOT_BLOCK;
	s->gen = (uint16_t)(s->gen + USTOR_NVME_GEN_STEP);
	s->stamp = q->wd_epoch;
	if (ustor_nvme_io_build(ctrl, q, (struct ustor_nvme_ns *)req->drv, req, idx, &sqe) !=
		    USTOR_OK ||
	    ustor_sqcq_push(&q->ring, &sqe) != USTOR_OK)
		return -1;
	ustor_sqcq_ring_sq(&q->ring);
	return 0;
}

int ustor_nvme_io_complete(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
			   unsigned idx, uint16_t status, struct ustor_nvme_done *done)
{
	struct ustor_nvme_slot *s = &q->slots[idx];
	struct ustor_block_req *req = (struct ustor_block_req *)s->owner;

	if (USTOR_NVME_SLOT_IS_ONE(s->kind))
		ustor_nvme_io_expand_one(ctrl, s, req);
	if (USTOR_NVME_STATUS_FAILED(status)) {
		if (!USTOR_NVME_STATUS_DNR(status) && s->retries_left > 0) {
			uint32_t delay_ms = ustor_nvme_retry_delay_ms(ctrl, status);

			/* Transient (DNR clear): send the same chunk again under
			 * a fresh command id, at once (the completed entry freed
			 * an SQ slot) or, for CRD and Namespace Not Ready, when
			 * the watchdog finds it due. */
			s->retries_left--;
			if (delay_ms != 0) {
				s->gen = (uint16_t)(s->gen + USTOR_NVME_GEN_STEP);
				s->kind = USTOR_NVME_SLOT_DELAYED;
				s->stamp = (uint16_t)(ustor_nvme_ms_clock(ctrl->hal) + delay_ms);
				q->ndelayed++;
				ctrl->retries_delayed++;
				return 0;
			}
			if (ustor_nvme_io_resend(ctrl, q, idx) == 0)
				return 0;
		}
		if (req->status == USTOR_OK) {
			req->status = ustor_nvme_status_to_ustor(status);
			req->nvme_status = status;
			req->error_lba = s->lba;
		}
		if (req->left != 0) { /* stop issuing the rest */
			req->left = 0;
			ustor_nvme_io_unlink(q, req);
		}
	}
	return ustor_nvme_io_chunk_done(q, idx, done);
}

/* A request that needs several commands is checked page by page before any
 * is issued, so an untranslatable tail never leaves a half-done write. */
static ustor_status ustor_nvme_io_check_dma(const struct ustor_nvme_ctrl *ctrl,
					    const uint8_t *buf, uint32_t len)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t mask = ctrl->page_size - 1u;

	while (len > 0) {
		uint32_t n = ctrl->page_size - (uint32_t)((uintptr_t)buf & mask);
		ustor_bus_addr bus;

		if (n > len)
			n = len;
		/* The same rules as the PRP builder: the page offset survives
		 * translation (so later pages start page aligned). */
		if (hal->virt_to_bus(hal->ctx, buf, n, &bus) != USTOR_OK ||
		    ((uint32_t)bus & mask) != ((uint32_t)(uintptr_t)buf & mask))
			return USTOR_ERR_NOT_DMA_ABLE;
		buf += n;
		len -= n;
	}
	return USTOR_OK;
}

/* Anything but the fast path: several commands, flush/discard/zeroes, a
 * transfer that needs a PRP list, a queue that already has requests
 * waiting (they keep their order), or a controller that is not ready. */
static USTOR_NOINLINE ustor_status ustor_nvme_ns_submit_slow(struct ustor_block_device *bdev,
							     struct ustor_block_req *req)
{
	struct ustor_nvme_ns *ns = ustor_nvme_bdev_ns(bdev);
	struct ustor_nvme_ctrl *ctrl = ns->ctrl;
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_queue *q;
	ustor_status st;

	if (ctrl->state != USTOR_NVME_STATE_READY) {
		if (ctrl->state == USTOR_NVME_STATE_RESETTING)
			return USTOR_ERR_BUSY; /* back once re-initialised */
		if (ctrl->state == USTOR_NVME_STATE_FAILED)
			return ctrl->failed_status;
		return ctrl->state == USTOR_NVME_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN
								 : USTOR_ERR_NOT_READY;
	}
	q = ustor_nvme_io_queue(ctrl, req->queue);
	req->drv = ns;
	/* ustor_block_submit checked op, buffer and range. A request of
	 * several commands is checked for DMA before any is issued. */
	if (req->nblocks > ns->max_chunk_blocks &&
	    (req->op == USTOR_BLOCK_READ || req->op == USTOR_BLOCK_WRITE)) {
		st = ustor_nvme_io_check_dma(ctrl, (const uint8_t *)req->buf,
					     req->nblocks << ns->info.lbads);
		if (st != USTOR_OK)
			return st;
	}
	req->next_waiting = NULL;
	req->next_lba = req->lba;
	req->left = req->op == USTOR_BLOCK_FLUSH ? 1u : req->nblocks;
	req->in_flight = 0;

	ustor_nvme_lock(hal, q);
	st = ustor_nvme_io_issue(ctrl, q, ns, req);
	if (st != USTOR_OK && (st != USTOR_ERR_BUSY || req->in_flight == 0)) {
		if (req->in_flight == 0) {
			/* Nothing reached the device: refuse the request whole. */
			ustor_nvme_unlock(hal, q);
			return st;
		}
		/* Part was issued; the rest cannot be: finish with the error
		 * once the issued part completes. */
		req->status = st;
		req->left = 0;
	}
	req->state = USTOR_REQ_STATE_ACTIVE;
	if (bdev->sched.stats != NULL) {
		q->ring.flags |= USTOR_NVME_QF_STATS; /* its completion is counted too */
		ustor_stats_note_submit(bdev, req);
	}
	if (req->left != 0) {
		if (q->waiting_tail != NULL)
			q->waiting_tail->next_waiting = req;
		else
			q->waiting = req;
		q->waiting_tail = req;
		q->ring.flags |= USTOR_NVME_QF_PENDING;
	}
	if (req->flags & USTOR_REQ_F_MORE) {
		if (q->ring.sq_tail != q->ring.sq_rung)
			q->ring.flags |= USTOR_NVME_QF_PENDING; /* kick or the next poll rings */
	} else {
		ustor_sqcq_ring_sq(&q->ring);
	}
	if (q->ring.flags & USTOR_NVME_QF_ADAPTIVE)
		ustor_nvme_adaptive_update(ctrl, q);
	ustor_nvme_unlock(hal, q);
	return USTOR_OK;
}

/* Not ring flags: submit_one's `flags` bits for USTOR_REQ_F_MORE and for
 * statistics being on (bdev->sched.stats). */
#define USTOR_NVME_SUBMIT_MORE 0x100u
#define USTOR_NVME_SUBMIT_STATS 0x200u

/*
 * The fast path's command: a read or write that is one command whose data
 * two PRP entries cover (`end`, the end of the `len` bytes counted from the
 * start of the buffer's page, is at most two pages), on a queue with
 * nothing waiting (the callers checked that). The entry is built in place
 * in the SQ (no copy) and published with its own doorbell; the slot only
 * records its owner (USTOR_NVME_SLOT_ONE). `flags` is q->ring.flags as the
 * caller read them (a constant 0 compiles locking and cache maintenance
 * out).
 *
 * Little is kept across the HAL calls (what is needed after one is read
 * again from req or q): every value kept across a call costs a register
 * save or a spill.
 */
static USTOR_ALWAYS_INLINE ustor_status ustor_nvme_submit_one(struct ustor_nvme_queue *q,
							      struct ustor_nvme_ns *ns,
							      struct ustor_block_req *req,
							      uint32_t len, uint32_t end,
							      uint32_t flags)
{
	uint32_t mask = q->ring.page_mask; /* the controller's page (ustor_sqcq_init) */
	const struct ustor_hal *hal = q->ring.hal;
	ustor_bus_addr prp1;
	ustor_bus_addr prp2;
	struct ustor_nvme_sqe *e;
	uint16_t next;
	int idx;

	/* Translate before taking anything: the HAL call needs no lock and a
	 * failure has nothing to undo. Within one page, PRP1 alone, with the
	 * rules of ustor_nvme_io_prp_pair: it keeps the buffer's offset in its
	 * page (a buffer that cannot be reached says so first: the synchronous
	 * calls bounce it) and is dword aligned. */
	if (USTOR_LIKELY(end <= mask + 1u)) {
		if (USTOR_UNLIKELY(hal->virt_to_bus(hal->ctx, req->buf, len, &prp1) != USTOR_OK))
			return USTOR_ERR_NOT_DMA_ABLE;
		mask = q->ring.page_mask; /* read again: not kept across the call */
		if (USTOR_UNLIKELY(((uint32_t)prp1 & mask) != ((uint32_t)(uintptr_t)req->buf & mask)))
			return USTOR_ERR_NOT_DMA_ABLE;
		if (USTOR_UNLIKELY(((uintptr_t)req->buf & 3u) != 0)) /* PRP1 must be dword aligned */
			return USTOR_ERR_ALIGNMENT;
		prp2 = 0;
		if (flags & USTOR_SQCQ_F_SYNC) {
			hal = q->ring.hal;
			hal->dma_sync(hal->ctx, req->buf, len, USTOR_DMA_BIDIRECTIONAL);
		}
	} else {
		ustor_bus_addr next_page;
		ustor_status st = ustor_nvme_io_prp_pair(hal, flags, mask + 1u,
							 (const uint8_t *)req->buf, len, &prp1,
							 &next_page);
		if (st != USTOR_OK)
			return st;
		prp2 = next_page;
	}
	if (flags & USTOR_SQCQ_F_LOCK)
		ustor_nvme_lock(q->ring.hal, q);
	/* A free slot and a free SQ entry (compare and reset: the depth need
	 * not be a power of two). */
	next = (uint16_t)(q->ring.sq_tail + 1u);
	if (next == q->ring.depth)
		next = 0;
	if (USTOR_UNLIKELY(q->nfree == 0 || next == q->ring.sq_head)) {
		if (flags & USTOR_SQCQ_F_LOCK)
			ustor_nvme_unlock(q->ring.hal, q);
		return USTOR_ERR_BUSY;
	}
	/* The entry is written before the slot is taken and cdw0 last: apart,
	 * the stores compile to plain ones (GCC pairs adjacent ones into
	 * vector moves otherwise). Nothing is published before the commit. */
	e = (struct ustor_nvme_sqe *)(void *)(q->ring.sq +
					      ((size_t)q->ring.sq_tail << USTOR_NVME_SQE_SIZE_LOG2));
	e->nsid = ustor_cpu_to_le32(ns->info.nsid);
	e->cdw2 = 0;
	e->cdw3 = 0;
	e->mptr = 0;
	e->prp1 = ustor_cpu_to_le64(prp1);
	e->prp2 = ustor_cpu_to_le64(prp2);
	e->cdw10 = ustor_cpu_to_le32((uint32_t)req->lba);
	e->cdw11 = ustor_cpu_to_le32((uint32_t)(req->lba >> 32));
	e->cdw12 = ustor_cpu_to_le32((req->nblocks - 1u) |
				     ((req->flags & USTOR_REQ_F_FUA) ? USTOR_NVME_RW_FUA : 0u));
	e->cdw13 = 0;
	e->cdw14 = 0;
	e->cdw15 = 0;
	idx = ustor_nvme_slot_get(q);
	/* USTOR_BLOCK_READ (1) and WRITE (2) map to NVMe READ (2) and WRITE (1):
	 * op ^ 3. */
	e->cdw0 = ustor_cpu_to_le32(((uint32_t)ustor_nvme_cid(q, (unsigned)idx) << 16) ^ 3u ^ req->op);
	q->slots[idx].owner = req;
	q->slots[idx].kind = USTOR_NVME_SLOT_ONE; /* no stamp: see USTOR_NVME_SLOT_ONE_AGED */
	req->state = USTOR_REQ_STATE_ACTIVE;
	if (flags & USTOR_NVME_SUBMIT_STATS) {
		q->ring.flags |= USTOR_NVME_QF_STATS; /* its completion is counted too */
		ustor_stats_note_submit(&ns->bdev, req);
	}
	if (flags & USTOR_NVME_SUBMIT_MORE)
		ustor_nvme_defer_db(q); /* the doorbell waits for the batch's end */
	else
		ustor_sqcq_commit_flags(&q->ring, flags);
	if (flags & USTOR_NVME_QF_ADAPTIVE)
		ustor_nvme_adaptive_update(ns->ctrl, q);
	if (flags & USTOR_SQCQ_F_LOCK)
		ustor_nvme_unlock(q->ring.hal, q);
	return USTOR_OK;
}

/* ustor_nvme_submit_one for a queue whose flags are not 0 (locks, cache
 * maintenance, or requests pending, which keep their order: a new request
 * queues behind them), a request with USTOR_REQ_F_MORE, or a device with
 * statistics on. Out of line, so that the common copy pays for none of its
 * registers. */
static USTOR_NOINLINE ustor_status ustor_nvme_ns_submit_flags(struct ustor_block_device *bdev,
							      struct ustor_nvme_queue *q,
							      struct ustor_block_req *req,
							      uint32_t len, uint32_t end)
{
	if (q->waiting != NULL)
		return ustor_nvme_ns_submit_slow(bdev, req);
	return ustor_nvme_submit_one(q, ustor_nvme_bdev_ns(bdev), req, len, end,
				     q->ring.flags |
					     ((req->flags & USTOR_REQ_F_MORE) ? USTOR_NVME_SUBMIT_MORE : 0u) |
					     (bdev->sched.stats != NULL ? USTOR_NVME_SUBMIT_STATS : 0u));
}

_Static_assert(USTOR_BLOCK_READ == 1 && USTOR_BLOCK_WRITE == 2 && USTOR_NVME_CMD_READ == 2 &&
		       USTOR_NVME_CMD_WRITE == 1,
	       "ustor_nvme_submit_one maps op to opcode as op ^ 3");

/*
 * The namespaces' submit (ustor_block_submit validated op, buffer and
 * range). The common case is decided here: a read or write within one
 * command's limit whose data two PRP entries cover (it ends within the
 * page after the one it starts in), on a ready controller. Everything else
 * goes to ustor_nvme_ns_submit_slow. A queue whose flags are 0 has no
 * request waiting (USTOR_NVME_QF_PENDING), no lock and no cache
 * maintenance: it gets the plain copy of the fast path.
 */
static ustor_status ustor_nvme_ns_submit(struct ustor_block_device *bdev,
					 struct ustor_block_req *req)
{
	struct ustor_nvme_ns *ns = ustor_nvme_bdev_ns(bdev);
	struct ustor_nvme_ctrl *ctrl = ns->ctrl;
	struct ustor_nvme_queue *q = ustor_nvme_io_queue(ctrl, req->queue);
	uint32_t len = req->nblocks << ns->info.lbads; /* < 4 GiB: checked by the block layer */
	/* From the start of the buffer's page (the controller's page:
	 * ustor_sqcq_init). */
	uint32_t end = ((uint32_t)(uintptr_t)req->buf & q->ring.page_mask) + len;

	/* One command (nblocks, which also keeps end from wrapping) that two
	 * PRP entries cover (end within ns->fast_end). */
	if (USTOR_UNLIKELY(ctrl->state != USTOR_NVME_STATE_READY || req->op > USTOR_BLOCK_WRITE ||
			   req->nblocks > ns->max_chunk_blocks || end > ns->fast_end))
		return ustor_nvme_ns_submit_slow(bdev, req);
	req->drv = ns;
	/* USTOR_REQ_F_MORE (batching) and statistics take the general copy
	 * too, so the plain one has neither decision to make. (One with the
	 * watchdog's USTOR_SQCQ_F_WRAPPED set goes that way too: once per
	 * CQ wrap.) */
	if (USTOR_UNLIKELY(q->ring.flags != 0 || (req->flags & USTOR_REQ_F_MORE) != 0 ||
			   bdev->sched.stats != NULL))
		return ustor_nvme_ns_submit_flags(bdev, q, req, len, end);
	return ustor_nvme_submit_one(q, ns, req, len, end, 0);
}

static ustor_status ustor_nvme_ns_cancel(struct ustor_block_device *bdev,
					 struct ustor_block_req *req)
{
	struct ustor_nvme_ns *ns = (struct ustor_nvme_ns *)bdev->driver;
	struct ustor_nvme_ctrl *ctrl = ns->ctrl;
	int completed = 0;
	ustor_status st;
	uint16_t i;

	for (i = 0; i < ctrl->nio; i++) {
		struct ustor_nvme_queue *q = &ctrl->io[i];
		struct ustor_block_req **pp;
		uint32_t j;

		/* Per-CPU queues belong to other CPUs: only the request's own
		 * queue (the one it was submitted to) may be looked at. */
		if (ctrl->cfg.lockless_io_queues && q != ustor_nvme_io_queue(ctrl, req->queue))
			continue;
		ustor_nvme_lock(ctrl->hal, q);
		/* Finished already (reaped by a synchronous admin/passthrough
		 * wait) but not yet delivered: take it back, it did complete. */
		for (pp = &q->done_head; *pp != NULL; pp = &(*pp)->next_waiting) {
			if (*pp == req) {
				*pp = req->next_waiting;
				if (q->done_tail == req) {
					struct ustor_block_req *t = q->done_head;
					while (t != NULL && t->next_waiting != NULL)
						t = t->next_waiting;
					q->done_tail = t;
				}
				req->next_waiting = NULL;
				completed = 1;
				break;
			}
		}
		ustor_nvme_io_unlink(q, req);
		for (j = 0; j + 1u < q->ring.depth; j++) {
			/* A free slot's owner is stale (ustor_nvme_slot_put). */
			if (q->slots[j].kind == USTOR_NVME_SLOT_DELAYED && q->slots[j].owner == req) {
				/* Not at the device: free at once. */
				q->ndelayed--;
				ustor_nvme_slot_put(q, j);
				continue;
			}
			if (q->slots[j].kind != USTOR_NVME_SLOT_FREE && q->slots[j].owner == req) {
				q->slots[j].owner = NULL;
				q->slots[j].kind = USTOR_NVME_SLOT_ABANDONED;
			}
		}
		ustor_nvme_unlock(ctrl->hal, q);
	}
	if (completed) {
		req->state = USTOR_REQ_STATE_DONE;
		return req->status;
	}
	req->state = USTOR_REQ_STATE_IDLE;
	/* The device may still write into (or read from) the request's buffer
	 * later. If that is the shared bounce buffer, stop using it: a later
	 * bounced write would otherwise be copied to this request's LBAs. */
	if (ctrl->bounce != NULL && (const uint8_t *)req->buf >= ctrl->bounce &&
	    (const uint8_t *)req->buf < ctrl->bounce + ctrl->cfg.bounce_bytes) {
		uint32_t k;

		for (k = 0; k < ctrl->nns; k++) {
			ctrl->ns[k].bdev.bounce = NULL;
			ctrl->ns[k].bdev.bounce_len = 0;
		}
		USTOR_ERR(ctrl->hal, "nvme%u: bounce buffer retired after a timeout (the device may still use it)",
			  (unsigned)ctrl->cfg.index);
	}
	USTOR_ERR(ctrl->hal, "%s: request lba %llu x %u (op %u) timed out after %u ms",
		  bdev->name, (unsigned long long)req->lba, req->nblocks, (unsigned)req->op,
		  bdev->timeout_ms);
	ustor_nvme_log_regs(ctrl, "I/O timeout");
	st = ustor_nvme_ctrl_check(ctrl);
	st = (st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE) ? st : USTOR_ERR_TIMEOUT;
	/* The request ends here (no callback): statistics count it with the
	 * reason, under the lock of the queue it was on. */
	if (bdev->sched.stats != NULL && ctrl->nio != 0) {
		struct ustor_nvme_queue *q = ustor_nvme_io_queue(ctrl, req->queue);

		if (req->status == USTOR_OK)
			req->status = st;
		ustor_nvme_lock(ctrl->hal, q);
		ustor_stats_on_complete(bdev, req);
		ustor_nvme_unlock(ctrl->hal, q);
	}
	/* A reset stops the device using the buffer: the next poll does it. */
	if (ctrl->recover_on && ctrl->cfg.cmd_timeout_ms != 0 && ctrl->reset_pending == USTOR_OK)
		ctrl->reset_pending = USTOR_ERR_TIMEOUT;
	return st;
}

/* Collect `req` once (ACTIVE -> IDLE marks it as taken) with `status`;
 * `finished`: it was finished already (counted in statistics). */
static void ustor_nvme_io_collect(struct ustor_nvme_done *d, struct ustor_block_req *req,
				  ustor_status status, int finished)
{
	if (req == NULL || req->state != USTOR_REQ_STATE_ACTIVE)
		return;
	req->state = USTOR_REQ_STATE_IDLE;
	if (req->status == USTOR_OK)
		req->status = status;
	if (finished)
		ustor_nvme_done_add(d, req);
	else
		ustor_nvme_finish(d, req);
}

void ustor_nvme_io_fail_all(struct ustor_nvme_ctrl *ctrl, ustor_status status)
{
	struct ustor_nvme_done d = { NULL, NULL };
	struct ustor_block_req *req;
	uint16_t i;

	for (i = 0; i < ctrl->nio; i++) {
		struct ustor_nvme_queue *q = &ctrl->io[i];
		uint32_t j;

		if (q->slots == NULL)
			continue;
		ustor_nvme_lock(ctrl->hal, q);
		/* The linked lists first: collecting rewrites next_waiting, so a
		 * partly issued request (in a slot AND on the waiting list) must
		 * be taken off its list before the slots are walked. */
		/* Waiting: not (completely) issued. */
		req = q->waiting;
		q->waiting = NULL;
		q->waiting_tail = NULL;
		while (req != NULL) {
			struct ustor_block_req *next = req->next_waiting;
			ustor_nvme_io_collect(&d, req, status, 0);
			req = next;
		}
		/* Completed but not yet delivered: they keep their own status. */
		req = q->done_head;
		q->done_head = NULL;
		q->done_tail = NULL;
		while (req != NULL) {
			struct ustor_block_req *next = req->next_waiting;
			ustor_nvme_io_collect(&d, req, USTOR_OK, 1);
			req = next;
		}
		for (j = 0; j + 1u < q->ring.depth; j++) {
			struct ustor_nvme_slot *s = &q->slots[j];

			if (s->kind == USTOR_NVME_SLOT_ONE || s->kind == USTOR_NVME_SLOT_ONE_AGED ||
			    s->kind == USTOR_NVME_SLOT_BLOCK || s->kind == USTOR_NVME_SLOT_DELAYED)
				ustor_nvme_io_collect(&d, (struct ustor_block_req *)s->owner, status, 0);
			s->owner = NULL;
		}
		ustor_nvme_unlock(ctrl->hal, q);
	}
	/* Callbacks after every lock is dropped, as in poll. */
	req = d.head;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_block_done_fn fn = req->done;

		req->next_waiting = NULL;
		req->state = USTOR_REQ_STATE_DONE;
		if (fn != NULL)
			fn(req);
		req = next;
	}
}

/* The namespaces' kick: ring the SQ doorbell of the queue `queue` names if
 * USTOR_REQ_F_MORE left entries unannounced. */
static void ustor_nvme_ns_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	struct ustor_nvme_ctrl *ctrl = ustor_nvme_bdev_ns(bdev)->ctrl;
	struct ustor_nvme_queue *q;

	if (ctrl->state != USTOR_NVME_STATE_READY)
		return;
	q = ustor_nvme_io_queue(ctrl, queue);
	ustor_nvme_lock(ctrl->hal, q);
	ustor_sqcq_ring_sq(&q->ring);
	ustor_nvme_unlock(ctrl->hal, q);
}

const struct ustor_block_ops ustor_nvme_ns_ops = {
	.submit = ustor_nvme_ns_submit,
	.poll = ustor_nvme_ns_poll,
	.cancel = ustor_nvme_ns_cancel,
	.kick = ustor_nvme_ns_kick,
};
