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
	uint8_t cq_phase;                   /* phase tag that means "new" */
	uint8_t rsvd;
	uint16_t qid;

	/* Cold. */
	ustor_bus_addr sq_bus;
	ustor_bus_addr cq_bus;
	uint32_t sq_bytes;
	uint32_t cq_bytes;
	uint32_t bad_sqhd;                  /* device reported an impossible SQ head */
};

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

/* Copy a CPU-order command into the next SQ slot (little-endian); returns
 * USTOR_ERR_BUSY when full. The doorbell is not rung. */
ustor_status ustor_sqcq_push(struct ustor_sqcq *q, const struct ustor_nvme_sqe *sqe);

/* Ring the SQ tail doorbell if anything was pushed since the last ring. */
void ustor_sqcq_ring_sq(struct ustor_sqcq *q);

/*
 * If the next CQ entry carries the current phase, copy it to *out in CPU
 * order (status without the phase bit: see USTOR_NVME_STATUS_*), advance
 * the head and return 1; otherwise return 0. The CQ doorbell is not rung.
 */
int ustor_sqcq_reap(struct ustor_sqcq *q, struct ustor_nvme_cqe *out);

/* Tell the device how far the CQ was consumed (one doorbell per batch). */
void ustor_sqcq_ring_cq(struct ustor_sqcq *q);

#endif
