/* SPDX-License-Identifier: MIT */
/*
 * uStor block layer: the one vtable every disk is seen through (an NVMe
 * namespace, a virtio-blk disk, ...). The asynchronous pair submit/poll is
 * the primitive; the synchronous calls are built on it.
 */
#ifndef USTOR_BLOCK_H
#define USTOR_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "hal.h"
#include "status.h"

/* Operations a request can carry. */
enum ustor_block_op {
	USTOR_BLOCK_READ = 1,
	USTOR_BLOCK_WRITE = 2,
	USTOR_BLOCK_FLUSH = 3,        /* make volatile-cached writes durable */
	USTOR_BLOCK_DISCARD = 4,      /* deallocate (TRIM); contents undefined */
	USTOR_BLOCK_WRITE_ZEROES = 5  /* blocks read back as zeroes */
};

/* Device flags (ustor_block_device.flags). */
#define USTOR_BDEV_F_READ_ONLY 0x01      /* writes are refused */
#define USTOR_BDEV_F_VOLATILE_CACHE 0x02 /* flush is meaningful */
#define USTOR_BDEV_F_DISCARD 0x04        /* DISCARD supported */
#define USTOR_BDEV_F_WRITE_ZEROES 0x08   /* WRITE_ZEROES supported */
#define USTOR_BDEV_F_UNUSABLE 0x10       /* listed, but I/O is refused (see status) */
#define USTOR_BDEV_F_SCHED 0x20          /* internal: a policy other than NONE is set, or
					  * requests are held or watched in software:
					  * submissions take the block layer's slow path
					  * and ops points at the scheduler's (see
					  * struct ustor_block_sched) */

/* Request states (ustor_block_req.state), kept by the library. */
#define USTOR_REQ_STATE_IDLE 0
#define USTOR_REQ_STATE_ACTIVE 1
#define USTOR_REQ_STATE_DONE 2

/* Request flags (ustor_block_req.flags). */
#define USTOR_REQ_F_FUA 0x01  /* write through to media */
#define USTOR_REQ_F_MORE 0x02 /* more submissions follow on this queue: the
			       * doorbell may wait for a submission without
			       * this flag, ustor_block_kick or the next poll */
#define USTOR_REQ_F_WAIT 0x04 /* queue full: hold the request in software
			       * (submit returns OK, the next polls of its
			       * queue send it, in submission order) instead
			       * of returning USTOR_ERR_BUSY */

/* Request priorities (ustor_block_req.prio), used by USTOR_SCHED_PRIORITY:
 * a higher value is served first. */
#define USTOR_PRIO_NORMAL 0
#define USTOR_PRIO_HIGH 1
#define USTOR_PRIO_URGENT 2

/*
 * Scheduling policies (ustor_block_set_policy). ROUND_ROBIN and CPU only
 * choose req->queue. PRIORITY and DEADLINE pass every request through the
 * block layer's software list (as if USTOR_REQ_F_WAIT were set) and send
 * them in their order as the device takes them, on submit and on poll.
 * They reorder only what waits in software: the device's own queue is FIFO
 * (NVMe and virtio have no priorities uStor uses), so a request already
 * sent is not overtaken; with a deep device queue and little waiting the
 * order hardly changes.
 */
enum ustor_block_policy {
	USTOR_SCHED_NONE = 0,     /* req->queue as given, FIFO */
	USTOR_SCHED_ROUND_ROBIN,  /* rotate requests across the device's queues */
	USTOR_SCHED_CPU,          /* queue = hal->cpu_id() modulo nqueues */
	USTOR_SCHED_PRIORITY,     /* held requests go out by req->prio, then FIFO */
	USTOR_SCHED_DEADLINE      /* earliest req->deadline_ns first (0 = after all
				   * with one); a held request past its deadline
				   * fails with TIMEOUT without reaching the device,
				   * one in flight is cancelled (ops->cancel) by the
				   * next poll of its queue: see ustor_block_poll */
};

struct ustor_block_device;
struct ustor_block_req;

/* Completion callback: runs inside ustor_block_poll(); may resubmit. */
typedef void (*ustor_block_done_fn)(struct ustor_block_req *req);

/*
 * One request. The caller owns the memory and fills the first group; it must
 * not touch the request between a successful submit and its done callback.
 */
