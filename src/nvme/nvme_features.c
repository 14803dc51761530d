/* SPDX-License-Identifier: MIT */
/* Get/Set Features (Base spec 5.15, 5.27). */
#include "nvme_internal.h"

static ustor_status ustor_nvme_features(struct ustor_nvme_ctrl *ctrl, uint8_t opcode, uint8_t fid,
					uint32_t cdw11, uint32_t *out_dw0)
{
	struct ustor_nvme_sqe sqe;
	struct ustor_nvme_cpl cpl;
	ustor_status st;

	if (ctrl == NULL)
		return USTOR_ERR_INVALID_ARG;
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = opcode;
	sqe.cdw10 = fid;
	sqe.cdw11 = cdw11;
	st = ustor_nvme_admin(ctrl, &sqe, &cpl);
	if (st == USTOR_OK && out_dw0 != NULL)
		*out_dw0 = cpl.dw0;
	return st;
}

ustor_status ustor_nvme_get_features(struct ustor_nvme_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
				     uint32_t *out_dw0)
{
	return ustor_nvme_features(ctrl, USTOR_NVME_ADMIN_GET_FEATURES, fid, cdw11, out_dw0);
}

ustor_status ustor_nvme_set_features(struct ustor_nvme_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
				     uint32_t *out_dw0)
{
	return ustor_nvme_features(ctrl, USTOR_NVME_ADMIN_SET_FEATURES, fid, cdw11, out_dw0);
}

ustor_status ustor_nvme_set_write_cache(struct ustor_nvme_ctrl *ctrl, int enable)
{
	if (ctrl == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (!(ctrl->info.vwc & USTOR_NVME_VWC_PRESENT))
		return USTOR_ERR_UNSUPPORTED;
	return ustor_nvme_set_features(ctrl, USTOR_NVME_FEAT_VOLATILE_WC, enable ? 1u : 0u, NULL);
}

ustor_status ustor_nvme_get_write_cache(struct ustor_nvme_ctrl *ctrl, int *out_enabled)
{
	uint32_t dw0 = 0;
	ustor_status st;

	if (ctrl == NULL || out_enabled == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (!(ctrl->info.vwc & USTOR_NVME_VWC_PRESENT))
		return USTOR_ERR_UNSUPPORTED;
	st = ustor_nvme_get_features(ctrl, USTOR_NVME_FEAT_VOLATILE_WC, 0, &dw0);
	if (st == USTOR_OK)
		*out_enabled = (int)(dw0 & 1u);
	return st;
}

ustor_status ustor_nvme_set_num_queues(struct ustor_nvme_ctrl *ctrl, uint16_t nsq, uint16_t ncq,
				       uint16_t *out_nsq, uint16_t *out_ncq)
{
	uint32_t dw0 = 0;
	ustor_status st;

	if (ctrl == NULL || nsq == 0 || ncq == 0)
		return USTOR_ERR_INVALID_ARG;
	st = ustor_nvme_set_features(ctrl, USTOR_NVME_FEAT_NUM_QUEUES,
				     ((uint32_t)(ncq - 1u) << 16) | (uint32_t)(nsq - 1u), &dw0);
	if (st != USTOR_OK)
		return st;
	/* Both counts are zero-based; 0xFFFF + 1 must not wrap to 0. */
	if (out_nsq != NULL)
		*out_nsq = (dw0 & 0xffffu) == 0xffffu ? 0xffffu : (uint16_t)((dw0 & 0xffffu) + 1u);
	if (out_ncq != NULL)
		*out_ncq = (dw0 >> 16) == 0xffffu ? 0xffffu : (uint16_t)((dw0 >> 16) + 1u);
	return USTOR_OK;
}

ustor_status ustor_nvme_set_arbitration(struct ustor_nvme_ctrl *ctrl, uint8_t burst_log2,
					uint8_t low, uint8_t medium, uint8_t high)
{
	uint32_t v = (uint32_t)(burst_log2 & 7u) | ((uint32_t)low << 8) | ((uint32_t)medium << 16) |
		     ((uint32_t)high << 24);
	return ustor_nvme_set_features(ctrl, USTOR_NVME_FEAT_ARBITRATION, v, NULL);
}

ustor_status ustor_nvme_set_irq_coalescing(struct ustor_nvme_ctrl *ctrl, uint8_t threshold,
					   uint8_t time_100us)
{
	return ustor_nvme_set_features(ctrl, USTOR_NVME_FEAT_IRQ_COALESCE,
				       (uint32_t)threshold | ((uint32_t)time_100us << 8), NULL);
}
