/* SPDX-License-Identifier: MIT */
/*
 * Block layer scheduling: requests held in software when the device queue
 * is full (USTOR_REQ_F_WAIT), the policies of ustor_block_set_policy, and
 * doorbell kicks for batched submissions.
 *
 * The held list (bdev->sched.head) is in dispatch order: FIFO, by priority
 * or by deadline. A request on it is ACTIVE for its caller; it is sent to
 * the driver by the next submit or poll of its queue that finds room. It is
 * protected by hal->lock on sched.lock_word; the lock is taken before a
 * driver's queue lock (the driver's submit runs under it while the list is
 * dispatched), never the other way round: done callbacks run with no lock.
 */
#include "ustor/block.h"

#include "ustor/stats.h"

#include "sched.h"

static void ustor_sched_lock(struct ustor_block_device *bdev)
{
	const struct ustor_hal *hal = bdev->hal;

	if (hal->lock != NULL)
		hal->lock(hal->ctx, &bdev->sched.lock_word);
}

static void ustor_sched_unlock(struct ustor_block_device *bdev)
{
	const struct ustor_hal *hal = bdev->hal;

	if (hal->unlock != NULL)
		hal->unlock(hal->ctx, &bdev->sched.lock_word);
}

static const struct ustor_block_ops ustor_sched_ops;

/* The driver's ops, wherever they are now. */
static const struct ustor_block_ops *ustor_sched_drv(const struct ustor_block_device *bdev)
{
	if (bdev->ops == &ustor_sched_ops && bdev->sched.drv_ops != NULL)
		return bdev->sched.drv_ops;
	return bdev->ops;
}

/* The scheduler is needed while a policy is set or anything is held or
 * watched (under the lock): then submissions take the slow path and the
 * device's ops are the scheduler's, so polls send what is held. The
 * default path pays nothing for it. */
static void ustor_sched_update_flag(struct ustor_block_device *bdev)
{
	struct ustor_block_sched *s = &bdev->sched;

	if (s->policy != USTOR_SCHED_NONE || s->head != NULL || s->watch != NULL) {
		if (bdev->ops != &ustor_sched_ops) {
			s->drv_ops = bdev->ops;
			bdev->ops = &ustor_sched_ops;
		}
		bdev->flags |= USTOR_BDEV_F_SCHED;
	} else {
		bdev->flags &= ~(uint32_t)USTOR_BDEV_F_SCHED;
		if (bdev->ops == &ustor_sched_ops)
			bdev->ops = s->drv_ops;
	}
}

/* Does `a` go out before `b` (already on the list)? Ties keep FIFO. */
static int ustor_sched_before(uint8_t policy, const struct ustor_block_req *a,
			      const struct ustor_block_req *b)
{
	if (policy == USTOR_SCHED_PRIORITY)
		return a->prio > b->prio;
	if (policy == USTOR_SCHED_DEADLINE)
		return a->deadline_ns != 0 && (b->deadline_ns == 0 || a->deadline_ns < b->deadline_ns);
	return 0;
}

/* Put `req` on the held list in policy order (under the lock). */
static void ustor_sched_insert(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	struct ustor_block_sched *s = &bdev->sched;
	struct ustor_block_req **pp = &s->head;

	while (*pp != NULL && !ustor_sched_before(s->policy, req, *pp))
		pp = &(*pp)->sched_next;
	req->sched_next = *pp;
	if (*pp == NULL)
		s->tail = req;
	*pp = req;
	s->held++;
	req->state = USTOR_REQ_STATE_ACTIVE;
	req->submit_ns = 0; /* not accepted by the driver (statistics) */
}

/* Take the request *pp off the held list; `prev` is the one before it. */
static struct ustor_block_req *ustor_sched_unlink(struct ustor_block_sched *s,
						  struct ustor_block_req **pp,
						  struct ustor_block_req *prev)
{
	struct ustor_block_req *req = *pp;

	*pp = req->sched_next;
	if (s->tail == req)
		s->tail = prev;
	req->sched_next = NULL;
	s->held--;
	return req;
}

/* Put back a request just taken off at *pp (where it was). */
static void ustor_sched_relink(struct ustor_block_sched *s, struct ustor_block_req **pp,
			       struct ustor_block_req *req)
{
	req->sched_next = *pp;
	if (*pp == NULL)
		s->tail = req;
	*pp = req;
	s->held++;
}