struct ustor_block_req {
	/* Set by the caller. */
	uint8_t op;             /* enum ustor_block_op */
	uint8_t flags;          /* USTOR_REQ_F_* */
	uint8_t state;          /* USTOR_REQ_STATE_*, kept by the library (zero it
				 * once); beside op and flags so that the fast
				 * path reads the three in one load */
	uint8_t prio;           /* USTOR_PRIO_* (USTOR_SCHED_PRIORITY) */
	uint32_t nblocks;       /* blocks, in units of block_size */
	uint16_t queue;         /* queue index (0 = first); out-of-range = 0 */
	uint8_t rsvd_prio[6];
	uint64_t deadline_ns;   /* absolute hal->now_ns time, 0 = none (USTOR_SCHED_DEADLINE) */
	uint64_t lba;
	void *buf;              /* nblocks * block_size bytes (< 4 GiB); NULL for flush/discard/zeroes */
	ustor_block_done_fn done;
	void *user;             /* for the caller; untouched */

	/* Set on completion (before done is called). */
	ustor_status status;
	uint16_t nvme_status;   /* NVMe status field (SCT/SC/M/DNR, no phase), 0 if none */
	uint16_t dev_status;    /* raw device detail besides nvme_status (virtio status byte) */
	uint64_t error_lba;     /* first LBA of the failing command, if any */

	/* Driver private: do not touch. */
	struct ustor_block_req *next_waiting;
	struct ustor_block_req *sched_next; /* block layer's software lists */
	ustor_block_done_fn sched_done;     /* caller's done while the block layer
					     * watches a deadline in flight */
	struct ustor_block_device *sched_bdev; /* device of a watched request */
	uint64_t submit_ns;     /* when statistics are on: time of submission */
	void *drv;              /* the driver object serving it */
	uint64_t next_lba;      /* first block not yet issued */
	uint32_t left;          /* blocks not yet issued */
	uint16_t in_flight;     /* commands issued, not yet completed */
};

struct ustor_block_ops {
	/* Accept a request (already validated by ustor_block_submit). */
	ustor_status (*submit)(struct ustor_block_device *bdev, struct ustor_block_req *req);
	/* Reap completions of one queue; returns how many requests finished. */
	unsigned (*poll)(struct ustor_block_device *bdev, uint16_t queue);
	/* Forget a request that timed out: its done callback will never run,
	 * late completions are ignored, and the reason to report is returned
	 * (TIMEOUT, FATAL, DEVICE_GONE) after logging the registers that
	 * matter. If it had in fact completed but was not yet delivered, it
	 * is marked DONE and its own status is returned. The device may still
	 * transfer data to or from its buffer later (until a controller reset
	 * or shutdown): do not reuse the buffer for DMA before that. */
	ustor_status (*cancel)(struct ustor_block_device *bdev, struct ustor_block_req *req);
	/* Ring doorbells deferred by USTOR_REQ_F_MORE on `queue` (may be NULL:
	 * the driver never defers). */
	void (*kick)(struct ustor_block_device *bdev, uint16_t queue);
};

struct ustor_block_queue_stats; /* see stats.h */

/*
 * The block layer's own state per device (scheduler and statistics). While
 * USTOR_BDEV_F_SCHED is set, bdev->ops is the scheduler's table, which
 * forwards to the driver's (drv_ops) and sends held requests when polled;
 * the inline submit and poll stay as they are for the default policy.
 */
struct ustor_block_sched {
	const struct ustor_block_ops *drv_ops; /* the driver's ops while bdev->ops is swapped */
	struct ustor_block_req *head;   /* requests held in software, dispatch order */
	struct ustor_block_req *tail;
	struct ustor_block_req *watch;  /* DEADLINE: sent requests with a deadline */
	uint32_t held;                  /* requests on the list */
	uint16_t rr_next;               /* next queue for USTOR_SCHED_ROUND_ROBIN */
	uint8_t policy;                 /* enum ustor_block_policy */
	uint8_t rsvd;
	volatile uint32_t lock_word;    /* for hal->lock around the list */
	struct ustor_block_queue_stats *stats; /* per queue, NULL = statistics off */
	uint16_t stats_queues;          /* entries in stats */
	uint16_t rsvd2;
};

struct ustor_block_device {
	const struct ustor_block_ops *ops;
	void *driver;            /* the driver's object (e.g. an NVMe namespace) */
	const struct ustor_hal *hal;

