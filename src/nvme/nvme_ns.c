/* SPDX-License-Identifier: MIT */
/* Namespace discovery: every active namespace becomes a block device. */
#include "nvme_internal.h"

static void ustor_nvme_ns_setup(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_ns *ns,
				const struct ustor_nvme_ns_info *info)
{
	struct ustor_block_device *b = &ns->bdev;
	uint32_t chunk;

	ustor_memset(ns, 0, sizeof(*ns));
	ns->ctrl = ctrl;
	ns->info = *info;
	b->ops = &ustor_nvme_ns_ops;
	b->driver = ns;
	b->hal = ctrl->hal;
	b->nblocks = info->nsze;
	b->block_size = info->block_size;
	b->block_shift = info->lbads;
	b->nqueues = ctrl->nio;
	b->timeout_ms = ctrl->cfg.io_timeout_ms;
	ustor_fmt(b->name, sizeof(b->name), "nvme%un%u", (unsigned)ctrl->cfg.index, info->nsid);
	ustor_memcpy(b->model, ctrl->info.model, sizeof(b->model));
	ustor_memcpy(b->serial, ctrl->info.serial, sizeof(b->serial));
	ustor_memcpy(b->firmware, ctrl->info.firmware, sizeof(b->firmware));
	if (ctrl->info.vwc & USTOR_NVME_VWC_PRESENT)
		b->flags |= USTOR_BDEV_F_VOLATILE_CACHE;
	if (ctrl->info.oncs & USTOR_NVME_ONCS_DSM)
		b->flags |= USTOR_BDEV_F_DISCARD;
	if (ctrl->info.oncs & USTOR_NVME_ONCS_WRITE_ZEROES)
		b->flags |= USTOR_BDEV_F_WRITE_ZEROES;
	if (info->write_protected)
		b->flags |= USTOR_BDEV_F_READ_ONLY;
	if (ctrl->bounce != NULL && ctrl->cfg.bounce_bytes >= info->block_size) {
		b->bounce = ctrl->bounce;
		b->bounce_len = ctrl->cfg.bounce_bytes & ~(info->block_size - 1u);
	}
	chunk = ctrl->max_transfer >> info->lbads;
	if (chunk > 0x10000u) /* NLB is a 16-bit zero-based count */
		chunk = 0x10000u;
	ns->max_chunk_blocks = chunk;
	/* Two PRP entries and one command: both limits in one number. */
	ns->fast_end = chunk << info->lbads; /* at most max_transfer */
	if (ns->fast_end > 2u * ctrl->page_size)
		ns->fast_end = 2u * ctrl->page_size;
	b->max_blocks = chunk;

	/* Formats with metadata carry extra bytes per block (inline or through
	 * MPTR) that a data-sized buffer has no room for (HARDWARE.md item 10):
	 * list the namespace, refuse its I/O. */
	if (info->ms != 0) {
		b->flags |= USTOR_BDEV_F_UNUSABLE;
		b->unusable_reason = USTOR_ERR_UNSUPPORTED;
		USTOR_WARN(ctrl->hal, "%s: LBA format %u has %u metadata bytes per block: I/O refused",
			   b->name, (unsigned)info->flbas_index, (unsigned)info->ms);
	} else if (chunk == 0) {
		b->flags |= USTOR_BDEV_F_UNUSABLE;
		b->unusable_reason = USTOR_ERR_UNSUPPORTED;
		USTOR_WARN(ctrl->hal, "%s: block size %u exceeds the transfer limit %u", b->name,
			   info->block_size, ctrl->max_transfer);
	}
}

