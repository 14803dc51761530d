/* SPDX-License-Identifier: MIT */
/*
 * NVMe recovery: per-command deadlines checked on the poll path, Abort
 * (Base spec 5.1), controller reset and re-initialisation (3.7.2), fatal
 * status and surprise removal, delayed retries (CRD, Namespace Not Ready).
 *
 * Deadlines cost no MMIO and no clock read per I/O: a command records the
 * queue's epoch when it is issued (a fast-path ONE command is stamped by
 * the first epoch tick that finds it instead, with the epoch before: the
 * same value, and no store per I/O); the epoch advances every
 * cmd_timeout_ms / 4 while commands are in flight (checked on empty polls
 * and after each wrap of the CQ), and a command older than 4 epochs is overdue: in
 * flight for at least cmd_timeout_ms and at most 1.25 times that plus the
 * gap between polls. A deadline is never reached early.
 */
#include "nvme_internal.h"

#define USTOR_NVME_WD_EPOCHS 4u       /* epochs per command timeout */
#define USTOR_NVME_WD_ABORT_GRACE 2u  /* epochs an Abort gets before a reset */
#define USTOR_NVME_WD_MAX_ABORTS 4u   /* Aborts per episode (ACL is 0-based, >= 4 advised) */

uint32_t ustor_nvme_retry_delay_ms(const struct ustor_nvme_ctrl *ctrl, uint16_t status)
{
	uint32_t crd = USTOR_NVME_STATUS_CRD(status);
	uint32_t ms = 0;

	/* CRD selects CRDT1-3 from Identify Controller, in 100 ms units. */
	if (crd != 0)
		ms = (uint32_t)ctrl->info.crdt[crd - 1u] * 100u;
	/* Namespace Not Ready: the device needs time; retrying at once only
	 * burns the retries. */
	if (ms == 0 && USTOR_NVME_STATUS_SCT(status) == USTOR_NVME_SCT_GENERIC &&
	    USTOR_NVME_STATUS_SC(status) == 0x82u)
		ms = ctrl->cfg.not_ready_delay_ms;
	if (ms > ctrl->cfg.max_retry_delay_ms)
		ms = ctrl->cfg.max_retry_delay_ms;
	return ms;
}

/* Send the delayed retries that are due (queue lock held). A retry that
 * cannot be built ends its request with the error it had. */
static void ustor_nvme_wd_delayed(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	uint16_t now = ustor_nvme_ms_clock(ctrl->hal);
	struct ustor_nvme_done done = { q->done_head, q->done_tail };
	uint32_t j;

	for (j = 0; j + 1u < q->ring.depth && q->ndelayed != 0; j++) {
		struct ustor_nvme_slot *s = &q->slots[j];

		if (s->kind != USTOR_NVME_SLOT_DELAYED || (int16_t)(uint16_t)(now - s->stamp) < 0)
			continue;
		q->ndelayed--;
		if (ustor_nvme_io_resend(ctrl, q, j) != 0) {
			/* Internal error, DNR: recorded, not retried. */
			(void)ustor_nvme_io_complete(ctrl, q, j,
						     (uint16_t)(USTOR_NVME_STATUS(0, 0x06) | 0x4000u),
						     &done);
		}
	}
	q->done_head = done.head;
	q->done_tail = done.tail;
	if (done.head != NULL)
		q->ring.flags |= USTOR_NVME_QF_PENDING;
}

/* Abort one command (admin 08h: SQID in CDW10 15:0, CID in 31:16),
 * waiting at most cmd_timeout_ms for the answer. USTOR_OK when the Abort
 * itself completed (whatever it decided). */
static ustor_status ustor_nvme_abort(struct ustor_nvme_ctrl *ctrl, uint16_t sqid, uint16_t cid)
{
	struct ustor_nvme_sqe sqe;
	struct ustor_nvme_cpl cpl;
	ustor_status st;

	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_ABORT;
	sqe.cdw10 = (uint32_t)sqid | ((uint32_t)cid << 16);
	cpl.dw0 = 1;
	ctrl->aborts++;
	st = ustor_nvme_exec(ctrl, &ctrl->admin, &sqe, NULL, 0, ctrl->cfg.cmd_timeout_ms, &cpl);
	/* dw0 bit 0 clear: aborted (the command completes with Command
	 * Abort Requested, retried like any transient error). */
	USTOR_WARN(ctrl->hal, "nvme%u: q%u: command %04x overdue: abort %s",
		   (unsigned)ctrl->cfg.index, (unsigned)sqid, (unsigned)cid,
		   st != USTOR_OK ? "failed" : (cpl.dw0 & 1u) ? "refused" : "accepted");
	return st;
}

