/* SPDX-License-Identifier: MIT */
/*
 * uStor generic NVMe-style submission/completion ring pair: circular
 * indices, phase tag, doorbells at the controller's doorbell stride. Used by
 * the NVMe admin queue and every I/O queue. Knows nothing about commands;
 * the caller owns command ids and request tracking.
 */
#ifndef USTOR_SQCQ_H
#define USTOR_SQCQ_H

#include <stdint.h>

#include "endian.h"
#include "hal.h"
#include "nvme_spec.h"

struct ustor_sqcq {
	/* Hot fields first: everything submit and poll touch. */
	uint8_t *sq;                        /* depth * 64 bytes, DMA */
	volatile struct ustor_nvme_cqe *cq; /* depth entries, DMA */
	volatile void *sq_db;               /* SQ tail doorbell */
	volatile void *cq_db;               /* CQ head doorbell */
	const struct ustor_hal *hal;
	uint16_t depth;                     /* entries in each ring */
	uint16_t sq_tail;                   /* next SQ slot the host fills */
	uint16_t sq_head;                   /* last SQ head the device reported */
	uint16_t sq_rung;                   /* tail value last written to the doorbell */
	uint16_t cq_head;                   /* next CQ slot to look at */
	uint16_t cq_seen;                   /* completions consumed since the last CQ doorbell */
	uint16_t cq_db_every;               /* ring the CQ doorbell once this many are consumed */
	uint8_t cq_phase;                   /* phase tag that means "new" */
	uint8_t flags;                      /* USTOR_SQCQ_F_* */
	uint16_t qid;
	uint32_t page_mask;                 /* page_size - 1 (ustor_sqcq_init): the
					     * rings' alignment, and the memory page
					     * size of the owner's commands (PRPs) */

	/* Shadow doorbells (USTOR_SQCQ_F_SHADOW; ustor_sqcq_shadow_attach):
	 * this ring's dwords in the Doorbell Buffer Config pages (DMA,
	 * little-endian). An EventIdx pointer left NULL means "always ring
	 * the MMIO doorbell as well" (the admin queue). */
	volatile uint32_t *sq_shadow;
	volatile uint32_t *cq_shadow;
	volatile uint32_t *sq_evt;
	volatile uint32_t *cq_evt;
	uint32_t db_skipped;                /* MMIO doorbell writes the EventIdx test saved */

	/* Cold. */
	ustor_bus_addr sq_bus;
	ustor_bus_addr cq_bus;
	uint32_t sq_bytes;
	uint32_t cq_bytes;
	uint32_t bad_sqhd;                  /* device reported an impossible SQ head */
};

/*
 * ustor_sqcq.flags. The HAL bits are set by ustor_sqcq_init from the HAL,
 * which does not change while a ring lives (hal.h); the owner bit is the
 * ring user's own. Hot paths read the byte once and pass it on (the
 * *_flags variants below): 0, the common case of a coherent CPU without
 * queue locks and nothing pending, is one test, and a caller that passes
 * the constant 0 gets code with the cache maintenance compiled out.
 */
#define USTOR_SQCQ_F_SYNC 0x01u  /* hal->dma_sync set: not DMA-coherent, rings need syncs */
#define USTOR_SQCQ_F_LOCK 0x02u  /* hal->lock or unlock set: the owner locks around the ring */
#define USTOR_SQCQ_F_SHADOW 0x04u /* shadow doorbells: write the shadow dword, ring the
				   * MMIO doorbell only when the EventIdx test says so */
#define USTOR_SQCQ_F_WRAPPED 0x08u /* set when the CQ head wraps; the owner clears it
				    * (a periodic event that costs the hot path nothing) */
#define USTOR_SQCQ_F_OWNER3 0x20u /* the ring's owner's own, like F_OWNER */
#define USTOR_SQCQ_F_OWNER2 0x40u /* the ring's owner's own, like F_OWNER */
#define USTOR_SQCQ_F_OWNER 0x80u /* the ring's owner's own (set, cleared, never read here) */

