/* SPDX-License-Identifier: MIT */
/* Internal interfaces between the NVMe driver's files. */
#ifndef USTOR_NVME_INTERNAL_H
#define USTOR_NVME_INTERNAL_H

#include "ustor/endian.h"
#include "ustor/nvme.h"

#include "../core/log.h"
#include "../core/mem.h"
#include "../core/wait.h"

/* Controller lifecycle (ctrl->state). */
#define USTOR_NVME_STATE_OFF 0
#define USTOR_NVME_STATE_READY 1
#define USTOR_NVME_STATE_SHUT_DOWN 2
#define USTOR_NVME_STATE_STOPPING 3 /* shutdown deleting queues: admin only */
#define USTOR_NVME_STATE_RESETTING 4 /* recovery re-initialising: admin only, I/O gets BUSY */
#define USTOR_NVME_STATE_FAILED 5    /* given up: I/O gets ctrl->failed_status */

/* Branch hints and a way to keep a cold path out of its hot caller (GCC
 * and Clang, the compilers the library supports). */
#define USTOR_LIKELY(x) __builtin_expect(!!(x), 1)
#define USTOR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define USTOR_NOINLINE __attribute__((noinline))
#define USTOR_ALWAYS_INLINE inline __attribute__((always_inline))
/* Make the compiler take the value of `x` as it is from here on (an empty
 * asm that claims to change it), so it cannot rebuild it from how it was
 * computed: GCC turns a queue pointer back into ctrl + index *
 * sizeof(queue) at every use otherwise (a multiply each), and keeps a
 * 16-bit copy of a slot index beside the 32-bit one. */
#define USTOR_OPAQUE(x) __asm__("" : "+r"(x))

/* Slot kinds. */
#define USTOR_NVME_SLOT_FREE 0
#define USTOR_NVME_SLOT_BLOCK 1     /* one chunk of a block request */
#define USTOR_NVME_SLOT_RAW 2       /* a synchronous raw/admin command */
#define USTOR_NVME_SLOT_ABANDONED 3 /* owner timed out; drop the late completion */
/* A whole read/write request in one command (the fast path): the request
 * itself describes the command, the slot only records its owner; the error
 * path turns it into a BLOCK chunk (ustor_nvme_io_complete). */
#define USTOR_NVME_SLOT_ONE 4
/* A BLOCK chunk that failed transiently and waits (slot->stamp is its due
 * time) before it is sent again: CRD or Namespace Not Ready. */
#define USTOR_NVME_SLOT_DELAYED 5
/* A ONE command the watchdog has seen in flight: the fast path stores no
 * time at issue; the first epoch tick that finds a ONE slot makes it
 * ONE_AGED, stamped with the epoch before (it was issued after the last
 * tick), which is what a stamp at issue would have said. Otherwise it is
 * a ONE (its completion takes the general path). */
#define USTOR_NVME_SLOT_ONE_AGED 6
/* ONE or ONE_AGED, in one mask and compare (they differ in bit 1 only). */
_Static_assert((USTOR_NVME_SLOT_ONE_AGED & ~2u) == USTOR_NVME_SLOT_ONE &&
		       (USTOR_NVME_SLOT_DELAYED & ~2u) != USTOR_NVME_SLOT_ONE &&
		       (USTOR_NVME_SLOT_BLOCK & ~2u) != USTOR_NVME_SLOT_ONE &&
		       (USTOR_NVME_SLOT_ABANDONED & ~2u) != USTOR_NVME_SLOT_ONE,
	       "slot kinds ONE and ONE_AGED");
#define USTOR_NVME_SLOT_IS_ONE(kind) (((unsigned)(kind) & ~2u) == USTOR_NVME_SLOT_ONE)

/*
 * The queue's own bit in q->ring.flags: requests may be waiting to be
 * issued (q->waiting) or finished but not yet delivered (q->done_head).
 * Set (under the queue lock) whenever either list gets an entry; cleared
 * by a poll that finds both empty. So ring.flags == 0 (no lock, coherent,
 * nothing pending) lets submit and poll skip both lists on one test; with
 * any flag set they look at the lists themselves.
 */
#define USTOR_NVME_QF_PENDING USTOR_SQCQ_F_OWNER

/*
 * The queue's adaptive-completion bit in q->ring.flags (ADAPTIVE mode with
 * hal->irq_mask): submit and poll check the in-flight count against the
 * thresholds (ustor_nvme_adaptive_update). Being a flag, it sends the queue
 * down the general paths; plain queues pay nothing for it.
 */
