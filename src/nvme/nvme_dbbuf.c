/* SPDX-License-Identifier: MIT */
/*
 * NVMe shadow doorbells: Doorbell Buffer Config (admin 7Ch, Base spec 2.0
 * section 5.8; OACS bit 8). The host writes each SQ tail / CQ head to a
 * shadow page and writes the MMIO doorbell only when the controller's
 * EventIdx page says it is needed (ustor_sqcq_shadow_db).
 */
#include "nvme_internal.h"

void ustor_nvme_dbbuf_free(struct ustor_nvme_ctrl *ctrl)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint16_t i;

	ustor_sqcq_shadow_detach(&ctrl->admin.ring);
	for (i = 0; i < USTOR_NVME_MAX_IO_QUEUES; i++)
		ustor_sqcq_shadow_detach(&ctrl->io[i].ring);
	if (ctrl->dbbuf_shadow != NULL)
		hal->dma_free(hal->ctx, ctrl->dbbuf_shadow, ctrl->page_size);
	if (ctrl->dbbuf_evt != NULL)
		hal->dma_free(hal->ctx, ctrl->dbbuf_evt, ctrl->page_size);
	ctrl->dbbuf_shadow = NULL;
	ctrl->dbbuf_evt = NULL;
	ctrl->dbbuf_on = 0;
}

void ustor_nvme_dbbuf_attach(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	if (!ctrl->dbbuf_on || q->ring.sq == NULL)
		return;
	ustor_sqcq_shadow_attach(&q->ring, ctrl->dbbuf_shadow, ctrl->dbbuf_evt, ctrl->dstrd, 1);
	if (ctrl->hal->dma_sync != NULL)
		ctrl->hal->dma_sync(ctrl->hal->ctx, ctrl->dbbuf_shadow, ctrl->page_size,
				    USTOR_DMA_TO_DEVICE);
}

ustor_status ustor_nvme_dbbuf_setup(struct ustor_nvme_ctrl *ctrl)
{
	const struct ustor_hal *hal = ctrl->hal;
	struct ustor_nvme_sqe sqe;
	uint32_t need;
	ustor_status st;
	uint16_t tail;
	uint16_t i;

	/* Any earlier setting died with the reset that led here. */
	ustor_sqcq_shadow_detach(&ctrl->admin.ring);
	for (i = 0; i < USTOR_NVME_MAX_IO_QUEUES; i++)
		ustor_sqcq_shadow_detach(&ctrl->io[i].ring);
	ctrl->dbbuf_on = 0;
	if (!ctrl->cfg.shadow_doorbells || !(ctrl->info.oacs & USTOR_NVME_OACS_DBBUF))
		return USTOR_OK;
	/* Both pages hold one dword per doorbell, at the doorbell stride:
	 * every queue we may create must fit in one page. */
	need = (2u * (USTOR_NVME_MAX_IO_QUEUES + 1u)) << (2u + ctrl->dstrd);
	if (need > ctrl->page_size) {
		USTOR_WARN(hal, "nvme%u: shadow doorbells need %u bytes (CAP.DSTRD %u): not used",
			   (unsigned)ctrl->cfg.index, need, ctrl->dstrd);
		return USTOR_OK;
	}
	if (ctrl->dbbuf_shadow == NULL)
		ctrl->dbbuf_shadow = hal->dma_alloc(hal->ctx, ctrl->page_size, ctrl->page_size,
						    &ctrl->dbbuf_shadow_bus);
	if (ctrl->dbbuf_evt == NULL)
		ctrl->dbbuf_evt = hal->dma_alloc(hal->ctx, ctrl->page_size, ctrl->page_size,
						 &ctrl->dbbuf_evt_bus);
	if (ctrl->dbbuf_shadow == NULL || ctrl->dbbuf_evt == NULL) {
		ustor_nvme_dbbuf_free(ctrl);
		return USTOR_ERR_NO_MEMORY;
	}
	ustor_memset(ctrl->dbbuf_shadow, 0, ctrl->page_size);
	ustor_memset(ctrl->dbbuf_evt, 0, ctrl->page_size);
	/* Current positions of queues that exist already (after a reset the
	 * kernel may re-create I/O queues first); the admin SQ's entry counts
	 * the Doorbell Buffer Config command itself, which the controller may
	 * read back from the shadow page once it takes it. */
	for (i = 0; i < ctrl->nio; i++) {
		struct ustor_nvme_queue *q = &ctrl->io[i];

		/* Values only: the rings switch once the command succeeds. */
		if (q->ring.sq != NULL) {
			ustor_sqcq_shadow_attach(&q->ring, ctrl->dbbuf_shadow, ctrl->dbbuf_evt,
						 ctrl->dstrd, 1);
			ustor_sqcq_shadow_detach(&q->ring);
		}
	}
	tail = (uint16_t)(ctrl->admin.ring.sq_tail + 1u);
	if (tail == ctrl->admin.ring.depth)
		tail = 0;
	*(volatile uint32_t *)(void *)ctrl->dbbuf_shadow = ustor_cpu_to_le32(tail);
	*(volatile uint32_t *)(void *)(ctrl->dbbuf_shadow + (4u << ctrl->dstrd)) =
		ustor_cpu_to_le32(ctrl->admin.ring.cq_head);
	if (hal->dma_sync != NULL) {
		hal->dma_sync(hal->ctx, ctrl->dbbuf_shadow, ctrl->page_size, USTOR_DMA_TO_DEVICE);
		hal->dma_sync(hal->ctx, ctrl->dbbuf_evt, ctrl->page_size, USTOR_DMA_BIDIRECTIONAL);
	}
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_DBBUF_CONFIG;
	sqe.prp1 = ctrl->dbbuf_shadow_bus;
	sqe.prp2 = ctrl->dbbuf_evt_bus;
	st = ustor_nvme_admin(ctrl, &sqe, NULL);
	if (st != USTOR_OK) {
		USTOR_WARN(hal, "nvme%u: Doorbell Buffer Config failed (%s): MMIO doorbells",
			   (unsigned)ctrl->cfg.index, ustor_status_name(st));
		ustor_nvme_dbbuf_free(ctrl);
		return USTOR_OK;
	}
	ctrl->dbbuf_on = 1;
	/* The admin queue rings its MMIO doorbell every time as well (evt
	 * NULL): controllers differ on whether they read its shadow entries
	 * (Linux never writes them), and it is not a hot path. */
	ustor_sqcq_shadow_attach(&ctrl->admin.ring, ctrl->dbbuf_shadow, ctrl->dbbuf_evt,
				 ctrl->dstrd, 0);
	for (i = 0; i < ctrl->nio; i++)
		ustor_nvme_dbbuf_attach(ctrl, &ctrl->io[i]);
	USTOR_INFO(hal, "nvme%u: shadow doorbells on", (unsigned)ctrl->cfg.index);
	return USTOR_OK;
}
