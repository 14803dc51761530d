/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk recovery: a queue that stops completing, DEVICE_NEEDS_RESET or
 * an impossible used element lead to a device reset (VIRTIO 1.2 2.4), the
 * bring-up again with the same features and queue memory freshly set up,
 * and every request that was in flight or waiting re-submitted from its
 * first block; all-ones status means the device is gone. Bounded by
 * cfg.max_resets within cfg.reset_window_ms. Stall detection costs nothing
 * per I/O: an empty poll with chains in flight starts a clock that any
 * completion stops (q->wd_since).
 */
#include "virtio_internal.h"

/* Take `req` once (IDLE marks it taken until it is requeued or ended). */
static void ustor_vblk_rec_take(struct ustor_vblk_done *d, struct ustor_block_req *req)
{
	if (req == NULL || req->state != USTOR_REQ_STATE_ACTIVE)
		return;
	req->state = USTOR_REQ_STATE_IDLE;
	ustor_vblk_done_add(d, req);
}

/* The device is reset: requests in flight or waiting on q go to `redo`,
 * finished-but-undelivered ones to `d` (queue lock held). */
static void ustor_vblk_rec_collect(struct ustor_virtio_blk_queue *q, struct ustor_vblk_done *redo,
				   struct ustor_vblk_done *d)
{
	struct ustor_block_req *req = q->waiting;
	uint32_t i;

	q->waiting = NULL;
	q->waiting_tail = NULL;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_vblk_rec_take(redo, req);
		req = next;
	}
	req = q->done_head;
	q->done_head = NULL;
	q->done_tail = NULL;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		ustor_vblk_done_add(d, req);
		req = next;
	}
	if (q->slots == NULL)
		return;
	for (i = 0; i < q->vq.size; i++) {
		struct ustor_virtio_blk_slot *s = &q->slots[i];

		if (s->kind == USTOR_VBLK_SLOT_BLOCK)
			ustor_vblk_rec_take(redo, (struct ustor_block_req *)s->owner);
		s->kind = USTOR_VBLK_SLOT_FREE;
		s->owner = NULL;
	}
}

/* End every request on `redo` with `st` onto `d`. */
static void ustor_vblk_rec_end(struct ustor_virtio_blk *vb, struct ustor_block_req *req,
			       ustor_status st, struct ustor_vblk_done *d)
{
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;

		req->state = USTOR_REQ_STATE_ACTIVE;
		if (req->status == USTOR_OK)
			req->status = st;
		USTOR_VBLK_STATS_COMPLETE(&vb->bdev, req);
		ustor_vblk_done_add(d, req);
		req = next;
	}
}

/* Give up: broken with `st`; if the device still resets (or is gone and
 * cannot transfer), everything outstanding ends with `st` on `d`. */
static ustor_status ustor_vblk_rec_fail(struct ustor_virtio_blk *vb, ustor_status st,
					struct ustor_vblk_done *d)
{
	struct ustor_virtio_dev *dev = &vb->dev;
	int gone = dev->ops->get_status(dev) == 0xffffffffu;

	if (gone)
		st = USTOR_ERR_DEVICE_GONE;
	vb->state = USTOR_VBLK_STATE_BROKEN;
	vb->bdev.flags |= USTOR_BDEV_F_UNUSABLE;
	vb->bdev.unusable_reason = st;
	USTOR_ERR(vb->hal, "%s: device failed (%s): every request ends with that error",
		  vb->bdev.name, ustor_status_name(st));
	if (gone || ustor_virtio_reset(dev, vb->cfg.init_timeout_ms) == USTOR_OK)
		ustor_vblk_collect_all(vb, st, d);
	else
		USTOR_ERR(vb->hal, "%s: device did not reset; outstanding requests left to time out",
			  vb->bdev.name);
	return st;
}

ustor_status ustor_vblk_recover(struct ustor_virtio_blk *vb, ustor_status cause,
				struct ustor_vblk_done *d)
{
	const struct ustor_hal *hal = vb->hal;
	struct ustor_vblk_done redo = { NULL, NULL };
	uint64_t now = hal->now_ns(hal->ctx);
	struct ustor_block_req *req;
	ustor_status st;
	uint32_t i;
	uint32_t n = 0;

