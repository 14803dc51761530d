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
