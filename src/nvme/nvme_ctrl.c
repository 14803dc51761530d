/* SPDX-License-Identifier: MIT */
/*
 * NVMe controller bring-up and shutdown (Base spec 3.5.1, 3.6). Every wait
 * is a deadline on the HAL clock; every failure unwinds what was done and
 * logs CAP/CC/CSTS.
 */
#include "nvme_internal.h"

void ustor_nvme_config_default(struct ustor_nvme_config *cfg)
{
	ustor_memset(cfg, 0, sizeof(*cfg));
	cfg->io_queues = 1;
	cfg->io_queue_depth = 256;
	cfg->max_transfer_bytes = 0;
	cfg->post_disable_delay_ms = 0;
	/* Real drives take longer than QEMU (HARDWARE.md item 3). */
	cfg->min_ready_timeout_ms = 2000;
	cfg->admin_timeout_ms = 5000;
	cfg->io_timeout_ms = 30000;
	cfg->shutdown_timeout_ms = 10000;
	cfg->io_retries = 2;
	cfg->bounce_bytes = 64u * 1024u;
	cfg->cmd_timeout_ms = 10000;
	cfg->max_resets = 3;
	cfg->reset_window_ms = 60000;
	cfg->not_ready_delay_ms = 500;
	cfg->max_retry_delay_ms = 5000;
}

void ustor_nvme_quirks(struct ustor_nvme_config *cfg, uint16_t vendor, uint16_t device)
{
	/* Controllers that freeze when CSTS is read right after CC.EN=0
	 * (HARDWARE.md item 2): HGST/WDC enterprise, Samsung PM1725(a),
	 * Memblaze, Seagate Nytro. */
	int slow_disable = vendor == 0x1c58 || /* HGST */
			   (vendor == 0x1b96 && (device == 0x2500 || device == 0x2501)) || /* WDC SN200 */
			   (vendor == 0x144d && (device == 0xa821 || device == 0xa822)) || /* Samsung PM1725 */
			   vendor == 0x1c5f || /* Memblaze */
			   vendor == 0x1bb1;   /* Seagate */

	if (slow_disable && cfg->post_disable_delay_ms < USTOR_NVME_QUIRK_DISABLE_DELAY_MS)
		cfg->post_disable_delay_ms = USTOR_NVME_QUIRK_DISABLE_DELAY_MS;
}

ustor_status ustor_nvme_ctrl_check(struct ustor_nvme_ctrl *ctrl)
{
	uint32_t csts;

	if (ctrl == NULL || ctrl->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	csts = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS);
	if (csts == 0xffffffffu)
		return USTOR_ERR_DEVICE_GONE;
	if (csts & USTOR_NVME_CSTS_CFS)
		return USTOR_ERR_FATAL;
	if (!(csts & USTOR_NVME_CSTS_RDY))
		return USTOR_ERR_NOT_READY;
	return USTOR_OK;
}

/* Wait until CSTS.RDY == want, bounded by the ready timeout. */
static ustor_status ustor_nvme_wait_ready(struct ustor_nvme_ctrl *ctrl, uint32_t want)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint64_t deadline = hal->now_ns(hal->ctx) + (uint64_t)ctrl->ready_timeout_ms * 1000000u;

	for (;;) {
		uint32_t csts = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS);

		if (csts == 0xffffffffu) {
			ustor_nvme_log_regs(ctrl, "controller not responding");
			return USTOR_ERR_DEVICE_GONE;
		}
		if ((csts & USTOR_NVME_CSTS_RDY) == want)
			return USTOR_OK;
		if (want && (csts & USTOR_NVME_CSTS_CFS)) {
			ustor_nvme_log_regs(ctrl, "fatal status while enabling");
			return USTOR_ERR_FATAL;
		}
		if (hal->now_ns(hal->ctx) >= deadline) {
			ustor_nvme_log_regs(ctrl, want ? "timeout waiting for CSTS.RDY=1"
						       : "timeout waiting for CSTS.RDY=0");
			return USTOR_ERR_TIMEOUT;
		}
		if (hal->yield != NULL)
			hal->yield(hal->ctx);
		hal->delay_us(hal->ctx, 1000);
	}
}