/* A function that is not there any more: VS (read-only, never 0 on an
 * NVMe controller) reads 0 or all-ones, as QEMU answers after a hot
 * removal and PCIe after a surprise one. */
static int ustor_nvme_absent(const struct ustor_nvme_ctrl *ctrl)
{
	uint32_t vs = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_VS);

	return vs == 0 || vs == 0xffffffffu;
}

void ustor_nvme_watchdog(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint16_t overdue[USTOR_NVME_WD_MAX_ABORTS];
	uint32_t noverdue = 0;
	uint32_t inflight = 0;
	uint64_t now;
	uint32_t j;
	int progress;

	if (ctrl->state != USTOR_NVME_STATE_READY || !ctrl->recover_on)
		return;
	if (ctrl->reset_pending != USTOR_OK && ctrl->cfg.cmd_timeout_ms != 0) {
		(void)ustor_nvme_recover(ctrl, ctrl->reset_pending);
		return;
	}
	if (q->ndelayed != 0) {
		ustor_nvme_lock(hal, q);
		ustor_nvme_wd_delayed(ctrl, q);
		ustor_nvme_unlock(hal, q);
	}
	if (ctrl->cfg.cmd_timeout_ms == 0 || q->nfree + 1u == q->ring.depth)
		return;
	now = hal->now_ns(hal->ctx);
	if (now < q->wd_next_ns)
		return;

	ustor_nvme_lock(hal, q);
	q->wd_next_ns = now + (uint64_t)ctrl->cfg.cmd_timeout_ms * (1000000u / USTOR_NVME_WD_EPOCHS);
	q->wd_epoch = (uint16_t)(q->wd_epoch + 1u);
	progress = q->ring.cq_head != q->wd_cq_head;
	q->wd_cq_head = q->ring.cq_head;
	for (j = 0; j + 1u < q->ring.depth; j++) {
		struct ustor_nvme_slot *s = &q->slots[j];

		if (s->kind == USTOR_NVME_SLOT_FREE || s->kind == USTOR_NVME_SLOT_DELAYED)
			continue;
		inflight++;
		/* A ONE command was not here at the last tick (it would be
		 * ONE_AGED): issued during the epoch that just ended. */
		if (s->kind == USTOR_NVME_SLOT_ONE) {
			s->kind = USTOR_NVME_SLOT_ONE_AGED;
			s->stamp = (uint16_t)(q->wd_epoch - 1u);
		}
		if ((uint16_t)(q->wd_epoch - s->stamp) > USTOR_NVME_WD_EPOCHS &&
		    noverdue < USTOR_NVME_WD_MAX_ABORTS)
			overdue[noverdue++] = ustor_nvme_cid(q, j);
	}
	ustor_nvme_unlock(hal, q);

	/* Nothing completed for a whole epoch: one CSTS read tells a dead or
	 * removed controller from a slow one. */
	if (inflight != 0 && !progress) {
		uint32_t csts = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS);

		if (csts == 0xffffffffu || (!(csts & USTOR_NVME_CSTS_RDY) && ustor_nvme_absent(ctrl))) {
			ustor_nvme_log_regs(ctrl, "registers read all-ones or VS reads 0: device gone");
			ustor_nvme_ctrl_fail(ctrl, USTOR_ERR_DEVICE_GONE);
			return;
		}
		if (csts & USTOR_NVME_CSTS_CFS) {
			ustor_nvme_log_regs(ctrl, "controller fatal status (CSTS.CFS)");
			(void)ustor_nvme_recover(ctrl, USTOR_ERR_FATAL);
			return;
		}
		if (!(csts & USTOR_NVME_CSTS_RDY)) {
			/* Enabled by us, not ready now: reset behind our back. */
			ustor_nvme_log_regs(ctrl, "controller no longer ready (CSTS.RDY=0)");
			(void)ustor_nvme_recover(ctrl, USTOR_ERR_FATAL);
			return;
		}
	}
	if (noverdue == 0) {
		q->wd_aborting = 0;
		return;
	}
	if (!q->wd_aborting) {
		q->wd_aborting = 1;
		q->wd_abort_epoch = q->wd_epoch;
		for (j = 0; j < noverdue && ctrl->state == USTOR_NVME_STATE_READY; j++) {
			if (ustor_nvme_abort(ctrl, q->ring.qid, overdue[j]) != USTOR_OK) {
				/* The admin queue does not answer either. */
				(void)ustor_nvme_recover(ctrl, USTOR_ERR_TIMEOUT);
				return;
			}
		}
		return;
	}
	if ((uint16_t)(q->wd_epoch - q->wd_abort_epoch) >= USTOR_NVME_WD_ABORT_GRACE) {
		USTOR_ERR(hal, "nvme%u: q%u: %u command(s) still overdue after abort",
			  (unsigned)ctrl->cfg.index, (unsigned)q->ring.qid, noverdue);
		(void)ustor_nvme_recover(ctrl, USTOR_ERR_TIMEOUT);
	}
}