#define USTOR_NVME_QF_ADAPTIVE USTOR_SQCQ_F_OWNER2

/*
 * Statistics are on for a device using this queue (set under the lock by a
 * submission that saw bdev->sched.stats; cleared by a poll that finds the
 * queue idle): polls take the general path, which calls
 * ustor_stats_on_complete for each request it finishes.
 */
#define USTOR_NVME_QF_STATS USTOR_SQCQ_F_OWNER3

/* Command id: slot index in bits 9:0, generation in bits 15:10. */
#define USTOR_NVME_CID_SLOT_BITS 10
/* One generation step as kept in the slot (already in bits 15:10). */
#define USTOR_NVME_GEN_STEP (1u << USTOR_NVME_CID_SLOT_BITS)
#define USTOR_NVME_CID_SLOT_MASK 0x3ffu

/* Largest transfer used when MDTS says "unlimited" and no cap is set. */
#define USTOR_NVME_DEFAULT_MAX_TRANSFER (2u * 1024u * 1024u)
/* Ceiling on cfg.max_transfer_bytes: keeps per-slot PRP list areas (and
 * their pool, depth x area) well inside 32 bits. */
#define USTOR_NVME_MAX_TRANSFER_CEILING (16u * 1024u * 1024u)

/* A synchronous command waiting for its completion. */
struct ustor_nvme_raw {
	struct ustor_nvme_cpl cpl;
	int done;
	ustor_status err; /* set (with done) when a reset ended the command */
};

/* Registers (nvme_regs.c). 64-bit ones go as two 32-bit halves, low first,
 * unless cfg.use_mmio64 (HARDWARE.md item 4). */
uint32_t ustor_nvme_rd32(const struct ustor_nvme_ctrl *ctrl, uint32_t off);
void ustor_nvme_wr32(const struct ustor_nvme_ctrl *ctrl, uint32_t off, uint32_t val);
uint64_t ustor_nvme_rd64(const struct ustor_nvme_ctrl *ctrl, uint32_t off);
void ustor_nvme_wr64(const struct ustor_nvme_ctrl *ctrl, uint32_t off, uint64_t val);
/* Log CAP, CC and CSTS with a reason. */
void ustor_nvme_log_regs(const struct ustor_nvme_ctrl *ctrl, const char *why);

/* Queues (nvme_queue.c). */
ustor_status ustor_nvme_queue_init(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
				   uint16_t qid, uint16_t depth, int io);