/* Read CAP and VS, check what we rely on, derive page size and timeouts. */
static ustor_status ustor_nvme_read_cap(struct ustor_nvme_ctrl *ctrl)
{
	uint32_t css;
	uint32_t mpsmin;
	uint32_t mpsmax;
	uint32_t shift;
	uint32_t to_ms;

	ctrl->cap = ustor_nvme_rd64(ctrl, USTOR_NVME_REG_CAP);
	ctrl->vs = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_VS);
	if (ctrl->cap == ~(uint64_t)0) {
		ustor_nvme_log_regs(ctrl, "CAP reads all ones");
		return USTOR_ERR_DEVICE_GONE;
	}
	/* MQES is zero-based and may be 0xFFFF: keep MQES+1 in 32 bits
	 * (HARDWARE.md item 5). */
	ctrl->mqes1 = USTOR_NVME_CAP_MQES(ctrl->cap) + 1u;
	ctrl->dstrd = USTOR_NVME_CAP_DSTRD(ctrl->cap);
	css = USTOR_NVME_CAP_CSS(ctrl->cap);
	mpsmin = USTOR_NVME_CAP_MPSMIN(ctrl->cap);
	mpsmax = USTOR_NVME_CAP_MPSMAX(ctrl->cap);
	if (ctrl->mqes1 < 2) {
		ustor_nvme_log_regs(ctrl, "CAP.MQES is 0 (a queue needs two entries)");
		return USTOR_ERR_BAD_DEVICE;
	}
	/* Test the NVM command set bit alone: QEMU 6.2 reports 0xC1. */
	if (!(css & USTOR_NVME_CAP_CSS_NVM)) {
		ustor_nvme_log_regs(ctrl, "controller lacks the NVM command set");
		return USTOR_ERR_UNSUPPORTED;
	}
	if (mpsmin > mpsmax) {
		ustor_nvme_log_regs(ctrl, "CAP.MPSMIN > CAP.MPSMAX");
		return USTOR_ERR_BAD_DEVICE;
	}
	/* Every doorbell we may ring must lie inside the mapped BAR: a hostile
	 * or broken DSTRD (up to 15: a 128 KiB stride) must not send MMIO
	 * writes past it. */
	if (ctrl->cfg.bar_bytes != 0) {
		uint32_t nq = ctrl->cfg.io_queues > USTOR_NVME_MAX_IO_QUEUES ? USTOR_NVME_MAX_IO_QUEUES
									      : ctrl->cfg.io_queues;
		uint32_t need = USTOR_NVME_REG_DBS + ((2u * (nq + 1u)) << (2u + ctrl->dstrd));

		if (need > ctrl->cfg.bar_bytes) {
			ustor_nvme_log_regs(ctrl, "doorbells (CAP.DSTRD) lie beyond the mapped BAR");
			return USTOR_ERR_BAD_DEVICE;
		}
	}
	/* 4 KiB pages unless the controller's minimum is larger; the HAL
	 * aligns at most to 64 KiB. */
	shift = 12u + mpsmin;
	if (shift > 16u) {
		ustor_nvme_log_regs(ctrl, "CAP.MPSMIN above 64 KiB is not supported");
		return USTOR_ERR_UNSUPPORTED;
	}
	ctrl->page_shift = (uint8_t)shift;
	ctrl->page_size = 1u << shift;
	/* CAP.TO is in 500 ms units, up to 127.5 s; never below our floor. */
	to_ms = USTOR_NVME_CAP_TO(ctrl->cap) * 500u;
	ctrl->ready_timeout_ms = to_ms > ctrl->cfg.min_ready_timeout_ms ? to_ms
									 : ctrl->cfg.min_ready_timeout_ms;
	return USTOR_OK;
}

/* Firmware may hand over an enabled controller (HARDWARE.md item 1): make
 * it idle before touching the admin queue registers. `handoff`: the state is
 * unknown, so an enable still in progress is allowed to finish first. */
ustor_status ustor_nvme_disable(struct ustor_nvme_ctrl *ctrl, int handoff)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t cc = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CC);
	uint32_t csts = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS);

	if (csts == 0xffffffffu) {
		ustor_nvme_log_regs(ctrl, "controller not responding");
		return USTOR_ERR_DEVICE_GONE;
	}
	if (handoff && (cc & USTOR_NVME_CC_EN) && !(csts & USTOR_NVME_CSTS_RDY)) {
		/* Clearing EN while RDY is still 0 is undefined: let the
		 * enable the firmware started finish first (bounded). */
		(void)ustor_nvme_wait_ready(ctrl, USTOR_NVME_CSTS_RDY);
	}
	if (cc & USTOR_NVME_CC_EN)
		ustor_nvme_wr32(ctrl, USTOR_NVME_REG_CC, cc & ~USTOR_NVME_CC_EN);
	/* Some controllers freeze if CSTS is read too soon after EN=0. */
	if (ctrl->cfg.post_disable_delay_ms != 0)
		hal->delay_us(hal->ctx, ctrl->cfg.post_disable_delay_ms * 1000u);
	return ustor_nvme_wait_ready(ctrl, 0);
}

