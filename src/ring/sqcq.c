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
	q->qid = qid;
	q->depth = depth;
	q->sq_bytes = (uint32_t)depth << USTOR_NVME_SQE_SIZE_LOG2;
	q->cq_bytes = (uint32_t)depth << USTOR_NVME_CQE_SIZE_LOG2;
	q->sq = hal->dma_alloc(hal->ctx, q->sq_bytes, page_size, &q->sq_bus);
	q->cq = hal->dma_alloc(hal->ctx, q->cq_bytes, page_size, &q->cq_bus);
	if (q->sq == NULL || q->cq == NULL) {
		ustor_sqcq_fini(q);
		return USTOR_ERR_NO_MEMORY;
	}
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

ustor_status ustor_sqcq_push(struct ustor_sqcq *q, const struct ustor_nvme_sqe *sqe)
{
	struct ustor_nvme_sqe *slot;
	uint16_t next;

	next = (uint16_t)(q->sq_tail + 1u);
	if (next == q->depth) /* compare and reset: depth need not be a power of two */
		next = 0;
	if (next == q->sq_head)
		return USTOR_ERR_BUSY;
	slot = (struct ustor_nvme_sqe *)(void *)(q->sq + ((uint32_t)q->sq_tail << USTOR_NVME_SQE_SIZE_LOG2));
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
	ustor_memcpy(slot, sqe, sizeof(*slot));
#endif
	q->sq_tail = next;
	return USTOR_OK;
}

void ustor_sqcq_ring_sq(struct ustor_sqcq *q)
{
	const struct ustor_hal *hal = q->hal;

	if (q->sq_tail == q->sq_rung)
		return;
	if (hal->dma_sync != NULL)
		hal->dma_sync(hal->ctx, q->sq, q->sq_bytes, USTOR_DMA_TO_DEVICE);
	/* The device must see the SQ entries before it sees the new tail. */
	hal->wmb(hal->ctx);
	hal->mmio_write32(hal->ctx, q->sq_db, q->sq_tail);
	q->sq_rung = q->sq_tail;
}

int ustor_sqcq_reap(struct ustor_sqcq *q, struct ustor_nvme_cqe *out)
{
	const struct ustor_hal *hal = q->hal;
	volatile struct ustor_nvme_cqe *cqe = &q->cq[q->cq_head];
	uint16_t status;
	uint16_t sqhd;

	if (hal->dma_sync != NULL)
		hal->dma_sync(hal->ctx, (const void *)cqe, sizeof(*cqe), USTOR_DMA_FROM_DEVICE);
	status = ustor_le16_to_cpu(cqe->status);
	if ((status & 1u) != q->cq_phase)
		return 0;
	/* The phase tag is written last by the device: do not let the reads of
	 * the other fields be satisfied before the phase was seen. */
	hal->rmb(hal->ctx);
	out->dw0 = ustor_le32_to_cpu(cqe->dw0);
	out->dw1 = ustor_le32_to_cpu(cqe->dw1);
	sqhd = ustor_le16_to_cpu(cqe->sqhd);
	out->sqhd = sqhd;
	out->sqid = ustor_le16_to_cpu(cqe->sqid);
	out->cid = ustor_le16_to_cpu(cqe->cid);
	out->status = (uint16_t)(status >> 1);

	/* A hostile SQ head must not become our index. */
	if (sqhd < q->depth)
		q->sq_head = sqhd;
	else
		q->bad_sqhd++;

	if (++q->cq_head == q->depth) {
		q->cq_head = 0;
		q->cq_phase ^= 1u;
	}
	q->cq_seen++;
	return 1;
}

void ustor_sqcq_ring_cq(struct ustor_sqcq *q)
{
	const struct ustor_hal *hal = q->hal;

	if (q->cq_seen == 0)
		return;
	hal->mmio_write32(hal->ctx, q->cq_db, q->cq_head);
	q->cq_seen = 0;
}