/* A watched request (DEADLINE, sent with a deadline) finished: stop
 * watching it and run the caller's callback. If the poll already took it
 * off the watch list to cancel it, the poll delivers it instead. */
static void ustor_sched_watch_done(struct ustor_block_req *req)
{
	struct ustor_block_device *bdev = req->sched_bdev;
	struct ustor_block_req **pp;
	int found = 0;

	ustor_sched_lock(bdev);
	for (pp = &bdev->sched.watch; *pp != NULL; pp = &(*pp)->sched_next) {
		if (*pp == req) {
			*pp = req->sched_next;
			found = 1;
			break;
		}
	}
	ustor_sched_update_flag(bdev);
	ustor_sched_unlock(bdev);
	if (!found)
		return;
	req->sched_next = NULL;
	req->done = req->sched_done;
	if (req->done != NULL)
		req->done(req);
}

/* Send `req` to the driver; under DEADLINE one with a deadline is watched
 * (its callback is wrapped before the driver can complete it). */
static ustor_status ustor_sched_send(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	int watch = bdev->sched.policy == USTOR_SCHED_DEADLINE && req->deadline_ns != 0;
	ustor_status st;

	if (watch) {
		req->sched_done = req->done;
		req->sched_bdev = bdev;
		req->done = ustor_sched_watch_done;
	}
	st = ustor_sched_drv(bdev)->submit(bdev, req);
	if (!watch)
		return st;
	if (st != USTOR_OK) {
		req->done = req->sched_done;
		return st;
	}
	req->sched_next = bdev->sched.watch;
	bdev->sched.watch = req;
	return USTOR_OK;
}

/* Requests finished by the block layer itself, delivered after unlock. */
struct ustor_sched_done_list {
	struct ustor_block_req *head;
	struct ustor_block_req *tail;
};

static void ustor_sched_done_add(struct ustor_sched_done_list *d, struct ustor_block_req *req,
				 ustor_status st)
{
	req->status = st;
	req->sched_next = NULL;
	if (d->tail != NULL)
		d->tail->sched_next = req;
	else
		d->head = req;
	d->tail = req;
}

/* Run the callbacks of `req` and those linked after it. `count`: they never
 * reached the driver, so its statistics hooks did not see them (counted
 * here as errors or timeouts, without a latency); cancelled ones were
 * counted by the driver's cancel. */
static unsigned ustor_sched_deliver(struct ustor_block_device *bdev, struct ustor_block_req *req,
				    int count)
{
	unsigned n = 0;

	while (req != NULL) {
		struct ustor_block_req *next = req->sched_next;
		ustor_block_done_fn fn = req->done;

		req->sched_next = NULL;
		if (count)
			ustor_stats_on_complete(bdev, req);
		req->state = USTOR_REQ_STATE_DONE;
		n++;
		if (fn != NULL)
			fn(req);
		req = next;
	}
	return n;
}

/*
 * Send held requests of `queue` in list order until the driver says BUSY
 * (under the lock). From a poll (`d` set): held requests past their
 * deadline (DEADLINE) and those the driver refuses go to `d`. From a submit
 * (`d` NULL): only `self` may fail (its error is returned, it is taken
 * off the list); expired or refused others wait for the next poll.
 */
static ustor_status ustor_sched_dispatch(struct ustor_block_device *bdev, uint16_t queue,
					 struct ustor_block_req *self,
					 struct ustor_sched_done_list *d)
{
	struct ustor_block_sched *s = &bdev->sched;
	struct ustor_block_req **pp = &s->head;
	struct ustor_block_req *prev = NULL;
	uint64_t now = 0;
	int expire = s->policy == USTOR_SCHED_DEADLINE;
	int busy = 0;
	ustor_status ret = USTOR_OK;

	if (expire)
		now = bdev->hal->now_ns(bdev->hal->ctx);
	while (*pp != NULL) {
		struct ustor_block_req *req = *pp;
		ustor_status st;

		if (req->queue != queue)
			goto skip;
		if (expire && req->deadline_ns != 0 && now >= req->deadline_ns) {
			if (d == NULL)
				goto skip;
			ustor_sched_done_add(d, ustor_sched_unlink(s, pp, prev), USTOR_ERR_TIMEOUT);
			continue;
		}
		if (busy)
			goto skip;
		/* Off the list before sending: a watched request's link moves
		 * to the watch list. */
		(void)ustor_sched_unlink(s, pp, prev);
		st = ustor_sched_send(bdev, req);
		if (st == USTOR_OK)
			continue; /* the driver owns it now (ACTIVE) */
		if (st != USTOR_ERR_BUSY && d != NULL) {
			ustor_sched_done_add(d, req, st);
			continue;
		}
		if (st != USTOR_ERR_BUSY && req == self) {
			req->state = USTOR_REQ_STATE_IDLE;
			ret = st;
			continue;
		}
		ustor_sched_relink(s, pp, req);
		busy = 1; /* FIFO per queue: nothing of this queue passes it */
skip:
		prev = req;
		pp = &req->sched_next;
	}
	return ret;
}

