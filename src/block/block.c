/* SPDX-License-Identifier: MIT */
/*
 * Block layer: argument checks common to every driver, and the synchronous
 * calls built on submit/poll (scheduling is in sched.c, statistics in
 * stats.c).
 */
#include "ustor/block.h"

#include "../core/mem.h"
#include "../core/wait.h"
#include "sched.h"

static ustor_status ustor_block_check(const struct ustor_block_device *bdev,
				      const struct ustor_block_req *req)
{
	uint64_t end;

	if (bdev->flags & USTOR_BDEV_F_UNUSABLE)
		return bdev->unusable_reason != USTOR_OK ? bdev->unusable_reason
							 : USTOR_ERR_UNSUPPORTED;
	switch (req->op) {
	case USTOR_BLOCK_FLUSH:
		return USTOR_OK;
	case USTOR_BLOCK_READ:
	case USTOR_BLOCK_WRITE:
		if (req->buf == NULL)
			return USTOR_ERR_INVALID_ARG;
		/* The byte length must fit 32 bits (requests are < 4 GiB). */
		if (req->nblocks > (0xffffffffu >> bdev->block_shift))
			return USTOR_ERR_INVALID_ARG;
		break;
	case USTOR_BLOCK_DISCARD:
		if (!(bdev->flags & USTOR_BDEV_F_DISCARD))
			return USTOR_ERR_UNSUPPORTED;
		break;
	case USTOR_BLOCK_WRITE_ZEROES:
		if (!(bdev->flags & USTOR_BDEV_F_WRITE_ZEROES))
			return USTOR_ERR_UNSUPPORTED;
		break;
	default:
		return USTOR_ERR_INVALID_ARG;
	}
	if (req->op != USTOR_BLOCK_READ && (bdev->flags & USTOR_BDEV_F_READ_ONLY))
		return USTOR_ERR_READ_ONLY;
	if (req->nblocks == 0)
		return USTOR_ERR_INVALID_ARG;
	end = req->lba + req->nblocks;
	if (end < req->lba || end > bdev->nblocks)
		return USTOR_ERR_OUT_OF_RANGE;
	return USTOR_OK;
}

ustor_status ustor_block_submit_checked(struct ustor_block_device *bdev,
					struct ustor_block_req *req)
{
	ustor_status st;

	if (bdev == NULL || req == NULL || bdev->ops == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (req->state == USTOR_REQ_STATE_ACTIVE)
		return USTOR_ERR_IN_PROGRESS;
	st = ustor_block_check(bdev, req);
	if (st != USTOR_OK)
		return st;
	req->status = USTOR_OK;
	req->nvme_status = 0;
	req->dev_status = 0;
	req->error_lba = 0;
	if (bdev->flags & USTOR_BDEV_F_SCHED)
		return ustor_block_sched_submit(bdev, req);
	st = bdev->ops->submit(bdev, req);
	if (st == USTOR_ERR_BUSY)
		st = ustor_block_submit_busy(bdev, req);
	return st;
}

ustor_status ustor_block_run(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	const struct ustor_hal *hal;
	uint64_t deadline;
	uint32_t spins = 0;
	ustor_status st;

	if (bdev == NULL || req == NULL || bdev->ops == NULL || bdev->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	hal = bdev->hal;
	deadline = hal->now_ns(hal->ctx) + (uint64_t)bdev->timeout_ms * 1000000u;
	/* A full queue (asynchronous traffic, a discard in flight) is waited
	 * out within the same deadline. */
	for (;;) {
		st = ustor_block_submit(bdev, req);
		if (st != USTOR_ERR_BUSY)
			break;
		if (hal->now_ns(hal->ctx) >= deadline)
			return USTOR_ERR_BUSY;
		ustor_block_poll(bdev, req->queue);
		ustor_wait_between_polls(hal, &spins);
	}
	if (st != USTOR_OK)
		return st;
	/* req->queue is final now (a policy may have chosen it). */
	for (;;) {
		ustor_block_poll(bdev, req->queue);
		if (req->state == USTOR_REQ_STATE_DONE)
			return req->status;
		if (hal->now_ns(hal->ctx) >= deadline) {
			/* The scheduler's cancel takes back a request still
			 * held in software (TIMEOUT, it never reached the device). */
			return bdev->ops->cancel(bdev, req);
		}
		ustor_wait_between_polls(hal, &spins);
	}
}

static ustor_status ustor_block_sync(struct ustor_block_device *bdev, uint8_t op, uint64_t lba,
				     uint32_t nblocks, void *buf)
{
	struct ustor_block_req req;

	ustor_memset(&req, 0, sizeof(req));
	req.op = op;
	req.lba = lba;
	req.nblocks = nblocks;
	req.buf = buf;
	return ustor_block_run(bdev, &req);
}

/* The buffer cannot be reached by DMA: go through the bounce buffer, one
 * bounce-sized piece at a time. */
static ustor_status ustor_block_bounced(struct ustor_block_device *bdev, uint8_t op, uint64_t lba,
					uint32_t nblocks, uint8_t *buf)
{
	uint32_t per = bdev->bounce_len >> bdev->block_shift;

	while (nblocks > 0) {
		uint32_t n = nblocks < per ? nblocks : per;
		uint32_t bytes = n << bdev->block_shift;
		ustor_status st;

		if (op == USTOR_BLOCK_WRITE)
			ustor_memcpy(bdev->bounce, buf, bytes);
		st = ustor_block_sync(bdev, op, lba, n, bdev->bounce);
		if (st != USTOR_OK)
			return st;
		if (op == USTOR_BLOCK_READ)
			ustor_memcpy(buf, bdev->bounce, bytes);
		buf += bytes;
		lba += n;
		nblocks -= n;
	}
	return USTOR_OK;
}

ustor_status ustor_block_read(struct ustor_block_device *bdev, uint64_t lba, uint32_t nblocks,
			      void *buf)
{
	ustor_status st = ustor_block_sync(bdev, USTOR_BLOCK_READ, lba, nblocks, buf);

	if (st == USTOR_ERR_NOT_DMA_ABLE && bdev->bounce != NULL && bdev->bounce_len != 0)
		st = ustor_block_bounced(bdev, USTOR_BLOCK_READ, lba, nblocks, (uint8_t *)buf);
	return st;
}

ustor_status ustor_block_write(struct ustor_block_device *bdev, uint64_t lba, uint32_t nblocks,
			       const void *buf)
{
	/* The request API is shared with reads, hence the cast; a write never
	 * stores into the buffer. */
	void *p = (void *)(uintptr_t)buf;
	ustor_status st = ustor_block_sync(bdev, USTOR_BLOCK_WRITE, lba, nblocks, p);

	if (st == USTOR_ERR_NOT_DMA_ABLE && bdev->bounce != NULL && bdev->bounce_len != 0)
		st = ustor_block_bounced(bdev, USTOR_BLOCK_WRITE, lba, nblocks, (uint8_t *)p);
	return st;
}

ustor_status ustor_block_flush(struct ustor_block_device *bdev)
{
	return ustor_block_sync(bdev, USTOR_BLOCK_FLUSH, 0, 0, NULL);
}

ustor_status ustor_block_discard(struct ustor_block_device *bdev, uint64_t lba, uint32_t nblocks)
{
	return ustor_block_sync(bdev, USTOR_BLOCK_DISCARD, lba, nblocks, NULL);
}

ustor_status ustor_block_write_zeroes(struct ustor_block_device *bdev, uint64_t lba,
				      uint32_t nblocks)
{
	return ustor_block_sync(bdev, USTOR_BLOCK_WRITE_ZEROES, lba, nblocks, NULL);
}