void ustor_nvme_queue_fini(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
/* Take a free slot (index) or return -1. */
static inline int ustor_nvme_slot_get(struct ustor_nvme_queue *q)
{
	unsigned idx;

	if (q->nfree == 0)
		return -1;
	idx = q->free_ids[--q->nfree];
	/* A new generation per use: a late or forged completion of an earlier
	 * use of this slot no longer matches. */
	q->slots[idx].gen = (uint16_t)(q->slots[idx].gen + USTOR_NVME_GEN_STEP);
	return (int)idx;
}

/* Free slot `idx`. Its owner is left as it was: no one reads the owner of
 * a FREE slot (whoever looks at owners checks the kind first). */
static inline void ustor_nvme_slot_put(struct ustor_nvme_queue *q, unsigned idx)
{
	uint16_t n = q->nfree;

	q->slots[idx].kind = USTOR_NVME_SLOT_FREE;
	q->free_ids[n] = (uint16_t)idx;
	q->nfree = (uint16_t)(n + 1u); /* after the store into free_ids, which may alias it */
}
/* Command id for a slot's current generation. */
static inline uint16_t ustor_nvme_cid(const struct ustor_nvme_queue *q, unsigned idx)
{
	return (uint16_t)(idx | q->slots[idx].gen);
}

/* The namespace behind one of its block devices: the device is the
 * namespace's first member, so this is the same address (no load). */
_Static_assert(offsetof(struct ustor_nvme_ns, bdev) == 0, "bdev first in ustor_nvme_ns");
static inline struct ustor_nvme_ns *ustor_nvme_bdev_ns(struct ustor_block_device *bdev)
{
	return (struct ustor_nvme_ns *)(void *)bdev;
}

/* The I/O queue a request names; out of range means the first. Queue 0,
 * the common case, costs no multiply. */
static inline struct ustor_nvme_queue *ustor_nvme_io_queue(struct ustor_nvme_ctrl *ctrl,
							   uint16_t queue)
{
	struct ustor_nvme_queue *q = ctrl->io;

	if (queue != 0 && queue < ctrl->nio)
		q += queue;
	USTOR_OPAQUE(q);
	return q;
}

/* Reap completions, ring the CQ doorbell once, issue waiting requests;
 * returns block requests finished. Caller holds the queue lock. Finished
 * requests wait on q->done_head (USTOR_NVME_QF_PENDING set) for the next
 * ustor_nvme_ns_poll. */
unsigned ustor_nvme_queue_process(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
/* The namespace block devices' poll (ustor_nvme_ns_ops): reap the I/O
 * queue `queue` names and run the callbacks of the requests that finished,
 * never under the queue lock (they may submit again); returns how many.
 * Nothing when the controller is not ready. */
unsigned ustor_nvme_ns_poll(struct ustor_block_device *bdev, uint16_t queue);
/* Run one raw command synchronously on q, bounded by timeout_ms. `sqe` is
 * completed with the cid (and PRPs for `data`/`len` when data != NULL,
 * built in the command's own slot). A failed status -> mapped error. */
ustor_status ustor_nvme_exec(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
			     struct ustor_nvme_sqe *sqe, const void *data, uint32_t len,
			     uint32_t timeout_ms, struct ustor_nvme_cpl *out);
/* Admin command (no data, or data pointers already set). */
ustor_status ustor_nvme_admin(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_sqe *sqe,
			      struct ustor_nvme_cpl *out);
/* Admin command whose data is the controller's admin page. */
ustor_status ustor_nvme_admin_page(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_sqe *sqe,
				   struct ustor_nvme_cpl *out);

/* PRPs for [buf, buf+len) (nvme_prp.c). Uses the PRP list area of q's
 * slot `idx` (q->prp_pool + idx * q->prp_area_bytes). */
ustor_status ustor_nvme_prp_build(const struct ustor_nvme_ctrl *ctrl,
				  const struct ustor_nvme_queue *q, unsigned idx, const uint8_t *buf,
				  uint32_t len, struct ustor_nvme_sqe *sqe);
/* PRP list bytes one slot needs for transfers up to max_transfer. */
uint32_t ustor_nvme_prp_area_bytes(uint32_t max_transfer, uint32_t page_size);

/* I/O (nvme_io.c). */
extern const struct ustor_block_ops ustor_nvme_ns_ops;
/* Finished requests whose callbacks are still to run, in completion order
 * (linked through next_waiting). */
struct ustor_nvme_done {
	struct ustor_block_req *head;
	struct ustor_block_req *tail;
};

static inline void ustor_nvme_done_add(struct ustor_nvme_done *d, struct ustor_block_req *req)
{
	req->next_waiting = NULL;
	if (d->tail != NULL)
		d->tail->next_waiting = req;
	else
		d->head = req;
	d->tail = req;
}

/* A request is finished (status final): statistics (its namespace's
 * device), then onto `d` for its callback. Caller holds the queue lock. */
static inline void ustor_nvme_finish(struct ustor_nvme_done *d, struct ustor_block_req *req)
{
	ustor_stats_on_complete(&((struct ustor_nvme_ns *)req->drv)->bdev, req);
	ustor_nvme_done_add(d, req);
}

/* A block command (BLOCK or ONE slot) completed, other than a ONE that
 * succeeded (queue processing finishes that itself): on an error, retry it
 * or record the error. A request this finishes goes on `done`; returns 1
 * then. */
int ustor_nvme_io_complete(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
			   unsigned idx, uint16_t status, struct ustor_nvme_done *done);
/* Issue what waiting requests can now issue; one that fails with nothing
 * in flight is finished onto `done`. */
void ustor_nvme_io_issue_waiting(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q,
				 struct ustor_nvme_done *done);

/* Finish every request still in the I/O queues (in flight, waiting, or
 * completed but undelivered) with `status`, callbacks included. Only when
 * the controller is stopped (no DMA can follow). */
void ustor_nvme_io_fail_all(struct ustor_nvme_ctrl *ctrl, ustor_status status);

/* Recovery (nvme_recover.c). */
/* Poll-path check of queue q (outside its lock): delayed retries that are
 * due, per-command deadlines (Abort, then reset), CSTS when nothing
 * progressed, a reset an admin timeout asked for. */
void ustor_nvme_watchdog(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
/* Reset and re-initialise for `cause` (TIMEOUT, FATAL, ...), or fail the
 * controller when over the reset limit or re-initialisation fails. */
ustor_status ustor_nvme_recover(struct ustor_nvme_ctrl *ctrl, ustor_status cause);
/* Give up: disable if possible, state FAILED, every request ends with `st`. */
void ustor_nvme_ctrl_fail(struct ustor_nvme_ctrl *ctrl, ustor_status st);
/* Delay (ms) before retrying a command that failed with `status` (CRD from
 * CRDT1-3, Namespace Not Ready), capped; 0 = retry at once. */
uint32_t ustor_nvme_retry_delay_ms(const struct ustor_nvme_ctrl *ctrl, uint16_t status);
/* Send the chunk in slot idx again (a fresh command id). 0 = sent. */
int ustor_nvme_io_resend(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q, unsigned idx);
/* Clock in the units of slot->stamp for delayed retries (ns >> 20, about
 * a millisecond; 16 bits wrap after 68 s, so delays stay under 30 s). */
static inline uint16_t ustor_nvme_ms_clock(const struct ustor_hal *hal)
{
	return (uint16_t)(hal->now_ns(hal->ctx) >> 20);
}

/* Bring-up steps shared with recovery (nvme_ctrl.c). */
ustor_status ustor_nvme_disable(struct ustor_nvme_ctrl *ctrl, int handoff);
ustor_status ustor_nvme_enable(struct ustor_nvme_ctrl *ctrl);
void ustor_nvme_set_max_transfer(struct ustor_nvme_ctrl *ctrl);
void ustor_nvme_free_all(struct ustor_nvme_ctrl *ctrl);

/* Namespaces (nvme_ns.c). */
ustor_status ustor_nvme_ns_scan(struct ustor_nvme_ctrl *ctrl);

/* Identify decoding (nvme_identify.c). */
void ustor_nvme_decode_id_ctrl(const struct ustor_nvme_id_ctrl *id, struct ustor_nvme_ctrl_info *out);
ustor_status ustor_nvme_decode_id_ns(const struct ustor_nvme_id_ns *id, uint32_t nsid,
				     struct ustor_nvme_ns_info *out);

/* USTOR_REQ_F_MORE on the fast path: publish the entry without the
 * doorbell; the pending flag sends the next submit and poll the general
 * way, which ring it (so a caller who never kicks still completes). Out of
 * line: batching is the uncommon case of the plain path. */
void ustor_nvme_defer_db(struct ustor_nvme_queue *q);

/* ADAPTIVE completions (nvme_irq.c): mask the queue's vector once its
 * in-flight count reaches the high threshold, unmask it at the low one.
 * Caller holds the queue lock (if any). */
void ustor_nvme_adaptive_update(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
/* Decide the completion mode and thresholds from cfg and the HAL; set
 * Interrupt Coalescing if cfg asks (after the I/O queues exist). */
void ustor_nvme_irq_setup(struct ustor_nvme_ctrl *ctrl);
void ustor_nvme_irq_coalesce_setup(struct ustor_nvme_ctrl *ctrl);

/*
 * Shadow doorbells (nvme_dbbuf.c). Allocate (first time) and zero the
 * shadow and EventIdx pages, issue Doorbell Buffer Config, and attach every
 * existing queue's ring (admin included, which always rings MMIO as well).
 * A no-op returning OK when cfg.shadow_doorbells is off or OACS bit 8 is
 * clear; on any failure (including admin commands refused because
 * ctrl->state is not READY) the controller keeps MMIO doorbells, and only
 * USTOR_ERR_NO_MEMORY is returned. Init calls it
 * before creating I/O queues; a controller reset must call it again after
 * the admin queue is back (the setting does not survive a reset), before or
 * after re-creating I/O queues.
 */
ustor_status ustor_nvme_dbbuf_setup(struct ustor_nvme_ctrl *ctrl);
/* Attach one I/O queue created after ustor_nvme_dbbuf_setup. */
void ustor_nvme_dbbuf_attach(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q);
/* Detach every ring and free the pages (controller stopped or reset). */
void ustor_nvme_dbbuf_free(struct ustor_nvme_ctrl *ctrl);

/* Lock helpers: no-ops when the HAL has no lock (the ring's flags say
 * so in one byte: USTOR_SQCQ_F_LOCK). */
static inline void ustor_nvme_lock(const struct ustor_hal *hal, struct ustor_nvme_queue *q)
{
	if ((q->ring.flags & USTOR_SQCQ_F_LOCK) && hal->lock != NULL)
		hal->lock(hal->ctx, &q->lock_word);
}

static inline void ustor_nvme_unlock(const struct ustor_hal *hal, struct ustor_nvme_queue *q)
{
	if ((q->ring.flags & USTOR_SQCQ_F_LOCK) && hal->unlock != NULL)
		hal->unlock(hal->ctx, &q->lock_word);
}

#endif
