/* SPDX-License-Identifier: MIT */
/* NVMe register access (Base spec 3.1). */
#include "nvme_internal.h"

uint32_t ustor_nvme_rd32(const struct ustor_nvme_ctrl *ctrl, uint32_t off)
{
	const struct ustor_hal *hal = ctrl->hal;
	return hal->mmio_read32(hal->ctx, ctrl->regs + off);
}

void ustor_nvme_wr32(const struct ustor_nvme_ctrl *ctrl, uint32_t off, uint32_t val)
{
	const struct ustor_hal *hal = ctrl->hal;
	hal->mmio_write32(hal->ctx, ctrl->regs + off, val);
}

uint64_t ustor_nvme_rd64(const struct ustor_nvme_ctrl *ctrl, uint32_t off)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t lo;
	uint32_t hi;

	if (ctrl->cfg.use_mmio64 && hal->mmio_read64 != NULL)
		return hal->mmio_read64(hal->ctx, ctrl->regs + off);
	/* Two halves, low first: some bridges return one half twice on a
	 * 64-bit read (HARDWARE.md item 4). */
	lo = ustor_nvme_rd32(ctrl, off);
	hi = ustor_nvme_rd32(ctrl, off + 4);
	return ((uint64_t)hi << 32) | lo;
}

void ustor_nvme_wr64(const struct ustor_nvme_ctrl *ctrl, uint32_t off, uint64_t val)
{
	const struct ustor_hal *hal = ctrl->hal;

	if (ctrl->cfg.use_mmio64 && hal->mmio_write64 != NULL) {
		hal->mmio_write64(hal->ctx, ctrl->regs + off, val);
		return;
	}
	ustor_nvme_wr32(ctrl, off, (uint32_t)val);
	ustor_nvme_wr32(ctrl, off + 4, (uint32_t)(val >> 32));
}

void ustor_nvme_log_regs(const struct ustor_nvme_ctrl *ctrl, const char *why)
{
	uint32_t cc = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CC);
	uint32_t csts = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS);

	USTOR_ERR(ctrl->hal, "nvme%u: %s: CAP=%016llx VS=%08x CC=%08x CSTS=%08x%s%s",
		  (unsigned)ctrl->cfg.index, why, (unsigned long long)ctrl->cap, ctrl->vs, cc, csts,
		  (csts != 0xffffffffu && (csts & USTOR_NVME_CSTS_CFS)) ? " (fatal status)" : "",
		  csts == 0xffffffffu ? " (device gone: all ones)" : "");
}