/* Take `req` once into the list of requests to re-submit (IDLE marks it as
 * taken until ustor_nvme_rec_requeue makes it ACTIVE again). */
static void ustor_nvme_rec_take(struct ustor_nvme_done *d, struct ustor_block_req *req)
{
	if (req == NULL || req->state != USTOR_REQ_STATE_ACTIVE)
		return;
	req->state = USTOR_REQ_STATE_IDLE;
	ustor_nvme_done_add(d, req);
}

/* The controller is disabled: empty queue q (its lock held). Block
 * requests go back to the start (on q->waiting, or finished on q's done
 * list if one of their commands had already failed); raw commands end. */
static void ustor_nvme_rec_queue(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_done redo = { NULL, NULL };
	struct ustor_nvme_done done = { q->done_head, q->done_tail };
	uint32_t nslots = (uint32_t)q->ring.depth - 1u;
	struct ustor_block_req *req;
	uint32_t j;

	/* Lists first: taking rewrites next_waiting. */
	req = q->waiting;
	q->waiting = NULL;
	q->waiting_tail = NULL;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_nvme_rec_take(&redo, req);
		req = next;
	}
	for (j = 0; j < nslots; j++) {
		struct ustor_nvme_slot *s = &q->slots[j];

		switch (s->kind) {
		case USTOR_NVME_SLOT_ONE:
		case USTOR_NVME_SLOT_ONE_AGED:
		case USTOR_NVME_SLOT_BLOCK:
		case USTOR_NVME_SLOT_DELAYED:
			ustor_nvme_rec_take(&redo, (struct ustor_block_req *)s->owner);
			break;
		case USTOR_NVME_SLOT_RAW: {
			struct ustor_nvme_raw *raw = (struct ustor_nvme_raw *)s->owner;
			/* Path status "Command Aborted By Host", DNR. */
			raw->cpl.status = (uint16_t)(USTOR_NVME_STATUS(USTOR_NVME_SCT_PATH, 0x71) | 0x4000u);
			raw->err = USTOR_ERR_DEVICE;
			raw->done = 1;
			break;
		}
		default:
			break;
		}
		s->kind = USTOR_NVME_SLOT_FREE;
		s->owner = NULL;
		/* The generation is kept: nothing from before matches again. */
		s->gen = (uint16_t)(s->gen + USTOR_NVME_GEN_STEP);
		q->free_ids[j] = (uint16_t)(nslots - 1u - j);
	}
	q->nfree = (uint16_t)nslots;
	q->dsm_owner = NULL;
	q->ndelayed = 0;
	q->wd_aborting = 0;
	q->wd_cq_head = 0;
	/* Doorbell Buffer Config died with the reset: MMIO doorbells until
	 * ustor_nvme_dbbuf_setup attaches the rings again. */
	ustor_sqcq_shadow_detach(&q->ring);
	ustor_sqcq_reset(&q->ring);
	if (hal->dma_sync != NULL)
		hal->dma_sync(hal->ctx, (const void *)q->ring.cq, q->ring.cq_bytes, USTOR_DMA_TO_DEVICE);

	req = redo.head;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;

		req->state = USTOR_REQ_STATE_ACTIVE;
		req->in_flight = 0;
		if (req->status != USTOR_OK) {
			/* A command of it failed already: that is its answer
			 * (finished: statistics count it, as every finish). */
			req->left = 0;
			ustor_nvme_finish(&done, req);
		} else {
			/* Idempotent: the whole request again from its first
			 * block (a partly done write is simply written again). */
			req->next_lba = req->lba;
			req->left = req->op == USTOR_BLOCK_FLUSH ? 1u : req->nblocks;
			req->next_waiting = NULL;
			if (q->waiting_tail != NULL)
				q->waiting_tail->next_waiting = req;
			else
				q->waiting = req;
			q->waiting_tail = req;
			ctrl->requeued++;
		}
		req = next;
	}
	q->done_head = done.head;
	q->done_tail = done.tail;
	if (q->waiting != NULL || q->done_head != NULL)
		q->ring.flags |= USTOR_NVME_QF_PENDING;
}