ustor_status ustor_nvme_enable(struct ustor_nvme_ctrl *ctrl)
{
	uint16_t depth = ctrl->admin.ring.depth;
	uint32_t cc;

	/* Admin queue registers first: some drives ignore an enable issued
	 * before them. AQA sizes are zero-based. */
	ustor_nvme_wr32(ctrl, USTOR_NVME_REG_AQA,
			((uint32_t)(depth - 1u) << 16) | (uint32_t)(depth - 1u));
	ustor_nvme_wr64(ctrl, USTOR_NVME_REG_ASQ, ctrl->admin.ring.sq_bus);
	ustor_nvme_wr64(ctrl, USTOR_NVME_REG_ACQ, ctrl->admin.ring.cq_bus);
	cc = (USTOR_NVME_CC_CSS_NVM << USTOR_NVME_CC_CSS_SHIFT) |
	     ((uint32_t)(ctrl->page_shift - 12u) << USTOR_NVME_CC_MPS_SHIFT) |
	     ((uint32_t)USTOR_NVME_SQE_SIZE_LOG2 << USTOR_NVME_CC_IOSQES_SHIFT) |
	     ((uint32_t)USTOR_NVME_CQE_SIZE_LOG2 << USTOR_NVME_CC_IOCQES_SHIFT);
	ustor_nvme_wr32(ctrl, USTOR_NVME_REG_CC, cc);
	ustor_nvme_wr32(ctrl, USTOR_NVME_REG_CC, cc | USTOR_NVME_CC_EN);
	return ustor_nvme_wait_ready(ctrl, USTOR_NVME_CSTS_RDY);
}

/* MDTS is a power of two in units of CAP.MPSMIN; 0 means no limit
 * (HARDWARE.md item 7). The configured cap applies on top. */
void ustor_nvme_set_max_transfer(struct ustor_nvme_ctrl *ctrl)
{
	uint32_t limit = USTOR_NVME_DEFAULT_MAX_TRANSFER;
	uint32_t mdts_shift;

	if (ctrl->cfg.max_transfer_bytes != 0)
		limit = ctrl->cfg.max_transfer_bytes;
	if (limit > USTOR_NVME_MAX_TRANSFER_CEILING)
		limit = USTOR_NVME_MAX_TRANSFER_CEILING;
	if (ctrl->info.mdts != 0) {
		mdts_shift = (uint32_t)ctrl->info.mdts + 12u + USTOR_NVME_CAP_MPSMIN(ctrl->cap);
		if (mdts_shift < 31u && (1u << mdts_shift) < limit)
			limit = 1u << mdts_shift;
	}
	limit &= ~(ctrl->page_size - 1u);
	if (limit < ctrl->page_size)
		limit = ctrl->page_size;
	ctrl->max_transfer = limit;
}

static void ustor_nvme_pci_enable(struct ustor_nvme_ctrl *ctrl)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t cmd;

	if (!ctrl->cfg.use_pci_cfg || hal->pci_cfg_read32 == NULL || hal->pci_cfg_write32 == NULL)
		return;
	/* Command register (offset 4): bit 1 Memory Space, bit 2 Bus Master.
	 * Firmware may leave them off (HARDWARE.md item 9). The status half
	 * is written as zero: its bits are write-one-to-clear. */
	cmd = hal->pci_cfg_read32(hal->ctx, ctrl->cfg.pci_addr, 4) & 0xffffu;
	if ((cmd & 0x6u) != 0x6u) {
		USTOR_INFO(hal, "nvme%u: enabling PCI memory space and bus mastering (command %04x)",
			   (unsigned)ctrl->cfg.index, cmd);
		hal->pci_cfg_write32(hal->ctx, ctrl->cfg.pci_addr, 4, cmd | 0x6u);
	}
}

