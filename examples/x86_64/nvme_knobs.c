/* SPDX-License-Identifier: MIT */
/*
 * NVMe queue knobs of the example kernel (nvme_ctrls.h): shadow doorbells
 * and completion modes from the command line, and their checks.
 */
#include "nvme_ctrls.h"

struct nvme_knobs nvme_knobs = { -1, -1, 0, 0 };

#define BURST 32u
static uint8_t burst_buf[BURST * 4096u] __attribute__((aligned(4096)));
static struct ustor_block_req burst_req[BURST];
static unsigned burst_done;
static unsigned burst_failed;

static int word(const char *s, const char *end, const char *w)
{
	while (s < end && *w != '\0' && *s == *w) {
		s++;
		w++;
	}
	return s == end && *w == '\0';
}

int nvme_knob_parse(const char *key, const char *kend, const char *val, const char *vend)
{
	if (word(key, kend, "dbbuf")) {
		if (word(val, vend, "0"))
			nvme_knobs.dbbuf = 0;
		else if (word(val, vend, "1"))
			nvme_knobs.dbbuf = 1;
		else
			return -1;
		return 1;
	}
	if (word(key, kend, "completion")) {
		if (word(val, vend, "poll"))
			nvme_knobs.completion = USTOR_NVME_COMPLETION_POLL;
		else if (word(val, vend, "irq"))
			nvme_knobs.completion = USTOR_NVME_COMPLETION_IRQ;
		else if (word(val, vend, "adaptive"))
			nvme_knobs.completion = USTOR_NVME_COMPLETION_ADAPTIVE;
		else
			return -1;
		return 1;
	}
	return 0;
}

/* hal.irq_mask: the MSI-X table entry's Vector Control, bit 0 = masked
 * (PCI Local Bus 3.0, 6.8.2.9). A message that comes while masked sets the
 * pending bit and is sent on unmask. */
static void knobs_irq_mask(void *ctx, uint32_t pci_addr, uint16_t vector, int masked)
{
	struct port_ctx *port = (struct port_ctx *)ctx;
	struct ctrl_slot *cs;

	(void)pci_addr;
	if (port->index >= MAX_CTRLS)
		return;
	cs = &ctrls[port->index];
	if (!cs->irq_on || vector >= cs->msix.entries)
		return;
	*(volatile uint32_t *)(cs->msix.table + 16u * vector + 12u) = masked ? 1u : 0u;
	if (masked)
		nvme_knobs.masks++;
	else
		nvme_knobs.unmasks++;
}

void nvme_knobs_apply(struct ctrl_slot *cs, struct ustor_nvme_config *cfg)
{
	if (nvme_knobs.dbbuf >= 0)
		cfg->shadow_doorbells = (uint8_t)nvme_knobs.dbbuf;
	if (nvme_knobs.completion < 0)
		return;
	/* irq and adaptive only with MSI-X set up (irq=1 did it). */
	cfg->completion = cfg->use_irq ? (uint8_t)nvme_knobs.completion
				       : (uint8_t)USTOR_NVME_COMPLETION_POLL;
	if (nvme_knobs.completion == USTOR_NVME_COMPLETION_POLL)
		cfg->use_irq = 0;
	if (cfg->completion == USTOR_NVME_COMPLETION_ADAPTIVE)
		cs->hal.irq_mask = knobs_irq_mask;
}

static void burst_cb(struct ustor_block_req *req)
{
	burst_done++;
	if (req->status != USTOR_OK)
		burst_failed++;
}

/* BURST one-block reads in flight at once on queue 0 of `d`, polled to the
 * end (bounded by the device's timeout); returns USTOR_OK when all passed. */
static ustor_status burst(struct ctrl_slot *cs, struct ustor_block_device *d)
{
	const struct ustor_hal *hal = &cs->hal;
	uint64_t deadline;
	unsigned n = BURST;
	ustor_status st;

	if (d->block_size > 4096u)
		return USTOR_ERR_UNSUPPORTED;
	if (d->nblocks < n)
		n = (unsigned)d->nblocks;
	burst_done = 0;
	burst_failed = 0;
	for (unsigned i = 0; i < n; i++) {
		struct ustor_block_req *r = &burst_req[i];

		memset(r, 0, sizeof(*r));
		r->op = USTOR_BLOCK_READ;
		r->lba = i;
		r->nblocks = 1;
		r->buf = burst_buf + (size_t)i * d->block_size;
		r->done = burst_cb;
		st = ustor_block_submit(d, r);
		if (st != USTOR_OK)
			return st; /* earlier ones complete below is not guaranteed: report */
	}
	deadline = hal->now_ns(hal->ctx) + (uint64_t)d->timeout_ms * 1000000u;
	while (burst_done < n && hal->now_ns(hal->ctx) < deadline)
		ustor_block_poll(d, 0);
	if (burst_done < n)
		return USTOR_ERR_TIMEOUT;
	return burst_failed != 0 ? USTOR_ERR_MEDIA : USTOR_OK;
}