/* The queue a request is held for: what the driver would use. */
static void ustor_sched_fix_queue(const struct ustor_block_device *bdev,
				  struct ustor_block_req *req)
{
	if (req->queue >= bdev->nqueues)
		req->queue = 0;
}

ustor_status ustor_block_submit_busy(struct ustor_block_device *bdev,
				     struct ustor_block_req *req)
{
	ustor_status st;

	if (!(req->flags & USTOR_REQ_F_WAIT))
		return USTOR_ERR_BUSY;
	ustor_sched_fix_queue(bdev, req);
	ustor_sched_lock(bdev);
	ustor_sched_insert(bdev, req);
	/* Room may have appeared since the driver said BUSY; this also sends
	 * it if it is first in line. */
	st = ustor_sched_dispatch(bdev, req->queue, req, NULL);
	ustor_sched_update_flag(bdev);
	ustor_sched_unlock(bdev);
	return st;
}

ustor_status ustor_block_sched_submit(struct ustor_block_device *bdev,
				      struct ustor_block_req *req)
{
	struct ustor_block_sched *s = &bdev->sched;
	const struct ustor_hal *hal = bdev->hal;
	uint16_t nq = bdev->nqueues != 0 ? bdev->nqueues : 1u;
	ustor_status st;

	ustor_sched_lock(bdev);
	switch (s->policy) {
	case USTOR_SCHED_ROUND_ROBIN:
		req->queue = s->rr_next < nq ? s->rr_next : 0u;
		s->rr_next = (uint16_t)(req->queue + 1u < nq ? req->queue + 1u : 0u);
		break;
	case USTOR_SCHED_CPU:
		/* set_policy checked cpu_id; a HAL changed since answers 0. */
		req->queue = hal->cpu_id != NULL ? (uint16_t)(hal->cpu_id(hal->ctx) % nq) : 0u;
		break;
	default:
		break;
	}
	ustor_sched_fix_queue(bdev, req);
	if (s->policy == USTOR_SCHED_PRIORITY || s->policy == USTOR_SCHED_DEADLINE ||
	    (s->head != NULL && (req->flags & USTOR_REQ_F_WAIT))) {
		/* Through the list: queue behind (or, by policy, among) what is
		 * held, then send what the device takes. */
		ustor_sched_insert(bdev, req);
		st = ustor_sched_dispatch(bdev, req->queue, req, NULL);
		ustor_sched_update_flag(bdev);
		ustor_sched_unlock(bdev);
		return st;
	}
	ustor_sched_unlock(bdev);
	st = ustor_sched_drv(bdev)->submit(bdev, req);
	if (st == USTOR_ERR_BUSY)
		st = ustor_block_submit_busy(bdev, req);
	return st;
}

static unsigned ustor_sched_poll(struct ustor_block_device *bdev, uint16_t queue)
{
	struct ustor_block_sched *s = &bdev->sched;
	struct ustor_sched_done_list d = { NULL, NULL };
	struct ustor_block_req *late = NULL;
	unsigned n = ustor_sched_drv(bdev)->poll(bdev, queue);

	ustor_sched_lock(bdev);
	if (s->watch != NULL) {
		/* Sent requests of this queue past their deadline: take them
		 * off the watch list (so their completion, if it races, is not
		 * delivered twice) and cancel them below, unlocked. */
		uint64_t now = bdev->hal->now_ns(bdev->hal->ctx);
		struct ustor_block_req **pp = &s->watch;

		while (*pp != NULL) {
			struct ustor_block_req *req = *pp;

			if (req->queue == queue && now >= req->deadline_ns) {
				*pp = req->sched_next;
				req->sched_next = late;
				late = req;
			} else {
				pp = &req->sched_next;
			}
		}
	}
	if (s->head != NULL)
		(void)ustor_sched_dispatch(bdev, queue, NULL, &d);
	ustor_sched_update_flag(bdev);
	ustor_sched_unlock(bdev);
	n += ustor_sched_deliver(bdev, d.head, 1);
	d.head = d.tail = NULL;
	while (late != NULL) {
		struct ustor_block_req *req = late;
		ustor_status st;

		late = req->sched_next;
		req->done = req->sched_done;
		/* Its done callback will not come from the driver any more. The
		 * device may still move data to or from its buffer (see
		 * ops->cancel). */
		st = ustor_sched_drv(bdev)->cancel(bdev, req);
		ustor_sched_done_add(&d, req, st);
	}
	return n + ustor_sched_deliver(bdev, d.head, 0);
}