/*
 * Full memory barrier (store -> load ordering too), which the HAL does not
 * offer (wmb orders stores, rmb loads). Shadow doorbells need one between
 * writing the shadow value and reading the EventIdx: otherwise the load
 * may pass the store and both sides miss the other's update. The
 * compiler's sequentially consistent fence is inline on every supported
 * target (x86: lock or / mfence, aarch64: dmb ish, riscv64: fence rw,rw);
 * m68k has none and runs one CPU in order, so a nop that drains the
 * 68040/060 pipeline stands in.
 */
static inline void ustor_sqcq_mb(void)
{
#if defined(__m68k__)
	__asm__ __volatile__("nop" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Shadow doorbell EventIdx test (NVMe Base spec 5.8, the same wrap-safe
 * comparison as virtio's vring_need_event): the device asked to be told
 * once the index passes `evt`; the host moved it from `old` to `now`. */
static inline int ustor_sqcq_need_event(uint16_t evt, uint16_t now, uint16_t old)
{
	return (uint16_t)(now - evt - 1u) < (uint16_t)(now - old);
}

/* Publish `val` through the shadow dword `shadow` (and its EventIdx `evt`,
 * NULL = always) and write the MMIO doorbell `db` only if the device needs
 * it. Out of line: only rings with USTOR_SQCQ_F_SHADOW come here. */
void ustor_sqcq_shadow_db(struct ustor_sqcq *q, volatile uint32_t *shadow,
			  volatile uint32_t *evt, volatile void *db, uint16_t val);

/* Give the ring its shadow dwords (in the pages of Doorbell Buffer Config,
 * laid out like the doorbells: SQ y at 2y, CQ y at 2y + 1, times 4 <<
 * dstrd bytes) and store its current tail and head there; `evt` NULL
 * makes every update ring the MMIO doorbell too. Sets F_SHADOW. */
void ustor_sqcq_shadow_attach(struct ustor_sqcq *q, uint8_t *shadow_page, uint8_t *evt_page,
			      uint32_t dstrd, int use_evt);

/* Back to plain MMIO doorbells (F_SHADOW cleared, pointers dropped). */
void ustor_sqcq_shadow_detach(struct ustor_sqcq *q);

/*
 * Allocate both rings (aligned to `page_size`) and compute doorbell
 * addresses from `regs` (BAR0), `qid` and `dstrd` (CAP.DSTRD).
 */
ustor_status ustor_sqcq_init(struct ustor_sqcq *q, const struct ustor_hal *hal,
			     volatile void *regs, uint16_t qid, uint16_t depth,
			     uint32_t dstrd, uint32_t page_size);

/* Free both rings; safe on a zeroed or already-freed ring. */
void ustor_sqcq_fini(struct ustor_sqcq *q);

/* Rewind indices and phase to the power-on state (after queue re-creation). */
void ustor_sqcq_reset(struct ustor_sqcq *q);

/* Non-zero when no SQ slot is free (the device has not consumed enough). */
static inline int ustor_sqcq_full(const struct ustor_sqcq *q)
{
	uint16_t next = (uint16_t)(q->sq_tail + 1u);
	if (next == q->depth)
		next = 0;
	return next == q->sq_head;
}

/*
 * The hot path is inline: submit and poll are a handful of instructions and
 * a call per step would cost more than the step.
 */

/* Copy a CPU-order command into the next SQ slot (little-endian); returns
 * USTOR_ERR_BUSY when full. The doorbell is not rung. */
static inline ustor_status ustor_sqcq_push(struct ustor_sqcq *q, const struct ustor_nvme_sqe *sqe)
{
	struct ustor_nvme_sqe *slot;
	uint16_t next = (uint16_t)(q->sq_tail + 1u);

	if (next == q->depth) /* compare and reset: depth need not be a power of two */
		next = 0;
	if (next == q->sq_head)
		return USTOR_ERR_BUSY;
	slot = (struct ustor_nvme_sqe *)(void *)(q->sq + ((size_t)q->sq_tail << USTOR_NVME_SQE_SIZE_LOG2));
#if USTOR_BIG_ENDIAN
	slot->cdw0 = ustor_cpu_to_le32(sqe->cdw0);
	slot->nsid = ustor_cpu_to_le32(sqe->nsid);
	slot->cdw2 = ustor_cpu_to_le32(sqe->cdw2);
	slot->cdw3 = ustor_cpu_to_le32(sqe->cdw3);
	slot->mptr = ustor_cpu_to_le64(sqe->mptr);
	slot->prp1 = ustor_cpu_to_le64(sqe->prp1);
	slot->prp2 = ustor_cpu_to_le64(sqe->prp2);
	slot->cdw10 = ustor_cpu_to_le32(sqe->cdw10);
	slot->cdw11 = ustor_cpu_to_le32(sqe->cdw11);
	slot->cdw12 = ustor_cpu_to_le32(sqe->cdw12);
	slot->cdw13 = ustor_cpu_to_le32(sqe->cdw13);
	slot->cdw14 = ustor_cpu_to_le32(sqe->cdw14);
	slot->cdw15 = ustor_cpu_to_le32(sqe->cdw15);
#else
	*slot = *sqe;
#endif
	q->sq_tail = next;
	return USTOR_OK;
}

/* The next SQ slot, for filling in place with little-endian fields, or
 * NULL when the ring is full; ustor_sqcq_advance() then publishes it. */
static inline struct ustor_nvme_sqe *ustor_sqcq_next(struct ustor_sqcq *q)
{
	uint16_t next = (uint16_t)(q->sq_tail + 1u);

	if (next == q->depth)
		next = 0;
	if (next == q->sq_head)
		return NULL;
	return (struct ustor_nvme_sqe *)(void *)(q->sq + ((size_t)q->sq_tail << USTOR_NVME_SQE_SIZE_LOG2));
}

static inline void ustor_sqcq_advance(struct ustor_sqcq *q)
{
	if (++q->sq_tail == q->depth)
		q->sq_tail = 0;
}

/* Publish the entry ustor_sqcq_next returned (filled in place): advance
 * the tail and ring the doorbell for it and anything pushed before it.
 * `flags` is q->flags as the caller read them. */
static inline void ustor_sqcq_commit_flags(struct ustor_sqcq *q, uint32_t flags)
{
	const struct ustor_hal *hal = q->hal;
	uint16_t tail = (uint16_t)(q->sq_tail + 1u);

	if (tail == q->depth)
		tail = 0;
	q->sq_tail = tail;
	q->sq_rung = tail;
	if (flags & USTOR_SQCQ_F_SYNC)
		hal->dma_sync(hal->ctx, q->sq, q->sq_bytes, USTOR_DMA_TO_DEVICE);
	/* The device must see the SQ entry before it sees the new tail. */
	hal->wmb(hal->ctx);
	/* Only q is kept across the barrier's call; the rest is read again. */
	if (flags & USTOR_SQCQ_F_SHADOW) {
		ustor_sqcq_shadow_db(q, q->sq_shadow, q->sq_evt, q->sq_db, q->sq_rung);
		return;
	}
	hal = q->hal;
	hal->mmio_write32(hal->ctx, q->sq_db, q->sq_rung);
}

/* Ring the SQ tail doorbell if anything was pushed since the last ring. */
static inline void ustor_sqcq_ring_sq(struct ustor_sqcq *q)
{
	const struct ustor_hal *hal = q->hal;
	uint16_t tail = q->sq_tail;

	if (tail == q->sq_rung)
		return;
	if (q->flags & USTOR_SQCQ_F_SYNC)
		hal->dma_sync(hal->ctx, q->sq, q->sq_bytes, USTOR_DMA_TO_DEVICE);
	/* The device must see the SQ entries before it sees the new tail. */
	hal->wmb(hal->ctx);
	q->sq_rung = tail;
	if (q->flags & USTOR_SQCQ_F_SHADOW) {
		ustor_sqcq_shadow_db(q, q->sq_shadow, q->sq_evt, q->sq_db, tail);
		return;
	}
	hal->mmio_write32(hal->ctx, q->sq_db, tail);
}

/*
 * The next CQ entry if it carries the current phase (the device posted
 * it), else NULL. Past the phase check and hal->rmb, so the entry's other
 * fields (little-endian) may be read; ustor_sqcq_pop() then consumes it.
 * `flags` is q->flags as the caller read them.
 */
static inline const volatile struct ustor_nvme_cqe *ustor_sqcq_peek_flags(struct ustor_sqcq *q,
									  uint32_t flags)
{
	const volatile struct ustor_nvme_cqe *cqe = &q->cq[q->cq_head];
	const struct ustor_hal *hal;

	if (flags & USTOR_SQCQ_F_SYNC) {
		hal = q->hal;
		hal->dma_sync(hal->ctx, (const void *)cqe, sizeof(*cqe), USTOR_DMA_FROM_DEVICE);
	}
	if ((ustor_le16_to_cpu(cqe->status) & 1u) != q->cq_phase)
		return NULL;
	/* The phase tag is written last by the device: do not let the reads of
	 * the other fields be satisfied before the phase was seen. */
	hal = q->hal;
	hal->rmb(hal->ctx);
	return cqe;
}

/* Consume the entry ustor_sqcq_peek_flags returned, whose SQ head field
 * (CPU order) is `sqhd`. The CQ doorbell is not rung. */
static inline void ustor_sqcq_pop(struct ustor_sqcq *q, uint16_t sqhd)
{
	/* A hostile SQ head must not become our index. */
	if (sqhd < q->depth)
		q->sq_head = sqhd;
	else
		q->bad_sqhd++;
	if (++q->cq_head == q->depth) {
		q->cq_head = 0;
		q->cq_phase ^= 1u;
		q->flags |= USTOR_SQCQ_F_WRAPPED;
	}
	q->cq_seen++;
}

/*
 * If the next CQ entry carries the current phase, copy dw0, sqhd, cid and
 * status to *out in CPU order (status without the phase bit: see
 * USTOR_NVME_STATUS_*; dw1 and sqid are not copied), advance
 * the head and return 1; otherwise return 0. The CQ doorbell is not rung.
 */
static inline int ustor_sqcq_reap(struct ustor_sqcq *q, struct ustor_nvme_cqe *out)
{
	const volatile struct ustor_nvme_cqe *cqe = ustor_sqcq_peek_flags(q, q->flags);

	if (cqe == NULL)
		return 0;
	out->dw0 = ustor_le32_to_cpu(cqe->dw0);
	out->sqhd = ustor_le16_to_cpu(cqe->sqhd);
	out->cid = ustor_le16_to_cpu(cqe->cid);
	out->status = (uint16_t)(ustor_le16_to_cpu(cqe->status) >> 1);
	ustor_sqcq_pop(q, out->sqhd);
	return 1;
}

/*
 * Tell the device how far the CQ was consumed, once cq_db_every entries
 * (a quarter of the ring) have been: one MMIO write per batch instead of per
 * completion. Safe because the device only ever lacks room for
 * cq_db_every - 1 entries it has not been told about; while its view of the
 * CQ is full it holds completions (Base spec 4.6), never drops them, and the
 * next poll reaps what it could post and rings. Force with `force` (queue
 * deletion, or a caller about to stop polling).
 */
static inline void ustor_sqcq_ring_cq(struct ustor_sqcq *q, int force)
{
	const struct ustor_hal *hal = q->hal;

	/* The common "not yet" first. */
	if ((!force && q->cq_seen < q->cq_db_every) || q->cq_seen == 0)
		return;
	q->cq_seen = 0;
	if (q->flags & USTOR_SQCQ_F_SHADOW) {
		ustor_sqcq_shadow_db(q, q->cq_shadow, q->cq_evt, q->cq_db, q->cq_head);
		return;
	}
	hal->mmio_write32(hal->ctx, q->cq_db, q->cq_head);
}

/* ustor_sqcq_ring_cq for a caller holding the ring's flags: with shadow
 * doorbells the head goes to the shadow dword after every pass that
 * consumed something (a memory store; the MMIO write only when the
 * EventIdx asks), else as ustor_sqcq_ring_cq. A constant 0 compiles to
 * ustor_sqcq_ring_cq. */
static inline void ustor_sqcq_ring_cq_flags(struct ustor_sqcq *q, int force, uint32_t flags)
{
	if ((flags & USTOR_SQCQ_F_SHADOW) && q->cq_seen != 0)
		force = 1;
	ustor_sqcq_ring_cq(q, force);
}

#endif