/* Re-identify every exposed namespace; one that changed is refused. */
static ustor_status ustor_nvme_rec_namespaces(struct ustor_nvme_ctrl *ctrl)
{
	uint32_t k;

	for (k = 0; k < ctrl->nns; k++) {
		struct ustor_nvme_ns *ns = &ctrl->ns[k];
		struct ustor_block_device *b = &ns->bdev;
		struct ustor_nvme_ns_info info;
		ustor_status st = ustor_nvme_identify_ns(ctrl, ns->info.nsid, &info);
		uint32_t chunk;

		if (st != USTOR_OK && st != USTOR_ERR_NO_NAMESPACE && st != USTOR_ERR_BAD_DEVICE)
			return st;
		if (st != USTOR_OK || info.nsze != ns->info.nsze || info.lbads != ns->info.lbads ||
		    info.ms != ns->info.ms) {
			if (!(b->flags & USTOR_BDEV_F_UNUSABLE))
				USTOR_ERR(ctrl->hal, "%s: namespace %s across the reset (was %llu x %u bytes): I/O refused",
					  b->name, st != USTOR_OK ? "gone or invalid" : "changed size or format",
					  (unsigned long long)ns->info.nsze, ns->info.block_size);
			b->flags |= USTOR_BDEV_F_UNUSABLE;
			b->unusable_reason = USTOR_ERR_NO_NAMESPACE;
			continue;
		}
		ns->info.write_protected = info.write_protected;
		if (info.write_protected)
			b->flags |= USTOR_BDEV_F_READ_ONLY;
		else
			b->flags &= ~(uint32_t)USTOR_BDEV_F_READ_ONLY;
		chunk = ctrl->max_transfer >> info.lbads;
		if (chunk > 0x10000u)
			chunk = 0x10000u;
		if (chunk < ns->max_chunk_blocks) {
			ns->max_chunk_blocks = chunk;
			b->max_blocks = chunk;
		}
		/* The controller was stopped: a bounce buffer retired after a
		 * timeout is safe again. */
		if (ctrl->bounce != NULL && b->bounce == NULL && ctrl->cfg.bounce_bytes >= info.block_size) {
			b->bounce = ctrl->bounce;
			b->bounce_len = ctrl->cfg.bounce_bytes & ~(info.block_size - 1u);
		}
	}
	return USTOR_OK;
}

