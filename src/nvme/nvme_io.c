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

/* PRPs for a transfer of at most two pages, inline (the common case);
 * longer ones go to the list builder. */
static inline ustor_status ustor_nvme_io_prp(const struct ustor_nvme_ctrl *ctrl,
					     const struct ustor_nvme_slot *s, const uint8_t *buf,
					     uint32_t len, struct ustor_nvme_sqe *sqe)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t mask = ctrl->page_size - 1u;
	uint32_t first = ctrl->page_size - (uint32_t)((uintptr_t)buf & mask);
	ustor_bus_addr bus;

	if (len > first + ctrl->page_size || hal->dma_sync != NULL)
		return ustor_nvme_prp_build(ctrl, s, buf, len, sqe);
	if (first > len)
		first = len;
	if (hal->virt_to_bus(hal->ctx, buf, first, &bus) != USTOR_OK ||
	    ((uint32_t)bus & mask) != ((uint32_t)(uintptr_t)buf & mask))
		return USTOR_ERR_NOT_DMA_ABLE;
	if ((bus & 3u) != 0)
		return USTOR_ERR_ALIGNMENT;
	sqe->prp1 = bus;
	sqe->prp2 = 0;
	if (len > first) {
		if (hal->virt_to_bus(hal->ctx, buf + first, len - first, &bus) != USTOR_OK ||
		    (bus & mask) != 0)
			return USTOR_ERR_NOT_DMA_ABLE;
		sqe->prp2 = bus;
	}
	return USTOR_OK;
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
		return ustor_nvme_io_prp(ctrl, s, (const uint8_t *)req->buf + s->buf_off,
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
		s->retries_left = (uint8_t)ctrl->cfg.io_retries;
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

/* Queue a finished request; its callback runs after the queue lock is
 * dropped (ustor_nvme_io_run_done), so the callback may submit again. */
static void ustor_nvme_io_finish(struct ustor_nvme_queue *q, struct ustor_block_req *req)
{
	req->next_waiting = NULL;
	if (q->done_tail != NULL)
		q->done_tail->next_waiting = req;
	else
		q->done_head = req;
	q->done_tail = req;
}

static void ustor_nvme_io_run_done(struct ustor_block_req *req)
{
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;

		req->next_waiting = NULL;
		req->state = USTOR_REQ_STATE_DONE;
		if (req->done != NULL)
			req->done(req);
		req = next;
	}
}

void ustor_nvme_io_issue_waiting(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
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
				ustor_nvme_io_finish(q, req);
		}
	}
	ustor_sqcq_ring_sq(&q->ring);
}

int ustor_nvme_io_complete(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
			   unsigned idx, const struct ustor_nvme_cqe *cqe)
{
	struct ustor_nvme_slot *s = &q->slots[idx];
	struct ustor_block_req *req = (struct ustor_block_req *)s->owner;

	if (cqe->status != 0) {
		if (!USTOR_NVME_STATUS_DNR(cqe->status) && s->retries_left > 0) {
			struct ustor_nvme_sqe sqe;
			struct ustor_nvme_ns *ns = (struct ustor_nvme_ns *)req->drv;

			/* Transient (DNR clear): send the same chunk again under
			 * a fresh command id. The completed entry freed an SQ slot. */
			s->retries_left--;
			s->gen = (uint8_t)((s->gen + 1u) & 0x3fu);
			if (ustor_nvme_io_build(ctrl, q, ns, req, idx, &sqe) == USTOR_OK &&
			    ustor_sqcq_push(&q->ring, &sqe) == USTOR_OK) {
				ustor_sqcq_ring_sq(&q->ring);
				return 0;
			}
		}
		if (req->status == USTOR_OK) {
			req->status = ustor_nvme_status_to_ustor(cqe->status);
			req->nvme_status = cqe->status;
			req->error_lba = s->lba;
		}
		if (req->left != 0) { /* stop issuing the rest */
			req->left = 0;
			ustor_nvme_io_unlink(q, req);
		}
	}
	if (q->dsm_owner == (void *)s)
		q->dsm_owner = NULL;
	ustor_nvme_slot_put(q, idx);
	if (--req->in_flight != 0 || req->left != 0)
		return 0;
	ustor_nvme_io_finish(q, req);
	return 1;
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
		if (hal->virt_to_bus(hal->ctx, buf, n, &bus) != USTOR_OK)
			return USTOR_ERR_NOT_DMA_ABLE;
		buf += n;
		len -= n;
	}
	return USTOR_OK;
}