static ustor_status ustor_nvme_io_queues_create(struct ustor_nvme_ctrl *ctrl)
{
	uint16_t want = (uint16_t)ctrl->cfg.io_queues;
	uint16_t nsq = 0;
	uint16_t ncq = 0;
	uint32_t depth;
	ustor_status st;
	uint16_t i;

	if (want == 0 || want > USTOR_NVME_MAX_IO_QUEUES)
		want = want == 0 ? 1 : USTOR_NVME_MAX_IO_QUEUES;
	/* Each I/O CQ needs its own vector after the admin queue's: a vector
	 * beyond the MSI-X table fails queue creation (Invalid Interrupt
	 * Vector), so ask for no more queues than there are vectors. */
	ustor_nvme_irq_setup(ctrl);
	if (ctrl->irq_on && ctrl->cfg.irq_vectors != 0 && want > ctrl->cfg.irq_vectors - 1u)
		want = (uint16_t)(ctrl->cfg.irq_vectors - 1u);
	st = ustor_nvme_set_num_queues(ctrl, want, want, &nsq, &ncq);
	if (st != USTOR_OK)
		return st;
	if (nsq < want)
		want = nsq;
	if (ncq < want)
		want = ncq;
	depth = ctrl->cfg.io_queue_depth;
	if (depth > ctrl->mqes1)
		depth = ctrl->mqes1; /* a queue larger than MQES+1 hangs some drives */
	if (depth > USTOR_NVME_MAX_QUEUE_DEPTH)
		depth = USTOR_NVME_MAX_QUEUE_DEPTH;
	if (depth < 2)
		depth = 2;
	ctrl->io_depth = (uint16_t)depth;
	for (i = 0; i < want; i++) {
		struct ustor_nvme_queue *q = &ctrl->io[i];

		st = ustor_nvme_queue_init(ctrl, q, (uint16_t)(i + 1u), (uint16_t)depth, 1);
		if (st != USTOR_OK)
			return st;
		ctrl->nio = (uint16_t)(i + 1u); /* from here on, shutdown frees it */
		st = ustor_nvme_create_io_cq(ctrl, q);
		if (st != USTOR_OK)
			return st;
		st = ustor_nvme_create_io_sq(ctrl, q);
		if (st != USTOR_OK) {
			(void)ustor_nvme_delete_io_queue(ctrl, USTOR_NVME_ADMIN_DELETE_CQ, q->ring.qid);
			return st;
		}
		ustor_nvme_dbbuf_attach(ctrl, q);
	}
	ustor_nvme_irq_coalesce_setup(ctrl);
	return USTOR_OK;
}

/* Free every allocation; the controller must be disabled (or never enabled). */
void ustor_nvme_free_all(struct ustor_nvme_ctrl *ctrl)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint16_t i;

	ustor_nvme_dbbuf_free(ctrl);
	for (i = 0; i < USTOR_NVME_MAX_IO_QUEUES; i++)
		ustor_nvme_queue_fini(ctrl, &ctrl->io[i]);
	ctrl->nio = 0;
	ustor_nvme_queue_fini(ctrl, &ctrl->admin);
	if (ctrl->admin_buf != NULL)
		hal->dma_free(hal->ctx, ctrl->admin_buf, ctrl->page_size);
	if (ctrl->bounce != NULL)
		hal->dma_free(hal->ctx, ctrl->bounce, ctrl->cfg.bounce_bytes);
	ctrl->admin_buf = NULL;
	ctrl->bounce = NULL;
	ctrl->nns = 0;
}