int ustor_block_sched_forget(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	struct ustor_block_sched *s = &bdev->sched;
	struct ustor_block_req **pp;
	struct ustor_block_req *prev = NULL;
	int held = 0;

	ustor_sched_lock(bdev);
	for (pp = &s->head; *pp != NULL; prev = *pp, pp = &(*pp)->sched_next) {
		if (*pp == req) {
			(void)ustor_sched_unlink(s, pp, prev);
			held = 1;
			break;
		}
	}
	for (pp = &s->watch; !held && *pp != NULL; pp = &(*pp)->sched_next) {
		if (*pp == req) {
			*pp = req->sched_next;
			req->sched_next = NULL;
			req->done = req->sched_done;
			break;
		}
	}
	ustor_sched_update_flag(bdev);
	ustor_sched_unlock(bdev);
	return held;
}

void ustor_block_sched_fail_all(struct ustor_block_device *bdev, ustor_status status)
{
	struct ustor_block_sched *s = &bdev->sched;
	struct ustor_block_req *held;
	struct ustor_block_req *req;

	ustor_sched_lock(bdev);
	held = s->head;
	s->head = NULL;
	s->tail = NULL;
	s->held = 0;
	ustor_sched_update_flag(bdev);
	ustor_sched_unlock(bdev);
	for (req = held; req != NULL; req = req->sched_next)
		req->status = status;
	/* They never reached the driver: counted here, callbacks unlocked. */
	(void)ustor_sched_deliver(bdev, held, 1);
}

ustor_status ustor_block_set_policy(struct ustor_block_device *bdev,
				    enum ustor_block_policy policy)
{
	if (bdev == NULL || bdev->hal == NULL || (unsigned)policy > USTOR_SCHED_DEADLINE)
		return USTOR_ERR_INVALID_ARG;
	if (policy == USTOR_SCHED_CPU && bdev->hal->cpu_id == NULL)
		return USTOR_ERR_INVALID_ARG;
	ustor_sched_lock(bdev);
	/* Requests already held keep their places. */
	bdev->sched.policy = (uint8_t)policy;
	bdev->sched.rr_next = 0;
	ustor_sched_update_flag(bdev);
	ustor_sched_unlock(bdev);
	return USTOR_OK;
}

void ustor_block_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	if (bdev == NULL || bdev->ops == NULL || bdev->ops->kick == NULL)
		return;
	bdev->ops->kick(bdev, queue);
}

/* ---- The scheduler's ops, in place while USTOR_BDEV_F_SCHED is set ---- */

static ustor_status ustor_sched_op_submit(struct ustor_block_device *bdev,
					  struct ustor_block_req *req)
{
	/* Reached when a submission raced with the switch (ustor_block_submit
	 * validated it): take the scheduler's path. */
	return ustor_block_sched_submit(bdev, req);
}

static ustor_status ustor_sched_op_cancel(struct ustor_block_device *bdev,
					  struct ustor_block_req *req)
{
	if (ustor_block_sched_forget(bdev, req)) {
		req->state = USTOR_REQ_STATE_IDLE; /* never reached the device */
		return USTOR_ERR_TIMEOUT;
	}
	return ustor_sched_drv(bdev)->cancel(bdev, req);
}

static void ustor_sched_op_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	const struct ustor_block_ops *ops = ustor_sched_drv(bdev);

	if (ops->kick != NULL)
		ops->kick(bdev, queue);
}

static const struct ustor_block_ops ustor_sched_ops = {
	.submit = ustor_sched_op_submit,
	.poll = ustor_sched_poll,
	.cancel = ustor_sched_op_cancel,
	.kick = ustor_sched_op_kick,
};
