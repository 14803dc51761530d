/* SPDX-License-Identifier: MIT */
/* Identify (Base spec 5.17): controller, namespace, active namespace list. */
#include "nvme_internal.h"

void ustor_nvme_decode_id_ctrl(const struct ustor_nvme_id_ctrl *id, struct ustor_nvme_ctrl_info *out)
{
	ustor_memset(out, 0, sizeof(*out));
	out->vid = ustor_le16_to_cpu(id->vid);
	out->ssvid = ustor_le16_to_cpu(id->ssvid);
	ustor_copy_id_string(out->serial, id->sn, sizeof(id->sn));
	ustor_copy_id_string(out->model, id->mn, sizeof(id->mn));
	ustor_copy_id_string(out->firmware, id->fr, sizeof(id->fr));
	out->mdts = id->mdts;
	out->cntlid = ustor_le16_to_cpu(id->cntlid);
	out->ver = ustor_le32_to_cpu(id->ver);
	out->oacs = ustor_le16_to_cpu(id->oacs);
	out->frmw = id->frmw;
	out->lpa = id->lpa;
	out->elpe = id->elpe;
	out->nn = ustor_le32_to_cpu(id->nn);
	out->oncs = ustor_le16_to_cpu(id->oncs);
	out->vwc = id->vwc;
	out->sgls = ustor_le32_to_cpu(id->sgls);
	/* CRDT1-3 (bytes 134..139, NVMe 1.4), in the reserved range of the
	 * struct: read from the page itself. */
	out->crdt[0] = ustor_get_le16((const uint8_t *)id + 134);
	out->crdt[1] = ustor_get_le16((const uint8_t *)id + 136);
	out->crdt[2] = ustor_get_le16((const uint8_t *)id + 138);
}

ustor_status ustor_nvme_decode_id_ns(const struct ustor_nvme_id_ns *id, uint32_t nsid,
				     struct ustor_nvme_ns_info *out)
{
	uint32_t i;
	uint32_t fmt;

	ustor_memset(out, 0, sizeof(*out));
	out->nsid = nsid;
	out->nsze = ustor_le64_to_cpu(id->nsze);
	out->ncap = ustor_le64_to_cpu(id->ncap);
	out->nuse = ustor_le64_to_cpu(id->nuse);
	out->dlfeat = id->dlfeat;
	out->write_protected = (uint8_t)(id->nsattr & 1u);
	/* An allocated but inactive namespace identifies as all zeroes. */
	if (out->nsze == 0)
		return USTOR_ERR_NO_NAMESPACE;
	/* NLBAF is zero-based; more than 64 formats do not exist. */
	if (id->nlbaf >= USTOR_NVME_MAX_LBAF)
		return USTOR_ERR_BAD_DEVICE;
	out->nlbaf = (uint8_t)(id->nlbaf + 1u);
	for (i = 0; i < out->nlbaf; i++)
		out->lbaf[i] = ustor_le32_to_cpu(id->lbaf[i]);
	out->flbas_index = (uint8_t)USTOR_NVME_FLBAS_INDEX(id->flbas);
	out->extended_md = (id->flbas & USTOR_NVME_FLBAS_EXTENDED) ? 1 : 0;
	if (out->flbas_index >= out->nlbaf)
		return USTOR_ERR_BAD_DEVICE;
	fmt = out->lbaf[out->flbas_index];
	out->lbads = (uint8_t)USTOR_NVME_LBAF_LBADS(fmt);
	out->ms = (uint16_t)USTOR_NVME_LBAF_MS(fmt);
	/* 512 bytes is the smallest block the spec allows; 64 KiB is the
	 * largest this library handles. */
	if (out->lbads < 9 || out->lbads > 16)
		return USTOR_ERR_BAD_DEVICE;
	out->block_size = 1u << out->lbads;
	if (out->ncap > out->nsze || out->nuse > out->ncap)
		return USTOR_ERR_BAD_DEVICE;
	return USTOR_OK;
}

ustor_status ustor_nvme_identify_ctrl(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_ctrl_info *out)
{
	struct ustor_nvme_sqe sqe;
	ustor_status st;

	if (ctrl == NULL || out == NULL)
		return USTOR_ERR_INVALID_ARG;
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_IDENTIFY;
	sqe.cdw10 = USTOR_NVME_CNS_CTRL;
	st = ustor_nvme_admin_page(ctrl, &sqe, NULL);
	if (st != USTOR_OK)
		return st;
	ustor_nvme_decode_id_ctrl((const struct ustor_nvme_id_ctrl *)(void *)ctrl->admin_buf, out);
	return USTOR_OK;
}

ustor_status ustor_nvme_identify_ns(struct ustor_nvme_ctrl *ctrl, uint32_t nsid,
				    struct ustor_nvme_ns_info *out)
{
	struct ustor_nvme_sqe sqe;
	ustor_status st;

	if (ctrl == NULL || out == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (nsid == 0 || nsid == 0xffffffffu)
		return USTOR_ERR_NO_NAMESPACE;
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_IDENTIFY;
	sqe.nsid = nsid;
	sqe.cdw10 = USTOR_NVME_CNS_NS;
	st = ustor_nvme_admin_page(ctrl, &sqe, NULL);
	if (st != USTOR_OK)
		return st;
	st = ustor_nvme_decode_id_ns((const struct ustor_nvme_id_ns *)(void *)ctrl->admin_buf, nsid, out);
	if (st == USTOR_ERR_BAD_DEVICE)
		USTOR_ERR(ctrl->hal, "nvme%u: namespace %u: identify data is invalid (nlbaf %u, flbas %u, lbads %u)",
			  (unsigned)ctrl->cfg.index, nsid, (unsigned)out->nlbaf,
			  (unsigned)out->flbas_index, (unsigned)out->lbads);
	return st;
}

ustor_status ustor_nvme_active_ns_list(struct ustor_nvme_ctrl *ctrl, uint32_t start,
				       uint32_t *out_ids, uint32_t max, uint32_t *out_count)
{
	struct ustor_nvme_sqe sqe;
	const uint8_t *page;
	uint32_t prev = start;
	uint32_t i;
	uint32_t n = 0;
	ustor_status st;

	if (ctrl == NULL || out_ids == NULL || out_count == NULL)
		return USTOR_ERR_INVALID_ARG;
	*out_count = 0;
	ustor_memset(&sqe, 0, sizeof(sqe));
	sqe.cdw0 = USTOR_NVME_ADMIN_IDENTIFY;
	sqe.nsid = start;
	sqe.cdw10 = USTOR_NVME_CNS_ACTIVE_NS_LIST;
	st = ustor_nvme_admin_page(ctrl, &sqe, NULL);
	if (st != USTOR_OK)
		return st;
	page = ctrl->admin_buf;
	for (i = 0; i < 1024u && n < max; i++) {
		uint32_t id = ustor_get_le32(page + (size_t)4u * i);
		if (id == 0)
			break;
		/* The list is ascending and above `start`; anything else is
		 * a device bug we do not follow. */
		if (id <= prev || id == 0xffffffffu) {
			USTOR_ERR(ctrl->hal, "nvme%u: active namespace list not ascending at entry %u (%u after %u)",
				  (unsigned)ctrl->cfg.index, i, id, prev);
			return USTOR_ERR_BAD_DEVICE;
		}
		out_ids[n++] = id;
		prev = id;
	}
	*out_count = n;
	return USTOR_OK;
}