/* Enable again and rebuild what the controller forgot. */
static ustor_status ustor_nvme_rec_reinit(struct ustor_nvme_ctrl *ctrl)
{
	struct ustor_nvme_ctrl_info info;
	uint32_t old_max = ctrl->max_transfer;
	uint16_t nsq = 0;
	uint16_t ncq = 0;
	ustor_status st;
	uint16_t i;

	st = ustor_nvme_enable(ctrl);
	if (st != USTOR_OK)
		return st;
	st = ustor_nvme_identify_ctrl(ctrl, &info);
	if (st != USTOR_OK)
		return st;
	ctrl->info = info;
	/* MDTS may have changed: never above what the PRP areas were sized for. */
	ustor_nvme_set_max_transfer(ctrl);
	if (ctrl->max_transfer > old_max)
		ctrl->max_transfer = old_max;
	/* Shadow doorbells again (the setting does not survive a reset). */
	st = ustor_nvme_dbbuf_setup(ctrl);
	if (st != USTOR_OK)
		return st;
	/* Same count and depth as before (the memory is still ours). */
	st = ustor_nvme_set_num_queues(ctrl, ctrl->nio, ctrl->nio, &nsq, &ncq);
	if (st != USTOR_OK)
		return st;
	if (nsq < ctrl->nio || ncq < ctrl->nio) {
		USTOR_ERR(ctrl->hal, "nvme%u: only %u I/O queues granted after the reset (had %u)",
			  (unsigned)ctrl->cfg.index, (unsigned)(nsq < ncq ? nsq : ncq),
			  (unsigned)ctrl->nio);
		return USTOR_ERR_BAD_DEVICE;
	}
	for (i = 0; i < ctrl->nio; i++) {
		st = ustor_nvme_create_io_cq(ctrl, &ctrl->io[i]);
		if (st == USTOR_OK)
			st = ustor_nvme_create_io_sq(ctrl, &ctrl->io[i]);
		if (st != USTOR_OK)
			return st;
		ustor_nvme_dbbuf_attach(ctrl, &ctrl->io[i]);
	}
	ustor_nvme_irq_coalesce_setup(ctrl); /* features were reset too */
	return ustor_nvme_rec_namespaces(ctrl);
}

void ustor_nvme_ctrl_fail(struct ustor_nvme_ctrl *ctrl, ustor_status st)
{
	uint16_t i;

	ctrl->failed_status = st;
	ctrl->state = USTOR_NVME_STATE_FAILED; /* no new I/O from here on */
	ctrl->reset_pending = USTOR_OK;
	/* Stop it if it still answers, so its memory can be freed later. */
	ctrl->stopped = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS) != 0xffffffffu &&
			ustor_nvme_disable(ctrl, 0) == USTOR_OK;
	USTOR_ERR(ctrl->hal, "nvme%u: controller failed (%s): every request ends with that error",
		  (unsigned)ctrl->cfg.index, ustor_status_name(st));
	/* Raw commands waiting in other contexts end too. */
	for (i = 0; i <= ctrl->nio; i++) {
		struct ustor_nvme_queue *q = i == 0 ? &ctrl->admin : &ctrl->io[i - 1u];
		uint32_t j;

		if (q->slots == NULL)
			continue;
		ustor_nvme_lock(ctrl->hal, q);
		for (j = 0; j + 1u < q->ring.depth; j++) {
			if (q->slots[j].kind == USTOR_NVME_SLOT_RAW) {
				struct ustor_nvme_raw *raw = (struct ustor_nvme_raw *)q->slots[j].owner;
				raw->err = st;
				raw->done = 1;
				q->slots[j].kind = USTOR_NVME_SLOT_ABANDONED;
				q->slots[j].owner = NULL;
			}
		}
		ustor_nvme_unlock(ctrl->hal, q);
	}
	ustor_nvme_io_fail_all(ctrl, st);
}

