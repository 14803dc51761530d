/* SPDX-License-Identifier: MIT */
/* I/O queue creation/deletion (Base spec 5.4, 5.5, 5.6, 5.7) and passthrough. */
#include "nvme_internal.h"

ustor_status ustor_nvme_create_io_cq(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	struct ustor_nvme_sqe sqe;

	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_CREATE_CQ;
	sqe.prp1 = q->ring.cq_bus;
	sqe.cdw10 = ((uint32_t)(q->ring.depth - 1u) << 16) | q->ring.qid;
	/* Physically contiguous; interrupts on vector qid only when asked for
	 * (completions are always polled as well). */
	sqe.cdw11 = USTOR_NVME_CREATE_CQ_PC;
	if (ctrl->irq_on)
		sqe.cdw11 |= USTOR_NVME_CREATE_CQ_IEN | ((uint32_t)q->ring.qid << 16);
	return ustor_nvme_admin(ctrl, &sqe, NULL);
}

uint16_t ustor_nvme_irq_vector(const struct ustor_nvme_ctrl *ctrl, uint16_t queue)
{
	(void)ctrl;
	return (uint16_t)(queue + 1u);
}

ustor_status ustor_nvme_create_io_sq(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	struct ustor_nvme_sqe sqe;

	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_CREATE_SQ;
	sqe.prp1 = q->ring.sq_bus;
	sqe.cdw10 = ((uint32_t)(q->ring.depth - 1u) << 16) | q->ring.qid;
	sqe.cdw11 = ((uint32_t)q->ring.qid << 16) | USTOR_NVME_CREATE_SQ_PC;
	return ustor_nvme_admin(ctrl, &sqe, NULL);
}

ustor_status ustor_nvme_delete_io_queue(struct ustor_nvme_ctrl *ctrl, uint8_t opcode, uint16_t qid)
{
	struct ustor_nvme_sqe sqe;

	if (opcode != USTOR_NVME_ADMIN_DELETE_SQ && opcode != USTOR_NVME_ADMIN_DELETE_CQ)
		return USTOR_ERR_INVALID_ARG;
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = opcode;
	sqe.cdw10 = qid;
	return ustor_nvme_admin(ctrl, &sqe, NULL);
}

static void ustor_nvme_cmd_to_sqe(const struct ustor_nvme_cmd *cmd, struct ustor_nvme_sqe *sqe)
{
	ustor_memset(sqe, 0, sizeof(*sqe));
	sqe->cdw0 = cmd->opcode;
	sqe->nsid = cmd->nsid;
	sqe->cdw2 = cmd->cdw2;
	sqe->cdw3 = cmd->cdw3;
	sqe->cdw10 = cmd->cdw10;
	sqe->cdw11 = cmd->cdw11;
	sqe->cdw12 = cmd->cdw12;
	sqe->cdw13 = cmd->cdw13;
	sqe->cdw14 = cmd->cdw14;
	sqe->cdw15 = cmd->cdw15;
}

ustor_status ustor_nvme_admin_passthrough(struct ustor_nvme_ctrl *ctrl,
					  const struct ustor_nvme_cmd *cmd, void *buf,
					  uint32_t len, int to_device, struct ustor_nvme_cpl *out)
{
	struct ustor_nvme_sqe sqe;
	ustor_status st;

	if (ctrl == NULL || cmd == NULL || (buf == NULL && len != 0) || len > ctrl->page_size)
		return USTOR_ERR_INVALID_ARG;
	if (ctrl->state != USTOR_NVME_STATE_READY)
		return USTOR_ERR_NOT_READY;
	ustor_nvme_cmd_to_sqe(cmd, &sqe);
	if (len == 0)
		return ustor_nvme_admin(ctrl, &sqe, out);
	/* Through the admin page (zeroed, synced for non-coherent CPUs). */
	if (to_device) {
		ustor_memset(ctrl->admin_buf, 0, ctrl->page_size);
		ustor_memcpy(ctrl->admin_buf, buf, len);
		sqe.prp1 = ctrl->admin_buf_bus;
		if (ctrl->hal->dma_sync != NULL)
			ctrl->hal->dma_sync(ctrl->hal->ctx, ctrl->admin_buf, len, USTOR_DMA_TO_DEVICE);
		return ustor_nvme_admin(ctrl, &sqe, out);
	}
	st = ustor_nvme_admin_page(ctrl, &sqe, out);
	if (st == USTOR_OK)
		ustor_memcpy(buf, ctrl->admin_buf, len);
	return st;
}

ustor_status ustor_nvme_io_passthrough(struct ustor_nvme_ctrl *ctrl, uint16_t queue,
				       const struct ustor_nvme_cmd *cmd, void *buf, uint32_t len,
				       struct ustor_nvme_cpl *out)
{
	struct ustor_nvme_queue *q;
	struct ustor_nvme_sqe sqe;
	ustor_status st;

	if (ctrl == NULL || cmd == NULL || (buf == NULL && len != 0) || len > ctrl->max_transfer)
		return USTOR_ERR_INVALID_ARG;
	if (ctrl->state != USTOR_NVME_STATE_READY)
		return USTOR_ERR_NOT_READY;
	if (queue >= ctrl->nio)
		return USTOR_ERR_INVALID_ARG;
	q = &ctrl->io[queue];
	ustor_nvme_cmd_to_sqe(cmd, &sqe);
	st = ustor_nvme_exec(ctrl, q, &sqe, len != 0 ? buf : NULL, len, ctrl->cfg.io_timeout_ms, out);
	if (len != 0 && ctrl->hal->dma_sync != NULL)
		ctrl->hal->dma_sync(ctrl->hal->ctx, buf, len, USTOR_DMA_FROM_DEVICE);
	return st;
}