static uint32_t db_skipped(const struct ustor_nvme_ctrl *c)
{
	uint32_t s = c->admin.ring.db_skipped;

	for (uint16_t i = 0; i < c->nio; i++)
		s += c->io[i].ring.db_skipped;
	return s;
}

void nvme_knobs_check(struct ctrl_slot *cs)
{
	struct ustor_block_device *d;
	ustor_status st;

	if (nvme_knobs.dbbuf < 0 && nvme_knobs.completion != USTOR_NVME_COMPLETION_ADAPTIVE)
		return;
	d = ustor_nvme_ns_bdev(&cs->ctrl, 0);
	if (d == NULL || cs->broken != USTOR_OK) {
		report(cs->name, nvme_knobs.dbbuf >= 0 ? "dbbuf" : "adaptive", SKIP,
		       "no usable namespace");
		return;
	}
	if (nvme_knobs.dbbuf >= 0) {
		int offered = (cs->ctrl.info.oacs & USTOR_NVME_OACS_DBBUF) != 0;
		uint32_t before = db_skipped(&cs->ctrl);

		st = burst(cs, d);
		if (st != USTOR_OK)
			report(cs->name, "dbbuf", FAIL, "%u reads in flight: %s", BURST,
			       describe(st, NULL));
		else if (nvme_knobs.dbbuf == 0)
			report(cs->name, cs->ctrl.dbbuf_on ? "dbbuf" : "dbbuf",
			       cs->ctrl.dbbuf_on ? FAIL : PASS,
			       "off as asked (OACS bit 8 %s): %u reads in flight, every doorbell "
			       "an MMIO write", offered ? "set" : "clear", BURST);
		else if (!offered)
			report(cs->name, "dbbuf", SKIP, "the controller lacks Doorbell Buffer Config "
			       "(OACS 0x%04x)", cs->ctrl.info.oacs);
		else if (!cs->ctrl.dbbuf_on)
			report(cs->name, "dbbuf", FAIL, "OACS bit 8 set but shadow doorbells are off "
			       "(Doorbell Buffer Config failed?)");
		else
			report(cs->name, "dbbuf", PASS, "shadow doorbells on: %u reads in flight, "
			       "%u MMIO doorbell writes left out by EventIdx (%u since init)", BURST,
			       db_skipped(&cs->ctrl) - before, db_skipped(&cs->ctrl));
	}
	if (nvme_knobs.completion == USTOR_NVME_COMPLETION_ADAPTIVE) {
		uint32_t masks = nvme_knobs.masks;
		uint32_t unmasks = nvme_knobs.unmasks;
		uint16_t e = ustor_nvme_irq_vector(&cs->ctrl, 0);
		uint32_t irqs;
		struct ustor_block_req req;

		if (!cs->ctrl.adaptive) {
			report(cs->name, "adaptive", SKIP, "adaptive mode not active (irq=1 missing "
			       "or MSI-X unavailable)");
			return;
		}
		st = burst(cs, d);
		if (st != USTOR_OK) {
			report(cs->name, "adaptive", FAIL, "%u reads in flight: %s", BURST,
			       describe(st, NULL));
			return;
		}
		/* Back at low load: the entry is unmasked, so a synchronous read
		 * (which sleeps in yield) is woken by its interrupt again. */
		irqs = cs->irq_count[e];
		for (unsigned i = 0; i < 4; i++) {
			st = nvme_io(d, USTOR_BLOCK_READ, i, 1, burst_buf, &req);
			if (st != USTOR_OK)
				break;
		}
		/* A read whose completion the first poll found never slept, so
		 * its interrupt may still wait in the LAPIC: one yield (sti;
		 * hlt) takes it. */
		if (st == USTOR_OK && cs->hal.yield != NULL)
			cs->hal.yield(cs->hal.ctx);
		if (st != USTOR_OK)
			report(cs->name, "adaptive", FAIL, "read after the burst: %s",
			       describe(st, &req));
		else if (nvme_knobs.masks == masks || nvme_knobs.unmasks == unmasks ||
			 cs->ctrl.io[0].irq_masked)
			report(cs->name, "adaptive", FAIL, "%u reads in flight: entry %u masked %u, "
			       "unmasked %u time(s), now %s", BURST, e, nvme_knobs.masks - masks,
			       nvme_knobs.unmasks - unmasks,
			       cs->ctrl.io[0].irq_masked ? "masked" : "unmasked");
		else if (cs->irq_count[e] == irqs && req.queue == 0)
			report(cs->name, "adaptive", FAIL, "entry %u unmasked again, but no interrupt "
			       "arrived for the reads after the burst", e);
		else
			report(cs->name, "adaptive", PASS, "%u reads in flight: MSI-X entry %u masked "
			       "at %u in flight, unmasked at %u (%u/%u times); %u interrupt(s) after",
			       BURST, e, cs->ctrl.adaptive_high, cs->ctrl.adaptive_low,
			       nvme_knobs.masks - masks, nvme_knobs.unmasks - unmasks,
			       cs->irq_count[e] - irqs);
	}
}