	uint64_t nblocks;        /* capacity in blocks */
	uint32_t block_size;     /* bytes, a power of two */
	uint8_t block_shift;     /* log2(block_size) */
	uint8_t rsvd[3];
	uint32_t flags;          /* USTOR_BDEV_F_* */
	uint32_t max_blocks;     /* largest single device command (info only) */
	uint16_t nqueues;        /* queues a request may name */
	uint16_t rsvd2;
	uint32_t timeout_ms;     /* bound of every synchronous call */
	ustor_status unusable_reason; /* why USTOR_BDEV_F_UNUSABLE, else OK */

	char name[16];           /* e.g. "nvme0n1" */
	char model[41];          /* NUL-terminated, trailing spaces trimmed */
	char serial[21];
	char firmware[9];

	/* DMA bounce buffer for synchronous calls on untranslatable buffers
	 * (may be NULL: such buffers are then refused). Shared, not reentrant. */
	uint8_t *bounce;
	uint32_t bounce_len;

	struct ustor_block_sched sched; /* block layer state: leave zeroed */
};

/*
 * The fast path reads op, flags and state (adjacent bytes) as one 32-bit
 * word and keeps op, USTOR_REQ_F_WAIT and the ACTIVE bit of state: a read
 * that may go straight to the driver gives 0, such a write
 * USTOR_REQ_RW_WRITE, anything else (another op, F_WAIT, an active
 * request) has another bit set. One load and one mask do three checks, on
 * either byte order.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define USTOR_REQ_RW_SHIFT(byte) (24u - 8u * (byte))
#else
#define USTOR_REQ_RW_SHIFT(byte) (8u * (byte))
#endif
#define USTOR_REQ_RW_WRITE (1u << USTOR_REQ_RW_SHIFT(0))
#define USTOR_REQ_RW_MASK                                                            \
	((0xffu << USTOR_REQ_RW_SHIFT(0)) | ((uint32_t)USTOR_REQ_F_WAIT << USTOR_REQ_RW_SHIFT(1)) | \
	 ((uint32_t)USTOR_REQ_STATE_ACTIVE << USTOR_REQ_RW_SHIFT(2)))
_Static_assert(offsetof(struct ustor_block_req, op) == 0 &&
		       offsetof(struct ustor_block_req, flags) == 1 &&
		       offsetof(struct ustor_block_req, state) == 2,
	       "op, flags and state are read as one word");
_Static_assert((USTOR_REQ_STATE_ACTIVE & (USTOR_REQ_STATE_IDLE | USTOR_REQ_STATE_DONE)) == 0,
	       "the ACTIVE state has a bit of its own");

static inline uint32_t ustor_block_req_rw(const struct ustor_block_req *req)
{
	uint32_t w;

	__builtin_memcpy(&w, req, sizeof(w));
	return (w & USTOR_REQ_RW_MASK) - ((uint32_t)USTOR_BLOCK_READ << USTOR_REQ_RW_SHIFT(0));
}

/*
 * ustor_block_submit and ustor_block_poll are inline: they run once per I/O
 * and a call layer of their own cost about as much as their checks.
 */

/* ustor_block_submit without the inline shortcut: every check, each error
 * named exactly, and the scheduling policy. Call ustor_block_submit instead. */
ustor_status ustor_block_submit_checked(struct ustor_block_device *bdev,
					struct ustor_block_req *req);

/* The driver answered USTOR_ERR_BUSY: hold `req` if it has USTOR_REQ_F_WAIT
 * (returns OK), else return BUSY. Called by ustor_block_submit. */
ustor_status ustor_block_submit_busy(struct ustor_block_device *bdev,
				     struct ustor_block_req *req);

/* For drivers at shutdown: end every request still held in software (never
 * sent) with `status`, running its callback. */
void ustor_block_sched_fail_all(struct ustor_block_device *bdev, ustor_status status);


/*
 * Validate and submit; on USTOR_OK done() runs later from ustor_block_poll.
 * Errors: INVALID_ARG (NULL argument, unknown op, NULL buffer for a read or
 * write, zero blocks, nblocks * block_size >= 4 GiB), IN_PROGRESS (the
 * request is active), OUT_OF_RANGE (past the end, or lba + nblocks wraps),
 * READ_ONLY, UNSUPPORTED (op not supported, or the device is unusable:
 * unusable_reason when set), or what the driver returns.
 */
static inline ustor_status ustor_block_submit(struct ustor_block_device *bdev,
					      struct ustor_block_req *req)
{
	uint32_t rw; /* 0 read, USTOR_REQ_RW_WRITE write; larger: see ustor_block_req_rw */
	uint32_t refuse;
	uint64_t end;