ustor_status ustor_nvme_ctrl_init(struct ustor_nvme_ctrl *ctrl, const struct ustor_hal *hal,
				  volatile void *regs, const struct ustor_nvme_config *cfg)
{
	struct ustor_nvme_config defaults;
	uint32_t admin_depth;
	ustor_status st;

	if (ctrl == NULL || hal == NULL || regs == NULL)
		return USTOR_ERR_INVALID_ARG;
	st = ustor_hal_check(hal);
	if (st != USTOR_OK)
		return st;
	if (cfg == NULL) {
		ustor_nvme_config_default(&defaults);
		cfg = &defaults;
	}
	ustor_memset(ctrl, 0, sizeof(*ctrl));
	ctrl->hal = hal;
	ctrl->regs = (volatile uint8_t *)regs;
	ctrl->cfg = *cfg;
	ctrl->io_retries = (uint8_t)(cfg->io_retries > 255u ? 255u : cfg->io_retries);
	if (ctrl->cfg.admin_timeout_ms == 0 || ctrl->cfg.io_timeout_ms == 0 ||
	    ctrl->cfg.shutdown_timeout_ms == 0 || ctrl->cfg.io_queue_depth < 2)
		return USTOR_ERR_INVALID_ARG;

	if (ctrl->cfg.max_retry_delay_ms > 30000u) /* 16-bit due times (slot->stamp) */
		ctrl->cfg.max_retry_delay_ms = 30000u;
	/* Detection, abort and reset must fit inside one synchronous call. */
	if (ctrl->cfg.cmd_timeout_ms > ctrl->cfg.io_timeout_ms / 3u)
		ctrl->cfg.cmd_timeout_ms = ctrl->cfg.io_timeout_ms / 3u;
	ustor_nvme_pci_enable(ctrl);
	st = ustor_nvme_read_cap(ctrl);
	if (st != USTOR_OK)
		return st;
	USTOR_INFO(hal, "nvme%u: CAP=%016llx VS=%08x: MQES+1=%u DSTRD=%u TO=%u ms page=%u",
		   (unsigned)ctrl->cfg.index, (unsigned long long)ctrl->cap, ctrl->vs, ctrl->mqes1,
		   ctrl->dstrd, ctrl->ready_timeout_ms, ctrl->page_size);
	st = ustor_nvme_disable(ctrl, 1);
	if (st != USTOR_OK)
		return st;

	admin_depth = USTOR_NVME_ADMIN_QUEUE_DEPTH;
	if (admin_depth > ctrl->mqes1)
		admin_depth = ctrl->mqes1;
	st = ustor_nvme_queue_init(ctrl, &ctrl->admin, 0, (uint16_t)admin_depth, 0);
	if (st != USTOR_OK)
		goto fail;
	ctrl->admin_buf = hal->dma_alloc(hal->ctx, ctrl->page_size, ctrl->page_size,
					 &ctrl->admin_buf_bus);
	if (ctrl->admin_buf == NULL) {
		st = USTOR_ERR_NO_MEMORY;
		goto fail;
	}
	st = ustor_nvme_enable(ctrl);
	if (st != USTOR_OK)
		goto fail_disable;
	ctrl->state = USTOR_NVME_STATE_READY;

	st = ustor_nvme_identify_ctrl(ctrl, &ctrl->info);
	if (st != USTOR_OK)
		goto fail_disable;
	ustor_nvme_set_max_transfer(ctrl);
	USTOR_INFO(hal, "nvme%u: %s (serial %s, firmware %s), %u namespace ids, max transfer %u",
		   (unsigned)ctrl->cfg.index, ctrl->info.model, ctrl->info.serial,
		   ctrl->info.firmware, ctrl->info.nn, ctrl->max_transfer);
	/* Shadow doorbells before the I/O queues, so each is attached as it is
	 * created (a failure leaves MMIO doorbells). */
	st = ustor_nvme_dbbuf_setup(ctrl);
	if (st != USTOR_OK)
		goto fail_disable;
	st = ustor_nvme_io_queues_create(ctrl);
	if (st != USTOR_OK)
		goto fail_disable;
	if (ctrl->cfg.bounce_bytes != 0) {
		ctrl->bounce = hal->dma_alloc(hal->ctx, ctrl->cfg.bounce_bytes, ctrl->page_size,
					      &ctrl->bounce_bus);
		if (ctrl->bounce == NULL) {
			st = USTOR_ERR_NO_MEMORY;
			goto fail_disable;
		}
	}
	st = ustor_nvme_ns_scan(ctrl);
	if (st != USTOR_OK)
		goto fail_disable;
	ctrl->recover_on = 1;
	return USTOR_OK;

fail_disable:
	/* The device may still own queue memory: stop it before freeing. */
	ctrl->state = USTOR_NVME_STATE_OFF;
	if (ustor_nvme_disable(ctrl, 0) != USTOR_OK) {
		USTOR_ERR(hal, "nvme%u: controller did not stop; its DMA memory is not freed",
			  (unsigned)ctrl->cfg.index);
		return st;
	}
fail:
	ustor_nvme_free_all(ctrl);
	return st;
}

