/* SPDX-License-Identifier: MIT */
/* Generic submission/completion ring pair (NVMe Base spec 3.3, 4.1, 4.6). */
#include "ustor/endian.h"
#include "ustor/sqcq.h"

#include "../core/mem.h"

static volatile void *ustor_sqcq_db(volatile void *regs, uint32_t index, uint32_t dstrd)
{
	/* Doorbell n sits at 0x1000 + n * (4 << CAP.DSTRD); SQ y is n = 2y,
	 * CQ y is n = 2y + 1 (Base spec 3.1.22-3.1.23). */
	return (volatile uint8_t *)regs + USTOR_NVME_REG_DBS + ((uintptr_t)index << (2 + dstrd));
}

void ustor_sqcq_reset(struct ustor_sqcq *q)
{
	q->sq_tail = 0;
	q->sq_head = 0;
	q->sq_rung = 0;
	q->cq_head = 0;
	q->cq_seen = 0;
	q->cq_phase = 1;
	q->bad_sqhd = 0;
	if (q->cq != NULL)
		ustor_memset((void *)q->cq, 0, q->cq_bytes);
}

ustor_status ustor_sqcq_init(struct ustor_sqcq *q, const struct ustor_hal *hal,
			     volatile void *regs, uint16_t qid, uint16_t depth,
			     uint32_t dstrd, uint32_t page_size)
{
	ustor_memset(q, 0, sizeof(*q));
	if (depth < 2)
		return USTOR_ERR_INVALID_ARG;
	q->hal = hal;
	q->flags = (uint8_t)((hal->dma_sync != NULL ? USTOR_SQCQ_F_SYNC : 0u) |
			     (hal->lock != NULL || hal->unlock != NULL ? USTOR_SQCQ_F_LOCK : 0u));
	q->qid = qid;
	q->page_mask = page_size - 1u;
	q->depth = depth;
	q->sq_bytes = (uint32_t)depth << USTOR_NVME_SQE_SIZE_LOG2;
	q->cq_bytes = (uint32_t)depth << USTOR_NVME_CQE_SIZE_LOG2;
	q->sq = hal->dma_alloc(hal->ctx, q->sq_bytes, page_size, &q->sq_bus);
	q->cq = hal->dma_alloc(hal->ctx, q->cq_bytes, page_size, &q->cq_bus);
	if (q->sq == NULL || q->cq == NULL) {
		ustor_sqcq_fini(q);
		return USTOR_ERR_NO_MEMORY;
	}
	q->cq_db_every = (uint16_t)(depth / 4u != 0 ? depth / 4u : 1u);
	q->sq_db = ustor_sqcq_db(regs, 2u * qid, dstrd);
	q->cq_db = ustor_sqcq_db(regs, 2u * qid + 1u, dstrd);
	ustor_sqcq_reset(q);
	return USTOR_OK;
}

void ustor_sqcq_fini(struct ustor_sqcq *q)
{
	const struct ustor_hal *hal = q->hal;

	if (hal == NULL)
		return;
	if (q->sq != NULL)
		hal->dma_free(hal->ctx, q->sq, q->sq_bytes);
	if (q->cq != NULL)
		hal->dma_free(hal->ctx, (void *)q->cq, q->cq_bytes);
	q->sq = NULL;
	q->cq = NULL;
}

void ustor_sqcq_shadow_db(struct ustor_sqcq *q, volatile uint32_t *shadow,
			  volatile uint32_t *evt, volatile void *db, uint16_t val)
{
	const struct ustor_hal *hal = q->hal;
	uint16_t old = (uint16_t)ustor_le32_to_cpu(*shadow);
	uint16_t e;

	*shadow = ustor_cpu_to_le32(val);
	if (q->flags & USTOR_SQCQ_F_SYNC)
		hal->dma_sync(hal->ctx, (const void *)shadow, sizeof(*shadow), USTOR_DMA_TO_DEVICE);
	if (evt == NULL) {
		hal->wmb(hal->ctx); /* shadow value before the doorbell */
		hal->mmio_write32(hal->ctx, db, val);
		return;
	}
	/* Store the shadow value, then load the EventIdx: a store -> load
	 * order that only a full barrier gives. Without it the device may
	 * miss the new value while the host misses the new EventIdx. */
	ustor_sqcq_mb();
	if (q->flags & USTOR_SQCQ_F_SYNC)
		hal->dma_sync(hal->ctx, (const void *)evt, sizeof(*evt), USTOR_DMA_FROM_DEVICE);
	e = (uint16_t)ustor_le32_to_cpu(*evt);
	if (!ustor_sqcq_need_event(e, val, old)) {
		q->db_skipped++;
		return;
	}
	hal->mmio_write32(hal->ctx, db, val);
}

void ustor_sqcq_shadow_attach(struct ustor_sqcq *q, uint8_t *shadow_page, uint8_t *evt_page,
			      uint32_t dstrd, int use_evt)
{
	uintptr_t sq_off = (uintptr_t)(2u * q->qid) << (2 + dstrd);
	uintptr_t cq_off = (uintptr_t)(2u * q->qid + 1u) << (2 + dstrd);

	q->sq_shadow = (volatile uint32_t *)(void *)(shadow_page + sq_off);
	q->cq_shadow = (volatile uint32_t *)(void *)(shadow_page + cq_off);
	q->sq_evt = use_evt ? (volatile uint32_t *)(void *)(evt_page + sq_off) : NULL;
	q->cq_evt = use_evt ? (volatile uint32_t *)(void *)(evt_page + cq_off) : NULL;
	/* The device reads these instead of the last MMIO values: they must
	 * say where the ring is now. */
	*q->sq_shadow = ustor_cpu_to_le32(q->sq_rung);
	*q->cq_shadow = ustor_cpu_to_le32((uint32_t)(q->cq_head - q->cq_seen + (q->cq_head < q->cq_seen ? q->depth : 0u)));
	q->flags |= USTOR_SQCQ_F_SHADOW;
}

void ustor_sqcq_shadow_detach(struct ustor_sqcq *q)
{
	q->flags &= (uint8_t)~USTOR_SQCQ_F_SHADOW;
	q->sq_shadow = NULL;
	q->cq_shadow = NULL;
	q->sq_evt = NULL;
	q->cq_evt = NULL;
}