	if (__builtin_expect(bdev == NULL || req == NULL, 0))
		return ustor_block_submit_checked(bdev, req);
	/* The common case in one pass: a read or write of 1..limit blocks (the
	 * byte length must fit 32 bits: nblocks - 1 wraps for 0), inside the
	 * device, on a device that takes it, no USTOR_REQ_F_WAIT, no policy.
	 * Anything else, including every error, goes through the full check,
	 * which names the exact error and applies the scheduler. */
	rw = ustor_block_req_rw(req);
	refuse = USTOR_BDEV_F_UNUSABLE | USTOR_BDEV_F_SCHED | (rw != 0 ? USTOR_BDEV_F_READ_ONLY : 0u);
	end = req->lba + req->nblocks;
	if (__builtin_expect((rw & ~USTOR_REQ_RW_WRITE) != 0 || bdev->ops == NULL ||
			     (bdev->flags & refuse) != 0 || req->buf == NULL ||
			     req->nblocks - 1u >= (0xffffffffu >> bdev->block_shift) ||
			     end < req->lba || end > bdev->nblocks, 0))
		return ustor_block_submit_checked(bdev, req);
	req->status = USTOR_OK;
	req->nvme_status = 0;
	req->dev_status = 0;
	req->error_lba = 0;
	return bdev->ops->submit(bdev, req);
}

/*
 * Reap completions on `queue`; returns how many requests finished. With
 * held requests or a policy set (the scheduler's ops are in place) it also
 * sends what waits for `queue`,
 * completes held requests whose deadline passed (TIMEOUT) and cancels sent
 * ones whose deadline passed (ops->cancel: their done runs with the status
 * cancel returns, and the device may still transfer to or from the buffer
 * until a controller reset: do not reuse it for DMA before that). Poll
 * every queue you submit to.
 */
static inline unsigned ustor_block_poll(struct ustor_block_device *bdev, uint16_t queue)
{
	if (bdev == NULL || bdev->ops == NULL)
		return 0;
	return bdev->ops->poll(bdev, queue);
}

/* Ring doorbells deferred by USTOR_REQ_F_MORE on `queue`. */
void ustor_block_kick(struct ustor_block_device *bdev, uint16_t queue);

/* Choose the scheduling policy (enum ustor_block_policy); INVALID_ARG for an
 * unknown one, or if USTOR_SCHED_CPU is asked without hal->cpu_id. */
ustor_status ustor_block_set_policy(struct ustor_block_device *bdev,
				    enum ustor_block_policy policy);

/* ---- Driver hooks (for drivers, not kernels) ---- */

/* Statistics recorders behind the inline hooks below (stats.c). */
void ustor_stats_note_submit(struct ustor_block_device *bdev, struct ustor_block_req *req);
void ustor_stats_note_complete(struct ustor_block_device *bdev, struct ustor_block_req *req);

/* A driver calls this once when it accepts `req` (after the submit checks,
 * under the queue lock if it has one). */
static inline void ustor_stats_on_submit(struct ustor_block_device *bdev,
					 struct ustor_block_req *req)
{
	if (__builtin_expect(bdev->sched.stats != NULL, 0))
		ustor_stats_note_submit(bdev, req);
}

/* A driver calls this once when `req` is finished (status final, before the
 * done callback; under the queue lock if it has one). */
static inline void ustor_stats_on_complete(struct ustor_block_device *bdev,
					   struct ustor_block_req *req)
{
	if (__builtin_expect(bdev->sched.stats != NULL, 0))
		ustor_stats_note_complete(bdev, req);
}

/* Submit and poll until done or bdev->timeout_ms passes (then cancel). */
ustor_status ustor_block_run(struct ustor_block_device *bdev, struct ustor_block_req *req);

/* Synchronous read/write of nblocks at lba; bounces untranslatable buffers. */
ustor_status ustor_block_read(struct ustor_block_device *bdev, uint64_t lba, uint32_t nblocks,
			      void *buf);
ustor_status ustor_block_write(struct ustor_block_device *bdev, uint64_t lba, uint32_t nblocks,
			       const void *buf);

/* Synchronous flush of the volatile write cache (OK when there is none). */
ustor_status ustor_block_flush(struct ustor_block_device *bdev);

/* Synchronous discard / write-zeroes; USTOR_ERR_UNSUPPORTED if absent. */
ustor_status ustor_block_discard(struct ustor_block_device *bdev, uint64_t lba, uint32_t nblocks);
ustor_status ustor_block_write_zeroes(struct ustor_block_device *bdev, uint64_t lba,
				      uint32_t nblocks);

#endif