ustor_status ustor_nvme_ctrl_shutdown(struct ustor_nvme_ctrl *ctrl)
{
	const struct ustor_hal *hal;
	uint64_t deadline;
	ustor_status st = USTOR_OK;
	uint32_t cc;
	uint16_t i;

	if (ctrl == NULL || ctrl->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (ctrl->state == USTOR_NVME_STATE_FAILED) {
		/* The driver's own requests ended when it failed; those the
		 * block layer still holds (USTOR_REQ_F_WAIT) end now, with the
		 * reason it failed. Free memory only if the controller was
		 * seen to stop (it may still write there). */
		ctrl->state = USTOR_NVME_STATE_SHUT_DOWN;
		ustor_nvme_io_fail_all(ctrl, ctrl->failed_status);
		for (i = 0; i < ctrl->nns && i < USTOR_NVME_MAX_NAMESPACES; i++)
			ustor_block_sched_fail_all(&ctrl->ns[i].bdev, ctrl->failed_status);
		if (!ctrl->stopped) /* once more: it may answer again */
			ctrl->stopped = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS) != 0xffffffffu &&
					ustor_nvme_disable(ctrl, 0) == USTOR_OK;
		if (ctrl->stopped)
			ustor_nvme_free_all(ctrl);
		return ctrl->failed_status;
	}
	if (ctrl->state != USTOR_NVME_STATE_READY)
		return ctrl->state == USTOR_NVME_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN
								 : USTOR_ERR_NOT_READY;
	hal = ctrl->hal;
	ctrl->state = USTOR_NVME_STATE_STOPPING; /* no new I/O; admin still allowed */
	/* Delete I/O queues first (SQs, then CQs): skipping this counts as an
	 * unsafe shutdown on some drives. */
	for (i = 0; i < ctrl->nio; i++)
		(void)ustor_nvme_delete_io_queue(ctrl, USTOR_NVME_ADMIN_DELETE_SQ, ctrl->io[i].ring.qid);
	for (i = 0; i < ctrl->nio; i++)
		(void)ustor_nvme_delete_io_queue(ctrl, USTOR_NVME_ADMIN_DELETE_CQ, ctrl->io[i].ring.qid);

	cc = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CC);
	ustor_nvme_wr32(ctrl, USTOR_NVME_REG_CC,
			(cc & ~USTOR_NVME_CC_SHN_MASK) | USTOR_NVME_CC_SHN_NORMAL);
	deadline = hal->now_ns(hal->ctx) + (uint64_t)ctrl->cfg.shutdown_timeout_ms * 1000000u;
	for (;;) {
		uint32_t csts = ustor_nvme_rd32(ctrl, USTOR_NVME_REG_CSTS);

		if (csts == 0xffffffffu) {
			st = USTOR_ERR_DEVICE_GONE;
			break;
		}
		if ((csts & USTOR_NVME_CSTS_SHST_MASK) == USTOR_NVME_CSTS_SHST_COMPLETE)
			break;
		if (hal->now_ns(hal->ctx) >= deadline) {
			ustor_nvme_log_regs(ctrl, "timeout waiting for shutdown (CSTS.SHST)");
			st = USTOR_ERR_TIMEOUT;
			break;
		}
		if (hal->yield != NULL)
			hal->yield(hal->ctx);
		hal->delay_us(hal->ctx, 1000);
	}
	/* Disable as well, so no queue memory is in use when it is freed. */
	ctrl->state = USTOR_NVME_STATE_SHUT_DOWN;
	if (ustor_nvme_disable(ctrl, 0) != USTOR_OK) {
		USTOR_ERR(hal, "nvme%u: controller did not stop after shutdown; memory kept",
			  (unsigned)ctrl->cfg.index);
		st = st != USTOR_OK ? st : USTOR_ERR_TIMEOUT;
		/* Queue memory stays, but no request is left without its
		 * callback: they end with the reason (as a cancel after a
		 * timeout, the device may still touch their buffers). */
		ustor_nvme_io_fail_all(ctrl, st);
		for (i = 0; i < ctrl->nns && i < USTOR_NVME_MAX_NAMESPACES; i++)
			ustor_block_sched_fail_all(&ctrl->ns[i].bdev, st);
		return st;
	}
	/* The controller is stopped: whatever was still outstanding ends now,
	 * with USTOR_ERR_SHUT_DOWN and its callback, never silently. */
	ustor_nvme_io_fail_all(ctrl, USTOR_ERR_SHUT_DOWN);
	/* And those the block layer held (USTOR_REQ_F_WAIT, a policy). */
	for (i = 0; i < ctrl->nns && i < USTOR_NVME_MAX_NAMESPACES; i++)
		ustor_block_sched_fail_all(&ctrl->ns[i].bdev, USTOR_ERR_SHUT_DOWN);
	ustor_nvme_free_all(ctrl);
	return st;
}