	if (vb->state != USTOR_VBLK_STATE_READY && vb->state != USTOR_VBLK_STATE_BROKEN)
		return USTOR_ERR_NOT_READY;
	if (now - vb->last_reset_ns > (uint64_t)vb->cfg.reset_window_ms * 1000000u)
		vb->resets_recent = 0;
	if (vb->resets_recent >= vb->cfg.max_resets) {
		USTOR_ERR(hal, "%s: %s and %u reset(s) already: giving up", vb->bdev.name,
			  ustor_status_name(cause), vb->resets_recent);
		return ustor_vblk_rec_fail(vb, USTOR_ERR_FATAL, d);
	}
	vb->resets_recent++;
	vb->resets++;
	vb->last_reset_ns = now;
	ustor_vblk_lock_all(vb);
	vb->state = USTOR_VBLK_STATE_RESETTING; /* new requests get BUSY meanwhile */
	ustor_vblk_unlock_all(vb);
	USTOR_WARN(hal, "%s: resetting the device (%s), reset %u of at most %u", vb->bdev.name,
		   ustor_status_name(cause), vb->resets_recent, vb->cfg.max_resets);
	st = ustor_virtio_reset(&vb->dev, vb->cfg.init_timeout_ms);
	if (st != USTOR_OK)
		return ustor_vblk_rec_fail(vb, USTOR_ERR_FATAL, d);
	/* Reset: the device uses none of our memory any more. */
	for (i = 0; i < vb->nq; i++) {
		ustor_vblk_lock(hal, &vb->q[i]);
		ustor_vblk_rec_collect(&vb->q[i], &redo, d);
		ustor_vblk_unlock(hal, &vb->q[i]);
	}
	ustor_vblk_queues_free(vb);
	st = ustor_vblk_reinit(vb);
	if (st != USTOR_OK) {
		USTOR_ERR(hal, "%s: re-initialisation after the reset failed (%s)", vb->bdev.name,
			  ustor_status_name(st));
		ustor_vblk_rec_end(vb, redo.head, USTOR_ERR_FATAL, d);
		return ustor_vblk_rec_fail(vb, USTOR_ERR_FATAL, d);
	}
	vb->bdev.unusable_reason = USTOR_OK;
	vb->state = USTOR_VBLK_STATE_READY;
	/* Idempotent requests go again, whole, in the order they were taken. */
	req = redo.head;
	while (req != NULL) {
		struct ustor_block_req *next = req->next_waiting;
		struct ustor_virtio_blk_queue *q = ustor_vblk_queue_of(vb, req->queue);

		ustor_vblk_lock(hal, q);
		if (req->status != USTOR_OK) {
			/* A chain of it had failed already: that is its answer. */
			req->state = USTOR_REQ_STATE_ACTIVE;
			USTOR_VBLK_STATS_COMPLETE(&vb->bdev, req);
			ustor_vblk_done_add(d, req);
		} else {
			ustor_vblk_requeue(q, req);
			n++;
		}
		ustor_vblk_unlock(hal, q);
		req = next;
	}
	/* The next poll of each queue issues its waiting requests. */
	vb->requeued += n;
	USTOR_INFO(hal, "%s: device re-initialised; %u request(s) re-submitted", vb->bdev.name, n);
	return USTOR_OK;
}

void ustor_vblk_watchdog(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q)
{
	const struct ustor_hal *hal = vb->hal;
	struct ustor_vblk_done d = { NULL, NULL };
	uint32_t status;
	uint32_t limit_ms;
	uint64_t now;

	if (vb->state != USTOR_VBLK_STATE_READY || vb->cfg.cmd_timeout_ms == 0)
		return;
	if (q->vq.num_free == q->vq.size) { /* nothing in flight */
		q->wd_since = 0;
		return;
	}
	now = hal->now_ns(hal->ctx);
	if (q->wd_since == 0) {
		q->wd_since = now;
		return;
	}
	/* Stall detection and a recovery must fit in one synchronous call. */
	limit_ms = vb->cfg.cmd_timeout_ms;
	if (limit_ms > vb->cfg.io_timeout_ms / 3u)
		limit_ms = vb->cfg.io_timeout_ms / 3u;
	if (now - q->wd_since < (uint64_t)limit_ms * 1000000u)
		return;
	q->wd_since = 0;
	/* Stalled: one status read tells gone, broken and silent apart. */
	status = vb->dev.ops->get_status(&vb->dev);
	if (status == 0xffffffffu) {
		ustor_virtio_log_status(&vb->dev, "device not responding (all-ones): gone");
		(void)ustor_vblk_rec_fail(vb, USTOR_ERR_DEVICE_GONE, &d);
	} else {
		USTOR_ERR(hal, "%s: queue %u stalled: no completion for %u ms, %u descriptors in use",
			  vb->bdev.name, (unsigned)q->index, limit_ms,
			  (unsigned)(q->vq.size - q->vq.num_free));
		(void)ustor_vblk_recover(vb,
					 (status & USTOR_VIRTIO_STATUS_NEEDS_RESET) ? USTOR_ERR_FATAL
										    : USTOR_ERR_TIMEOUT,
					 &d);
	}
	(void)ustor_vblk_deliver(vb, d.head);
}

ustor_status ustor_virtio_blk_reset(struct ustor_virtio_blk *vb)
{
	struct ustor_vblk_done d = { NULL, NULL };
	ustor_status st;

	if (vb == NULL || vb->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (vb->state != USTOR_VBLK_STATE_READY)
		return vb->state == USTOR_VBLK_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN
							       : USTOR_ERR_NOT_READY;
	st = ustor_vblk_recover(vb, USTOR_OK, &d);
	(void)ustor_vblk_deliver(vb, d.head);
	return st;
}