/* The common case, a read or write that fits one command: built in place
 * in the SQ, no chunk loop. */
static ustor_status ustor_nvme_io_rw_fast(const struct ustor_nvme_ctrl *ctrl,
					  struct ustor_nvme_queue *q, const struct ustor_nvme_ns *ns,
					  struct ustor_block_req *req, uint8_t opcode)
{
	struct ustor_nvme_sqe prp;
	struct ustor_nvme_sqe *e;
	struct ustor_nvme_slot *s;
	ustor_status st;
	int idx;

	idx = ustor_nvme_slot_get(q);
	if (idx < 0)
		return USTOR_ERR_BUSY;
	e = ustor_sqcq_next(&q->ring);
	s = &q->slots[idx];
	s->lba = req->lba;
	s->nblocks = req->nblocks;
	s->buf_off = 0;
	st = e == NULL ? USTOR_ERR_BUSY
		       : ustor_nvme_io_prp(ctrl, s, (const uint8_t *)req->buf,
					   req->nblocks << ns->info.lbads, &prp);
	if (st != USTOR_OK) {
		ustor_nvme_slot_put(q, (unsigned)idx);
		return st;
	}
	s->kind = USTOR_NVME_SLOT_BLOCK;
	s->owner = req;
	s->opcode = opcode;
	s->retries_left = (uint8_t)ctrl->cfg.io_retries;
	e->cdw0 = ustor_cpu_to_le32((uint32_t)opcode | ((uint32_t)ustor_nvme_cid(q, (unsigned)idx) << 16));
	e->nsid = ustor_cpu_to_le32(ns->info.nsid);
	e->cdw2 = 0;
	e->cdw3 = 0;
	e->mptr = 0;
	e->prp1 = ustor_cpu_to_le64(prp.prp1);
	e->prp2 = ustor_cpu_to_le64(prp.prp2);
	e->cdw10 = ustor_cpu_to_le32((uint32_t)req->lba);
	e->cdw11 = ustor_cpu_to_le32((uint32_t)(req->lba >> 32));
	e->cdw12 = ustor_cpu_to_le32((req->nblocks - 1u) |
				     ((req->flags & USTOR_REQ_F_FUA) ? USTOR_NVME_RW_FUA : 0u));
	e->cdw13 = 0;
	e->cdw14 = 0;
	e->cdw15 = 0;
	ustor_sqcq_advance(&q->ring);
	req->in_flight = 1;
	req->left = 0;
	return USTOR_OK;
}

static ustor_status ustor_nvme_ns_submit(struct ustor_block_device *bdev,
					 struct ustor_block_req *req)
{
	struct ustor_nvme_ns *ns = (struct ustor_nvme_ns *)bdev->driver;
	struct ustor_nvme_ctrl *ctrl = ns->ctrl;
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_queue *q;
	ustor_status st;