static ustor_status ustor_nvme_ns_add(struct ustor_nvme_ctrl *ctrl, uint32_t nsid)
{
	struct ustor_nvme_ns_info info;
	ustor_status st;

	st = ustor_nvme_identify_ns(ctrl, nsid, &info);
	if (st == USTOR_ERR_NO_NAMESPACE)
		return USTOR_OK; /* inactive: nothing to expose */
	if (st == USTOR_ERR_BAD_DEVICE)
		return USTOR_OK; /* logged; skip this one, keep the others */
	if (st != USTOR_OK)
		return st;
	if (ctrl->nns >= USTOR_NVME_MAX_NAMESPACES) {
		ctrl->ns_skipped++;
		return USTOR_OK;
	}
	ustor_nvme_ns_setup(ctrl, &ctrl->ns[ctrl->nns], &info);
	USTOR_INFO(ctrl->hal, "%s: %llu blocks of %u bytes%s", ctrl->ns[ctrl->nns].bdev.name,
		   (unsigned long long)info.nsze, info.block_size,
		   info.ms ? " (with metadata)" : "");
	ctrl->nns++;
	return USTOR_OK;
}

/* Namespace ids examined at most: bounds the scan whatever the device says. */
#define USTOR_NVME_SCAN_MAX_IDS 1024u

ustor_status ustor_nvme_ns_scan(struct ustor_nvme_ctrl *ctrl)
{
	uint32_t ids[64];
	uint32_t start = 0;
	uint32_t seen = 0;
	uint32_t nn = ctrl->info.nn;
	uint32_t n;
	uint32_t i;
	ustor_status st;

	ctrl->nns = 0;
	ctrl->ns_skipped = 0;
	/* The active list (CNS 02h) exists from NVMe 1.1 on; older controllers
	 * are probed id by id up to NN. */
	while (ctrl->vs >= 0x00010100u && seen < USTOR_NVME_SCAN_MAX_IDS) {
		st = ustor_nvme_active_ns_list(ctrl, start, ids, 64, &n);
		if (st == USTOR_ERR_DEVICE || st == USTOR_ERR_UNSUPPORTED) {
			if (seen == 0)
				break; /* not implemented after all: probe below */
			return USTOR_OK; /* keep what the earlier pages gave */
		}
		if (st != USTOR_OK)
			return st;
		for (i = 0; i < n; i++) {
			if (nn != 0 && ids[i] > nn) {
				USTOR_WARN(ctrl->hal, "nvme%u: active namespace %u above NN %u ignored",
					   (unsigned)ctrl->cfg.index, ids[i], nn);
				return USTOR_OK; /* the list is ascending: the rest are too */
			}
			st = ustor_nvme_ns_add(ctrl, ids[i]);
			if (st != USTOR_OK)
				return st;
		}
		seen += n;
		if (n < 64)
			return USTOR_OK;
		start = ids[n - 1];
	}
	if (seen != 0)
		return USTOR_OK;
	for (i = 1; i <= nn && i <= USTOR_NVME_SCAN_MAX_IDS; i++) {
		st = ustor_nvme_ns_add(ctrl, i);
		if (st != USTOR_OK)
			return st;
	}
	return USTOR_OK;
}

uint32_t ustor_nvme_ns_count(const struct ustor_nvme_ctrl *ctrl)
{
	return ctrl != NULL ? ctrl->nns : 0;
}

struct ustor_block_device *ustor_nvme_ns_bdev(struct ustor_nvme_ctrl *ctrl, uint32_t idx)
{
	if (ctrl == NULL || idx >= ctrl->nns)
		return NULL;
	return &ctrl->ns[idx].bdev;
}

ustor_status ustor_nvme_ns_find(struct ustor_nvme_ctrl *ctrl, uint32_t nsid,
				struct ustor_nvme_ns **out_ns)
{
	uint32_t i;

	if (ctrl == NULL || out_ns == NULL)
		return USTOR_ERR_INVALID_ARG;
	*out_ns = NULL;
	for (i = 0; i < ctrl->nns; i++) {
		if (ctrl->ns[i].info.nsid == nsid) {
			*out_ns = &ctrl->ns[i];
			return USTOR_OK;
		}
	}
	return USTOR_ERR_NO_NAMESPACE;
}
