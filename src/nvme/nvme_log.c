/* SPDX-License-Identifier: MIT */
/* Get Log Page (Base spec 5.16): SMART/health, error information, firmware slots. */
#include "nvme_internal.h"

static ustor_status ustor_nvme_get_log(struct ustor_nvme_ctrl *ctrl, uint8_t lid, uint32_t nsid,
				       uint32_t len)
{
	struct ustor_nvme_sqe sqe;
	uint32_t numd = (len >> 2) - 1u; /* zero-based dword count */

	if (ctrl->state != USTOR_NVME_STATE_READY || ctrl->admin_buf == NULL)
		return ctrl->state == USTOR_NVME_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN
								 : USTOR_ERR_NOT_READY;
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_GET_LOG_PAGE;
	sqe.nsid = nsid;
	sqe.cdw10 = (uint32_t)lid | ((numd & 0xffffu) << 16);
	sqe.cdw11 = numd >> 16;
	return ustor_nvme_admin_page(ctrl, &sqe, NULL);
}

/* 128-bit little-endian counter, saturated to 64 bits. */
static uint64_t ustor_nvme_u128(const uint8_t *p)
{
	return ustor_get_le64(p + 8) != 0 ? ~(uint64_t)0 : ustor_get_le64(p);
}

ustor_status ustor_nvme_get_smart(struct ustor_nvme_ctrl *ctrl, uint32_t nsid,
				  struct ustor_nvme_smart_info *out)
{
	const struct ustor_nvme_smart_log *log;
	ustor_status st;

	if (ctrl == NULL || out == NULL)
		return USTOR_ERR_INVALID_ARG;
	st = ustor_nvme_get_log(ctrl, USTOR_NVME_LOG_SMART, nsid, sizeof(*log));
	if (st != USTOR_OK)
		return st;
	log = (const struct ustor_nvme_smart_log *)(void *)ctrl->admin_buf;
	ustor_memset(out, 0, sizeof(*out));
	out->critical_warning = log->critical_warning;
	out->temperature_k = ustor_get_le16(log->temperature);
	out->avail_spare = log->avail_spare;
	out->spare_thresh = log->spare_thresh;
	out->percent_used = log->percent_used;
	out->data_units_read = ustor_nvme_u128(log->data_units_read);
	out->data_units_written = ustor_nvme_u128(log->data_units_written);
	out->host_reads = ustor_nvme_u128(log->host_reads);
	out->host_writes = ustor_nvme_u128(log->host_writes);
	out->ctrl_busy_minutes = ustor_nvme_u128(log->ctrl_busy_time);
	out->power_cycles = ustor_nvme_u128(log->power_cycles);
	out->power_on_hours = ustor_nvme_u128(log->power_on_hours);
	out->unsafe_shutdowns = ustor_nvme_u128(log->unsafe_shutdowns);
	out->media_errors = ustor_nvme_u128(log->media_errors);
	out->error_log_entries = ustor_nvme_u128(log->num_err_log_entries);
	out->warning_temp_minutes = ustor_le32_to_cpu(log->warning_temp_time);
	out->critical_temp_minutes = ustor_le32_to_cpu(log->crit_comp_time);
	if (out->critical_warning != 0) {
		unsigned b;

		for (b = 0; b < 8; b++) {
			const char *name = ustor_nvme_smart_warning_name((uint8_t)(1u << b));
			if ((out->critical_warning & (1u << b)) && name != NULL)
				USTOR_WARN(ctrl->hal, "nvme%u: SMART critical warning %02x: %s",
					   (unsigned)ctrl->cfg.index, (unsigned)out->critical_warning, name);
		}
	}
	return USTOR_OK;
}

const char *ustor_nvme_smart_warning_name(uint8_t bit)
{
	switch (bit) {
	case USTOR_NVME_SMART_CW_SPARE:
		return "spare-below-threshold";
	case USTOR_NVME_SMART_CW_TEMPERATURE:
		return "temperature";
	case USTOR_NVME_SMART_CW_RELIABILITY:
		return "reliability-degraded";
	case USTOR_NVME_SMART_CW_READ_ONLY:
		return "read-only";
	case USTOR_NVME_SMART_CW_VOLATILE_BACKUP:
		return "backup-failed";
	case USTOR_NVME_SMART_CW_PMR:
		return "pmr-unreliable";
	default:
		return NULL;
	}
}

ustor_status ustor_nvme_get_error_log(struct ustor_nvme_ctrl *ctrl,
				      struct ustor_nvme_error_info *out, uint32_t max,
				      uint32_t *out_count)
{
	uint32_t entries;
	uint32_t i;
	ustor_status st;

	if (ctrl == NULL || out == NULL || out_count == NULL || max == 0)
		return USTOR_ERR_INVALID_ARG;
	*out_count = 0;
	/* ELPE is zero-based; read what fits the admin page. */
	entries = (uint32_t)ctrl->info.elpe + 1u;
	if (entries > ctrl->page_size / sizeof(struct ustor_nvme_error_log))
		entries = ctrl->page_size / (uint32_t)sizeof(struct ustor_nvme_error_log);
	if (entries > max)
		entries = max;
	st = ustor_nvme_get_log(ctrl, USTOR_NVME_LOG_ERROR, 0xffffffffu,
				entries * (uint32_t)sizeof(struct ustor_nvme_error_log));
	if (st != USTOR_OK)
		return st;
	for (i = 0; i < entries; i++) {
		const struct ustor_nvme_error_log *e =
			(const struct ustor_nvme_error_log *)(void *)(ctrl->admin_buf + i * sizeof(*e));
		struct ustor_nvme_error_info *o = &out[i];

		ustor_memset(o, 0, sizeof(*o));
		o->error_count = ustor_le64_to_cpu(e->error_count);
		o->sqid = ustor_le16_to_cpu(e->sqid);
		o->cid = ustor_le16_to_cpu(e->cid);
		o->status = (uint16_t)(ustor_le16_to_cpu(e->status) >> 1);
		o->param_error_location = ustor_le16_to_cpu(e->param_error_location);
		o->lba = ustor_le64_to_cpu(e->lba);
		o->nsid = ustor_le32_to_cpu(e->nsid);
	}
	*out_count = entries;
	return USTOR_OK;
}

ustor_status ustor_nvme_get_fw_slots(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_fw_info *out)
{
	const struct ustor_nvme_fw_slot_log *log;
	ustor_status st;
	unsigned i;

	if (ctrl == NULL || out == NULL)
		return USTOR_ERR_INVALID_ARG;
	st = ustor_nvme_get_log(ctrl, USTOR_NVME_LOG_FW_SLOT, 0xffffffffu, sizeof(*log));
	if (st != USTOR_OK)
		return st;
	log = (const struct ustor_nvme_fw_slot_log *)(void *)ctrl->admin_buf;
	out->active_slot = (uint8_t)(log->afi & 7u);
	out->next_slot = (uint8_t)((log->afi >> 4) & 7u);
	for (i = 0; i < 7; i++)
		ustor_copy_id_string(out->revision[i], log->frs[i], sizeof(log->frs[i]));
	return USTOR_OK;
}