	if (ctrl->state != USTOR_NVME_STATE_READY)
		return ctrl->state == USTOR_NVME_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN
								 : USTOR_ERR_NOT_READY;
	if (req->nblocks > ns->max_chunk_blocks &&
	    (req->op == USTOR_BLOCK_READ || req->op == USTOR_BLOCK_WRITE)) {
		st = ustor_nvme_io_check_dma(ctrl, (const uint8_t *)req->buf,
					     req->nblocks << ns->info.lbads);
		if (st != USTOR_OK)
			return st;
	}
	q = &ctrl->io[req->queue < ctrl->nio ? req->queue : 0];
	req->drv = ns;
	req->next_waiting = NULL;
	if (req->op <= USTOR_BLOCK_WRITE && req->nblocks <= ns->max_chunk_blocks &&
	    q->waiting == NULL) {
		ustor_nvme_lock(hal, q);
		st = ustor_nvme_io_rw_fast(ctrl, q, ns, req,
					   req->op == USTOR_BLOCK_READ ? USTOR_NVME_CMD_READ
								       : USTOR_NVME_CMD_WRITE);
		if (st == USTOR_OK) {
			req->state = USTOR_REQ_STATE_ACTIVE;
			ustor_sqcq_ring_sq(&q->ring);
		}
		ustor_nvme_unlock(hal, q);
		return st;
	}
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
	if (req->left != 0) {
		if (q->waiting_tail != NULL)
			q->waiting_tail->next_waiting = req;
		else
			q->waiting = req;
		q->waiting_tail = req;
	}
	ustor_sqcq_ring_sq(&q->ring);
	ustor_nvme_unlock(hal, q);
	return USTOR_OK;
}

static unsigned ustor_nvme_ns_poll(struct ustor_block_device *bdev, uint16_t queue)
{
	struct ustor_nvme_ns *ns = (struct ustor_nvme_ns *)bdev->driver;
	struct ustor_nvme_ctrl *ctrl = ns->ctrl;
	struct ustor_nvme_queue *q;
	struct ustor_block_req *done;
	unsigned n;

	if (ctrl->state != USTOR_NVME_STATE_READY)
		return 0;
	q = &ctrl->io[queue < ctrl->nio ? queue : 0];
	ustor_nvme_lock(ctrl->hal, q);
	n = ustor_nvme_queue_process(ctrl, q);
	done = q->done_head;
	q->done_head = NULL;
	q->done_tail = NULL;
	ustor_nvme_unlock(ctrl->hal, q);
	ustor_nvme_io_run_done(done);
	return n;
}

static ustor_status ustor_nvme_ns_cancel(struct ustor_block_device *bdev,
					 struct ustor_block_req *req)
{
	struct ustor_nvme_ns *ns = (struct ustor_nvme_ns *)bdev->driver;
	struct ustor_nvme_ctrl *ctrl = ns->ctrl;
	ustor_status st;
	uint16_t i;

	for (i = 0; i < ctrl->nio; i++) {
		struct ustor_nvme_queue *q = &ctrl->io[i];
		uint32_t j;

		ustor_nvme_lock(ctrl->hal, q);
		ustor_nvme_io_unlink(q, req);
		for (j = 0; j + 1u < q->ring.depth; j++) {
			if (q->slots[j].owner == req) {
				q->slots[j].owner = NULL;
				q->slots[j].kind = USTOR_NVME_SLOT_ABANDONED;
			}
		}
		ustor_nvme_unlock(ctrl->hal, q);
	}
	req->state = USTOR_REQ_STATE_IDLE;
	USTOR_ERR(ctrl->hal, "%s: request lba %llu x %u (op %u) timed out after %u ms",
		  bdev->name, (unsigned long long)req->lba, req->nblocks, (unsigned)req->op,
		  bdev->timeout_ms);
	ustor_nvme_log_regs(ctrl, "I/O timeout");
	st = ustor_nvme_ctrl_check(ctrl);
	return (st == USTOR_ERR_FATAL || st == USTOR_ERR_DEVICE_GONE) ? st : USTOR_ERR_TIMEOUT;
}

const struct ustor_block_ops ustor_nvme_ns_ops = {
	.submit = ustor_nvme_ns_submit,
	.poll = ustor_nvme_ns_poll,
	.cancel = ustor_nvme_ns_cancel,
};