ustor_status ustor_nvme_recover(struct ustor_nvme_ctrl *ctrl, ustor_status cause)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint64_t now = hal->now_ns(hal->ctx);
	ustor_status st;
	uint16_t i;

	if (ctrl->state != USTOR_NVME_STATE_READY || !ctrl->recover_on)
		return ctrl->state == USTOR_NVME_STATE_FAILED ? ctrl->failed_status : USTOR_ERR_NOT_READY;
	ctrl->reset_pending = USTOR_OK;
	if (now - ctrl->last_reset_ns > (uint64_t)ctrl->cfg.reset_window_ms * 1000000u)
		ctrl->resets_recent = 0;
	if (ctrl->resets_recent >= ctrl->cfg.max_resets) {
		USTOR_ERR(hal, "nvme%u: %s and %u reset(s) already: giving up",
			  (unsigned)ctrl->cfg.index, ustor_status_name(cause), ctrl->resets_recent);
		st = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS) == 0xffffffffu ? USTOR_ERR_DEVICE_GONE
									      : USTOR_ERR_FATAL;
		ustor_nvme_ctrl_fail(ctrl, st);
		return st;
	}
	if (ustor_nvme_absent(ctrl)) {
		ustor_nvme_log_regs(ctrl, "VS reads 0 or all-ones: device gone");
		ustor_nvme_ctrl_fail(ctrl, USTOR_ERR_DEVICE_GONE);
		return USTOR_ERR_DEVICE_GONE;
	}
	ctrl->resets_recent++;
	ctrl->resets++;
	ctrl->last_reset_ns = now;
	ctrl->state = USTOR_NVME_STATE_RESETTING;
	USTOR_WARN(hal, "nvme%u: resetting the controller (%s), reset %u of at most %u",
		   (unsigned)ctrl->cfg.index, ustor_status_name(cause), ctrl->resets_recent,
		   ctrl->cfg.max_resets);
	st = ustor_nvme_disable(ctrl, 0);
	if (st != USTOR_OK) {
		ustor_nvme_ctrl_fail(ctrl, st == USTOR_ERR_DEVICE_GONE ? st : USTOR_ERR_FATAL);
		return ctrl->failed_status;
	}
	/* Disabled: the device no longer reads or writes any of our memory. */
	ustor_nvme_lock(hal, &ctrl->admin);
	ustor_nvme_rec_queue(ctrl, &ctrl->admin);
	ustor_nvme_unlock(hal, &ctrl->admin);
	for (i = 0; i < ctrl->nio; i++) {
		ustor_nvme_lock(hal, &ctrl->io[i]);
		ustor_nvme_rec_queue(ctrl, &ctrl->io[i]);
		ustor_nvme_unlock(hal, &ctrl->io[i]);
	}
	st = ustor_nvme_rec_reinit(ctrl);
	if (st != USTOR_OK) {
		USTOR_ERR(hal, "nvme%u: re-initialisation after the reset failed (%s)",
			  (unsigned)ctrl->cfg.index, ustor_status_name(st));
		ustor_nvme_ctrl_fail(ctrl, st == USTOR_ERR_DEVICE_GONE ? st : USTOR_ERR_FATAL);
		return ctrl->failed_status;
	}
	ctrl->state = USTOR_NVME_STATE_READY;
	/* Re-submit; requests of a namespace that changed end with its reason. */
	for (i = 0; i < ctrl->nio; i++) {
		struct ustor_nvme_queue *q = &ctrl->io[i];
		struct ustor_nvme_done done;
		struct ustor_block_req **pp;

		ustor_nvme_lock(hal, q);
		done.head = q->done_head;
		done.tail = q->done_tail;
		pp = &q->waiting;
		q->waiting_tail = NULL;
		while (*pp != NULL) {
			struct ustor_block_req *req = *pp;
			const struct ustor_block_device *b = &((struct ustor_nvme_ns *)req->drv)->bdev;

			if (b->flags & USTOR_BDEV_F_UNUSABLE) {
				*pp = req->next_waiting;
				req->status = b->unusable_reason;
				req->left = 0;
				ustor_nvme_finish(&done, req);
				continue;
			}
			q->waiting_tail = req;
			pp = &req->next_waiting;
		}
		ustor_nvme_io_issue_waiting(ctrl, q, &done);
		q->done_head = done.head;
		q->done_tail = done.tail;
		if (q->waiting != NULL || q->done_head != NULL)
			q->ring.flags |= USTOR_NVME_QF_PENDING;
		ustor_nvme_unlock(hal, q);
	}
	USTOR_INFO(hal, "nvme%u: reset done; %u request(s) re-submitted so far",
		   (unsigned)ctrl->cfg.index, ctrl->requeued);
	return USTOR_OK;
}

ustor_status ustor_nvme_ctrl_reset(struct ustor_nvme_ctrl *ctrl)
{
	if (ctrl == NULL || ctrl->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (ctrl->state == USTOR_NVME_STATE_SHUT_DOWN)
		return USTOR_ERR_SHUT_DOWN;
	return ustor_nvme_recover(ctrl, USTOR_OK);
}
