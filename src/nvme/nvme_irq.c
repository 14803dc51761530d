/* SPDX-License-Identifier: MIT */
/*
 * NVMe completion modes: polling, interrupts, and adaptive (interrupts at
 * low load, polling at high), plus Interrupt Coalescing (Feature 08h).
 */
#include "nvme_internal.h"

void ustor_nvme_irq_setup(struct ustor_nvme_ctrl *ctrl)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t mode = ctrl->cfg.completion;
	int want_irq = ctrl->cfg.use_irq || mode == USTOR_NVME_COMPLETION_IRQ ||
		       mode == USTOR_NVME_COMPLETION_ADAPTIVE;

	/* Each I/O CQ needs its own vector after the admin queue's: fewer than
	 * two vectors leave none for I/O queues. */
	ctrl->irq_on = want_irq && (ctrl->cfg.irq_vectors == 0 || ctrl->cfg.irq_vectors >= 2);
	if (want_irq && !ctrl->irq_on)
		USTOR_WARN(hal, "nvme%u: %u interrupt vector(s): no room for I/O queues, polling",
			   (unsigned)ctrl->cfg.index, ctrl->cfg.irq_vectors);
	ctrl->adaptive = 0;
	if (ctrl->irq_on && mode == USTOR_NVME_COMPLETION_ADAPTIVE) {
		if (hal->irq_mask == NULL) {
			USTOR_WARN(hal, "nvme%u: adaptive completions need hal->irq_mask: interrupts only",
				   (unsigned)ctrl->cfg.index);
		} else {
			ctrl->adaptive = 1;
			ctrl->adaptive_high = ctrl->cfg.adaptive_high != 0 ? ctrl->cfg.adaptive_high
									    : USTOR_NVME_ADAPTIVE_HIGH;
			ctrl->adaptive_low = ctrl->cfg.adaptive_low != 0 ? ctrl->cfg.adaptive_low
									  : USTOR_NVME_ADAPTIVE_LOW;
			/* Hysteresis needs low < high. */
			if (ctrl->adaptive_low >= ctrl->adaptive_high)
				ctrl->adaptive_low = (uint16_t)(ctrl->adaptive_high - 1u);
		}
	}
}

/* Interrupt Coalescing once the I/O queues exist (it applies to every
 * vector but the admin queue's). A refusal is logged, not fatal. */
void ustor_nvme_irq_coalesce_setup(struct ustor_nvme_ctrl *ctrl)
{
	ustor_status st;

	if (!ctrl->irq_on || !ctrl->cfg.irq_coalesce)
		return;
	st = ustor_nvme_set_irq_coalescing(ctrl, ctrl->cfg.irq_coalesce_threshold,
					   ctrl->cfg.irq_coalesce_time_100us);
	if (st != USTOR_OK)
		USTOR_WARN(ctrl->hal, "nvme%u: interrupt coalescing refused: %s",
			   (unsigned)ctrl->cfg.index, ustor_status_name(st));
}

void ustor_nvme_adaptive_update(struct ustor_nvme_ctrl *ctrl, struct ustor_nvme_queue *q)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t inflight = (uint32_t)q->ring.depth - 1u - q->nfree;

	if (!q->irq_masked && inflight >= ctrl->adaptive_high) {
		/* Busy: completions come faster than interrupts pay off; the
		 * submitter polls anyway. */
		q->irq_masked = 1;
		hal->irq_mask(hal->ctx, ctrl->cfg.pci_addr, q->ring.qid, 1);
	} else if (q->irq_masked && inflight <= ctrl->adaptive_low) {
		q->irq_masked = 0;
		hal->irq_mask(hal->ctx, ctrl->cfg.pci_addr, q->ring.qid, 0);
	}
}
