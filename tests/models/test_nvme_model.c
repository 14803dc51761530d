/* SPDX-License-Identifier: MIT */
/*
 * Self-test of the NVMe model and the hosted HAL, without the uStor library:
 * a tiny host driver written here from the spec brings the controller up,
 * identifies it, creates an I/O queue pair and moves data, then pokes the
 * fault knobs. Exit status 0 when every check passed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_model.h"

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",         \
				__FILE__, __LINE__, #cond);                  \
			failures++;                                          \
		}                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		unsigned long long va_ = (unsigned long long)(a);            \
		unsigned long long vb_ = (unsigned long long)(b);            \
		if (va_ != vb_) {                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s "     \
				"(0x%llx != 0x%llx)\n", __FILE__, __LINE__,  \
				#a, #b, va_, vb_);                           \
			failures++;                                          \
		}                                                            \
	} while (0)

/* Status as SCT << 8 | SC (CQE DW3 bits 31:17 without More/DNR). */
#define SC(sct, sc) (((sct) << 8) | (sc))

/* ---- Little-endian helpers (the test's own) ------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/* ---- A minimal host ------------------------------------------------- */

struct host {
	struct ustor_test_hal h;
	struct ustor_nvme_model m;
	volatile uint8_t *regs;
};

struct hq {
	uint16_t qid;
	uint32_t size;
	uint8_t *sq, *cq;
	ustor_bus_addr sq_bus, cq_bus;
	uint32_t sq_tail, cq_head;
	uint16_t phase;
	uint16_t next_cid;
};

struct cmd {
	uint8_t opc;
	uint32_t nsid;
	uint64_t mptr, prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13;
};

struct cqe {
	uint32_t dw0, dw1;
	uint16_t sqhd, sqid, cid, status; /* status: SCT << 8 | SC */
	int dnr;
};

static uint32_t rd32(struct host *t, uint32_t off)
{
	return t->h.hal.mmio_read32(t->h.hal.ctx, t->regs + off);
}

static void wr32(struct host *t, uint32_t off, uint32_t v)
{
	t->h.hal.mmio_write32(t->h.hal.ctx, t->regs + off, v);
}

static void *dma(struct host *t, size_t size, ustor_bus_addr *bus)
{
	void *p = t->h.hal.dma_alloc(t->h.hal.ctx, size, 4096, bus);

	CHECK(p != NULL);
	return p;
}

static void dma_free(struct host *t, void *p, size_t size)
{
	t->h.hal.dma_free(t->h.hal.ctx, p, size);
}

static uint64_t bus_of(struct host *t, const void *p, size_t len)
{
	ustor_bus_addr b = 0;

	CHECK_EQ(t->h.hal.virt_to_bus(t->h.hal.ctx, p, len, &b), USTOR_OK);
	return b;
}

static uint32_t db_off(uint16_t qid, int is_cq)
{
	return 0x1000u + (2u * qid + (is_cq ? 1u : 0u)) * 4u; /* DSTRD 0 */
}

static void hq_alloc(struct host *t, struct hq *q, uint16_t qid,
		     uint32_t size)
{
	memset(q, 0, sizeof(*q));
	q->qid = qid;
	q->size = size;
	q->phase = 1;
	q->sq = dma(t, size * 64u, &q->sq_bus);
	q->cq = dma(t, size * 16u, &q->cq_bus);
}

static void hq_free(struct host *t, struct hq *q)
{
	dma_free(t, q->sq, q->size * 64u);
	dma_free(t, q->cq, q->size * 16u);
}

/* Fill the next SQ slot; the doorbell is rung separately. */
static uint16_t sq_put(struct hq *q, const struct cmd *c)
{
	uint8_t *e = q->sq + q->sq_tail * 64u;
	uint16_t cid = q->next_cid++;

	memset(e, 0, 64);
	put32(e, c->opc | ((uint32_t)cid << 16));
	put32(e + 4, c->nsid);
	put64(e + 16, c->mptr);
	put64(e + 24, c->prp1);
	put64(e + 32, c->prp2);
	put32(e + 40, c->cdw10);
	put32(e + 44, c->cdw11);
	put32(e + 48, c->cdw12);
	put32(e + 52, c->cdw13);
	q->sq_tail = q->sq_tail + 1 == q->size ? 0 : q->sq_tail + 1;
	return cid;
}

static void sq_ring(struct host *t, struct hq *q)
{
	t->h.hal.wmb(t->h.hal.ctx);
	wr32(t, db_off(q->qid, 0), q->sq_tail);
}

/* Take one CQE if its phase tag says it is new; no doorbell. */
static int cq_take(struct hq *q, struct cqe *out)
{
	const uint8_t *e = q->cq + q->cq_head * 16u;
	uint16_t st = get16(e + 14);

	if ((st & 1u) != q->phase)
		return 0;
	out->dw0 = get32(e);
	out->dw1 = get32(e + 4);
	out->sqhd = get16(e + 8);
	out->sqid = get16(e + 10);
	out->cid = get16(e + 12);
	out->status = (uint16_t)((st >> 1) & 0x7ffu);
	out->dnr = (st >> 15) & 1;
	if (++q->cq_head == q->size) {
		q->cq_head = 0;
		q->phase ^= 1u;
	}
	return 1;
}

static void cq_ring(struct host *t, struct hq *q)
{
	wr32(t, db_off(q->qid, 1), q->cq_head);
}

/* Submit one command and take its completion (the model is synchronous). */
static uint16_t exec(struct host *t, struct hq *q, const struct cmd *c,
		     struct cqe *out)
{
	struct cqe tmp;
	uint16_t cid;

	if (!out)
		out = &tmp;
	cid = sq_put(q, c);
	sq_ring(t, q);
	if (!cq_take(q, out)) {
		CHECK(0 && "no completion posted");
		return 0xffff;
	}
	cq_ring(t, q);
	CHECK_EQ(out->cid, cid);
	CHECK_EQ(out->sqid, q->qid);
	CHECK_EQ(out->sqhd, q->sq_tail);
	return out->status;
}

static void host_init(struct host *t, struct ustor_nvme_model_cfg *cfg)
{
	ustor_test_hal_init(&t->h);
	CHECK_EQ(ustor_nvme_model_init(&t->m, &t->h, cfg), USTOR_OK);
	t->regs = ustor_nvme_model_regs(&t->m);
}

static void host_fini(struct host *t)
{
	CHECK_EQ(ustor_test_hal_live_allocs(&t->h), 0);
	ustor_nvme_model_fini(&t->m);
	ustor_test_hal_fini(&t->h);
}

/* Memory Space + Bus Master through the HAL's PCI config hook. */
static void pci_enable(struct host *t)
{
	struct ustor_hal *hal = &t->h.hal;
	uint32_t pa = t->m.cfg.pci_addr;

	CHECK(hal->pci_cfg_read32 != NULL);
	CHECK_EQ(hal->pci_cfg_read32(hal->ctx, pa, 0) & 0xffffu, 0x1b36);
	CHECK_EQ(hal->pci_cfg_read32(hal->ctx, pa, 8) >> 8, 0x010802);
	CHECK_EQ(hal->pci_cfg_read32(hal->ctx, pa, 4) & 6u, 0);
	hal->pci_cfg_write32(hal->ctx, pa, 4,
			     hal->pci_cfg_read32(hal->ctx, pa, 4) | 6u);
}

static int wait_rdy(struct host *t, uint32_t want)
{
	for (int i = 0; i < 100000; i++) {
		uint32_t csts = rd32(t, 0x1c);

		if (csts == 0xffffffffu || (csts & 2u))
			return 0;
		if ((csts & 1u) == want)
			return 1;
		t->h.hal.delay_us(t->h.hal.ctx, 100);
	}
	return 0;
}

static int enable(struct host *t, struct hq *aq)
{
	wr32(t, 0x24, ((aq->size - 1) << 16) | (aq->size - 1));
	wr32(t, 0x28, (uint32_t)aq->sq_bus);
	wr32(t, 0x2c, (uint32_t)(aq->sq_bus >> 32));
	wr32(t, 0x30, (uint32_t)aq->cq_bus);
	wr32(t, 0x34, (uint32_t)(aq->cq_bus >> 32));
	wr32(t, 0x14, 1u | (6u << 16) | (4u << 20));
	return wait_rdy(t, 1);
}

static void disable(struct host *t)
{
	wr32(t, 0x14, 0);
	CHECK(wait_rdy(t, 0));
}

static uint16_t create_pair(struct host *t, struct hq *aq, struct hq *q)
{
	struct cmd c = { .opc = 0x05, .prp1 = q->cq_bus,
			 .cdw10 = ((q->size - 1) << 16) | q->qid,
			 .cdw11 = 1 };
	uint16_t st = exec(t, aq, &c, NULL);

	if (st)
		return st;
	c.opc = 0x01;
	c.prp1 = q->sq_bus;
	c.cdw11 = ((uint32_t)q->qid << 16) | 1u;
	return exec(t, aq, &c, NULL);
}

static void delete_pair(struct host *t, struct hq *aq, struct hq *q)
{
	struct cmd c = { .opc = 0x00, .cdw10 = q->qid };

	CHECK_EQ(exec(t, aq, &c, NULL), 0);
	c.opc = 0x04;
	CHECK_EQ(exec(t, aq, &c, NULL), 0);
}

/* Bring-up shared by most tests: default cfg plus nsid 3 (4 KiB LBAs). */
static void bringup(struct host *t, struct hq *aq, struct hq *io,
		    struct ustor_nvme_model_cfg *cfg)
{
	struct ustor_nvme_model_cfg def;

	if (!cfg) {
		ustor_nvme_model_cfg_default(&def);
		def.num_ns = 2;
		def.ns[1].nsid = 3;
		def.ns[1].nblocks = 64;
		def.ns[1].lbads = 12;
		cfg = &def;
	}
	host_init(t, cfg);
	pci_enable(t);
	hq_alloc(t, aq, 0, 8);
	CHECK(enable(t, aq));
	if (io) {
		hq_alloc(t, io, 1, 4);
		CHECK_EQ(create_pair(t, aq, io), 0);
	}
}

static void teardown(struct host *t, struct hq *aq, struct hq *io)
{
	if (io) {
		delete_pair(t, aq, io);
		hq_free(t, io);
	}
	disable(t);
	hq_free(t, aq);
	host_fini(t);
}

/* ---- Tests -------------------------------------------------------- */

static void test_hal(void)
{
	struct ustor_test_hal h;
	ustor_bus_addr b1, b2, b;
	uint8_t *p1, *p2, *buf;
	size_t len = 3 * 4096;

	ustor_test_hal_init(&h);
	p1 = h.hal.dma_alloc(h.hal.ctx, 100, 64, &b1);
	p2 = h.hal.dma_alloc(h.hal.ctx, 8192, 8192, &b2);
	CHECK(p1 && p2);
	CHECK(b1 != (uintptr_t)p1 && b1 % 64 == 0 && (b1 & 4095) ==
	      ((uintptr_t)p1 & 4095));
	CHECK(b2 % 8192 == 0 && ((uintptr_t)p2 & 8191) == 0);
	CHECK(ustor_test_hal_bus_to_virt(&h, b1 + 10, 90) == p1 + 10);
	CHECK(ustor_test_hal_bus_to_virt(&h, b1 + 10, 91) == NULL);
	CHECK_EQ(ustor_test_hal_live_allocs(&h), 2);
	h.fail_alloc_after = 0;
	CHECK(h.hal.dma_alloc(h.hal.ctx, 16, 16, &b) == NULL);
	CHECK_EQ(h.fail_alloc_after, -1);
	h.hal.dma_free(h.hal.ctx, p1, 100);
	h.hal.dma_free(h.hal.ctx, p2, 8192);
	CHECK(ustor_test_hal_bus_to_virt(&h, b1, 1) == NULL);

	/* Scattered registered buffer: pieces reversed and not adjacent. */
	CHECK(posix_memalign((void **)&buf, 4096, len) == 0);
	CHECK_EQ(h.hal.virt_to_bus(h.hal.ctx, buf, 16, &b),
		 USTOR_ERR_NOT_DMA_ABLE);
	CHECK_EQ(ustor_test_hal_register(&h, buf + 100, len - 100), USTOR_OK);
	CHECK_EQ(h.hal.virt_to_bus(h.hal.ctx, buf + 100, 3996, &b1), USTOR_OK);
	CHECK_EQ(h.hal.virt_to_bus(h.hal.ctx, buf + 4096, 4096, &b2),
		 USTOR_OK);
	CHECK(b1 % 4096 == 100 && b2 % 4096 == 0 && b2 + 4096 != b1 - 100 &&
	      b1 - 100 + 4096 != b2);
	CHECK_EQ(h.hal.virt_to_bus(h.hal.ctx, buf + 4000, 200, &b),
		 USTOR_ERR_NOT_DMA_ABLE);
	CHECK(ustor_test_hal_bus_to_virt(&h, b2 + 5, 10) == buf + 4096 + 5);
	CHECK(ustor_test_hal_bus_to_virt(&h, b2 + 4090, 10) == NULL);
	ustor_test_hal_unregister(&h, buf + 100);
	free(buf);

	h.hal.log(h.hal.ctx, USTOR_LOG_INFO, "hello log");
	CHECK(ustor_test_hal_log_contains(&h, "hello log"));
	CHECK(!strcmp(ustor_test_hal_log_text(&h), "hello log\n"));
	ustor_test_hal_log_clear(&h);
	CHECK(!ustor_test_hal_log_contains(&h, "hello"));
	b = h.hal.now_ns(h.hal.ctx);
	CHECK_EQ(h.hal.now_ns(h.hal.ctx) - b, 1000);
	h.hal.delay_us(h.hal.ctx, 5);
	CHECK_EQ(ustor_test_hal_time(&h) - b, 7000);
	ustor_test_hal_fini(&h);
}

static void test_registers(void)
{
	struct host t;
	struct ustor_nvme_model_cfg cfg;
	uint64_t cap;

	ustor_nvme_model_cfg_default(&cfg);
	host_init(&t, &cfg);
	CHECK_EQ(rd32(&t, 0), 0xffffffffu); /* Memory Space Enable is off */
	CHECK_EQ(t.m.host_violations, 1);
	ustor_nvme_model_clear_violations(&t.m);
	pci_enable(&t);
	cap = t.h.hal.mmio_read64(t.h.hal.ctx, t.regs);
	CHECK_EQ(cap & 0xffffu, 1023);          /* MQES */
	CHECK_EQ((cap >> 16) & 1u, 1);          /* CQR */
	CHECK_EQ((cap >> 24) & 0xffu, 20);      /* TO */
	CHECK_EQ((cap >> 32) & 0xfu, 0);        /* DSTRD */
	CHECK_EQ((cap >> 37) & 0xffu, 0x41);    /* CSS */
	CHECK_EQ((cap >> 48) & 0xfu, 0);        /* MPSMIN */
	CHECK_EQ((cap >> 52) & 0xfu, 4);        /* MPSMAX */
	CHECK_EQ(rd32(&t, 0x08), 0x00010400u);
	CHECK_EQ(rd32(&t, 0x1c), 0);
	CHECK_EQ(ustor_nvme_model_regs_size(&t.m), 0x1000 + 2 * 5 * 4);
	CHECK_EQ(t.h.mmio_reads, 5); /* 1 refused + 2 for CAP + VS + CSTS */
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	host_fini(&t);
}

static void test_identify(void)
{
	struct host t;
	struct hq aq;
	ustor_bus_addr bus;
	uint8_t *page;
	struct cmd c = { .opc = 0x06, .cdw10 = 1 };

	bringup(&t, &aq, NULL, NULL);
	page = dma(&t, 4096, &bus);
	c.prp1 = bus;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(get16(page), 0x1b36);
	CHECK(!memcmp(page + 4, "USTOR-MODEL-0001    ", 20));
	CHECK(!memcmp(page + 24, "uStor NVMe model", 16));
	CHECK_EQ(page[77], 5);          /* MDTS */
	CHECK_EQ(get32(page + 80), 0x00010400u);
	CHECK_EQ(page[512], 0x66);
	CHECK_EQ(page[513], 0x44);
	CHECK_EQ(get32(page + 516), 3); /* NN */
	CHECK_EQ(get16(page + 520), 0x1c);
	CHECK_EQ(page[525], 1);

	/* Active namespace list: 1, 3, then zeros. */
	c.cdw10 = 2;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK(get32(page) == 1 && get32(page + 4) == 3 && get32(page + 8) == 0);

	/* Namespace 3: 64 blocks of 4 KiB, FLBAS picks the 4096+0 format. */
	c.cdw10 = 0;
	c.nsid = 3;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(get64(page), 64);
	CHECK_EQ(page[26] & 0xfu, 2);
	CHECK_EQ(get32(page + 128 + 8) >> 16 & 0xffu, 12);
	c.nsid = 2; /* inactive, <= NN: zero page */
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(get64(page), 0);
	c.nsid = 4;
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(0, 0x0b));
	c.nsid = 0xffffffffu;
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(0, 0x0b));

	/* Garbage mode. */
	t.m.garbage_identify = 1;
	c.nsid = 0;
	c.cdw10 = 1;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK(get32(page + 516) >= 0x80000000u);
	t.m.garbage_identify = 0;

	dma_free(&t, page, 4096);
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	teardown(&t, &aq, NULL);
}

static void test_features_queues(void)
{
	struct host t;
	struct hq aq, q2;
	struct cqe e;
	struct cmd c = { .opc = 0x09, .cdw10 = 0x07, .cdw11 = 0x00070007u };

	bringup(&t, &aq, NULL, NULL);
	CHECK_EQ(exec(&t, &aq, &c, &e), 0);
	CHECK_EQ(e.dw0, 0x00030003u); /* 4 pairs max, 0-based */
	c.cdw10 = 0x06;
	c.cdw11 = 0;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	c.opc = 0x0a;
	CHECK_EQ(exec(&t, &aq, &c, &e), 0);
	CHECK_EQ(e.dw0, 0);

	hq_alloc(&t, &q2, 2, 4);
	c = (struct cmd){ .opc = 0x01, .prp1 = q2.sq_bus,
			  .cdw10 = (3u << 16) | 2, .cdw11 = (2u << 16) | 1 };
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(1, 0x00)); /* CQ 2 missing */
	c.opc = 0x05;
	c.prp1 = q2.cq_bus;
	c.cdw11 = 1;
	c.cdw10 = (1024u << 16) | 2; /* 1025 entries > MQES + 1 */
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(1, 0x02));
	c.cdw10 = (3u << 16) | 5; /* qid above the maximum */
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(1, 0x01));
	CHECK_EQ(create_pair(&t, &aq, &q2), 0);
	c = (struct cmd){ .opc = 0x04, .cdw10 = 2 };
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(1, 0x0c)); /* SQ still bound */
	c = (struct cmd){ .opc = 0x09, .cdw10 = 0x07, .cdw11 = 0 };
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(0, 0x0c)); /* queues exist */
	delete_pair(&t, &aq, &q2);
	hq_free(&t, &q2);

	c = (struct cmd){ .opc = 0xc0, .cdw12 = 0xdeadbeefu };
	CHECK_EQ(exec(&t, &aq, &c, &e), 0);
	CHECK_EQ(e.dw0, 0xdeadbeefu);
	c.opc = 0x7f;
	CHECK_EQ(exec(&t, &aq, &c, &e), SC(0, 0x01));
	CHECK(e.dnr);
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	teardown(&t, &aq, NULL);
}

/* Build PRPs for a scattered buffer; the list starts `list_off` bytes into
 * a two-page list area so that it has to chain after a few slots. */
static void build_prps(struct host *t, uint8_t *buf, size_t len,
		       uint8_t *list, ustor_bus_addr list_bus,
		       size_t list_off, struct cmd *c)
{
	size_t first = 4096 - ((uintptr_t)buf & 4095);
	uint8_t *slot = list + list_off;
	ustor_bus_addr slot_bus = list_bus + list_off;
	size_t npages = (len - first + 4095) / 4096;

	c->prp1 = bus_of(t, buf, first < len ? first : len);
	if (len <= first)
		return;
	if (npages == 1) {
		c->prp2 = bus_of(t, buf + first, 4096);
		return;
	}
	c->prp2 = slot_bus;
	for (size_t i = 0; i < npages; i++) {
		if (((slot_bus + 8) & 4095) == 0 && i + 1 < npages) {
			/* Last slot of a list page: chain to the next page. */
			uint64_t next = (slot_bus + 8);

			put64(slot, next);
			slot = list + (next - list_bus);
			slot_bus = next;
		}
		put64(slot, bus_of(t, buf + first + i * 4096, 4096));
		slot += 8;
		slot_bus += 8;
	}
}

static void test_io_prp_list(void)
{
	struct host t;
	struct hq aq, io;
	ustor_bus_addr lbus;
	uint8_t *list, *wbuf, *rbuf, *disk;
	const size_t len = 8 * 4096;
	uint64_t bytes;
	struct cmd c = { .opc = 0x01, .nsid = 3, .cdw10 = 5, .cdw12 = 7 };

	bringup(&t, &aq, &io, NULL);
	list = dma(&t, 8192, &lbus);
	CHECK(posix_memalign((void **)&wbuf, 4096, len) == 0);
	CHECK(posix_memalign((void **)&rbuf, 4096, len) == 0);
	for (size_t i = 0; i < len; i++)
		wbuf[i] = (uint8_t)(i * 7 + (i >> 12));
	memset(rbuf, 0, len);
	CHECK_EQ(ustor_test_hal_register(&t.h, wbuf, len), USTOR_OK);
	CHECK_EQ(ustor_test_hal_register(&t.h, rbuf, len), USTOR_OK);

	/* Write 8 blocks at LBA 5; the list chains after 3 slots. */
	build_prps(&t, wbuf, len, list, lbus, 4096 - 24, &c);
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	disk = ustor_nvme_model_ns_data(&t.m, 3, &bytes);
	CHECK_EQ(bytes, 64 * 4096);
	CHECK(disk && !memcmp(disk + 5 * 4096, wbuf, len));

	/* Read back with a plain list. */
	memset(list, 0, 8192);
	c.opc = 0x02;
	build_prps(&t, rbuf, len, list, lbus, 0, &c);
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	CHECK(!memcmp(rbuf, wbuf, len));
	CHECK_EQ(t.m.io_cmds[0x01], 1);
	CHECK_EQ(t.m.io_cmds[0x02], 1);
	CHECK_EQ(t.m.data_bytes_written, len);

	/* 512-byte namespace, PRP1 with an offset and PRP2 as data pointer. */
	c = (struct cmd){ .opc = 0x02, .nsid = 1, .cdw10 = 0, .cdw12 = 7 };
	build_prps(&t, rbuf + 512, 4096, list, lbus, 0, &c);
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);

	ustor_test_hal_unregister(&t.h, wbuf);
	ustor_test_hal_unregister(&t.h, rbuf);
	free(wbuf);
	free(rbuf);
	dma_free(&t, list, 8192);
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	teardown(&t, &aq, &io);
}

static void test_prp_violations(void)
{
	struct host t;
	struct hq aq, io;
	ustor_bus_addr bus, lbus;
	uint8_t *buf, *list;
	struct cmd c = { .opc = 0x02, .nsid = 3, .cdw12 = 2 };

	bringup(&t, &aq, &io, NULL);
	buf = dma(&t, 4 * 4096, &bus);
	list = dma(&t, 4096, &lbus);
	c.prp1 = bus + 2; /* not dword aligned */
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x13));
	CHECK_EQ(t.m.host_violations, 1);
	c.prp1 = bus;
	c.prp2 = lbus;
	put64(list, bus + 4096);
	put64(list + 8, bus + 8192 + 512); /* list entry with an offset */
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x13));
	CHECK_EQ(t.m.host_violations, 2);
	c.prp2 = 0x1000; /* unmapped list */
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x04));
	CHECK_EQ(t.m.host_violations, 3);
	c.cdw12 = 63; /* 256 KiB > MDTS (128 KiB) */
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x02));
	CHECK_EQ(t.m.host_violations, 4);
	CHECK(strstr(ustor_nvme_model_violations(&t.m), "MDTS") != NULL);
	ustor_nvme_model_clear_violations(&t.m);

	c = (struct cmd){ .opc = 0x02, .nsid = 3, .prp1 = bus, .cdw10 = 64 };
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x80));
	c.nsid = 2;
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x0b));
	CHECK_EQ(t.m.host_violations, 0);

	/* Error log: newest first. */
	c = (struct cmd){ .opc = 0x02, .prp1 = bus, .cdw10 = 0x01 |
			  ((64u * 64 / 4 - 1) << 16) };
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(get64(buf), 6);
	CHECK_EQ(get16(buf + 12) >> 1, SC(0, 0x0b) | 0x4000u);
	CHECK_EQ(get64(buf + 64 + 16), 64); /* LBA of the range error */
	dma_free(&t, buf, 4 * 4096);
	dma_free(&t, list, 4096);
	teardown(&t, &aq, &io);
}

/* Metadata (extended and separate), Write Zeroes and DSM deallocate. */
static void test_meta_dsm_wz(void)
{
	struct host t;
	struct hq aq, io;
	struct ustor_nvme_model_cfg cfg;
	ustor_bus_addr bus, mbus;
	uint8_t *buf, *mbuf, *data, *meta;
	struct cmd c = { .opc = 0x01, .nsid = 1, .cdw10 = 2, .cdw12 = 1 };

	ustor_nvme_model_cfg_default(&cfg);
	cfg.num_ns = 2;
	cfg.ns[0].ms = 8;
	cfg.ns[0].extended = 1;
	cfg.ns[1] = (struct ustor_nvme_model_ns_cfg){ .nsid = 2,
		.nblocks = 16, .lbads = 12, .ms = 8 };
	bringup(&t, &aq, &io, &cfg);
	buf = dma(&t, 3 * 4096, &bus);
	mbuf = dma(&t, 4096, &mbus);

	/* Extended: 2 x (512 + 8) bytes, interleaved in the stream. */
	for (int i = 0; i < 2 * 520; i++)
		buf[i] = (uint8_t)(i + 1);
	c.prp1 = bus;
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	data = ustor_nvme_model_ns_data(&t.m, 1, NULL);
	meta = ustor_nvme_model_ns_meta(&t.m, 1, NULL);
	CHECK(data && meta);
	CHECK(!memcmp(data + 2 * 512, buf, 512));
	CHECK(!memcmp(meta + 2 * 8, buf + 512, 8));
	CHECK(!memcmp(data + 3 * 512, buf + 520, 512));
	CHECK(!memcmp(meta + 3 * 8, buf + 1032, 8));

	/* Separate metadata buffer (MPTR) for a 4 KiB-block namespace. */
	c = (struct cmd){ .opc = 0x01, .nsid = 2, .cdw10 = 1, .cdw12 = 2,
			  .prp1 = bus, .prp2 = 0, .mptr = mbus };
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x04)); /* list at 0 */
	memset(mbuf, 0xa5, 4096);
	c.prp2 = bus + 4096; /* 2 blocks: PRP2 is the second data page */
	c.cdw12 = 1;
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	meta = ustor_nvme_model_ns_meta(&t.m, 2, NULL);
	CHECK(meta[8] == 0xa5 && meta[8 + 15] == 0xa5 && meta[0] == 0);
	ustor_nvme_model_clear_violations(&t.m);

	/* Write Zeroes block 3 of nsid 1, then DSM-deallocate block 2. */
	c = (struct cmd){ .opc = 0x08, .nsid = 1, .cdw10 = 3 };
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	data = ustor_nvme_model_ns_data(&t.m, 1, NULL);
	CHECK(data[3 * 512] == 0 && data[3 * 512 + 511] == 0);
	CHECK(data[2 * 512] != 0);
	memset(buf, 0, 4096);
	put32(buf + 4, 1);  /* length in blocks */
	put64(buf + 8, 2);  /* starting LBA */
	put32(buf + 16 + 4, 1);
	put64(buf + 16 + 8, 9999); /* out of range: nothing deallocated */
	c = (struct cmd){ .opc = 0x09, .nsid = 1, .prp1 = bus,
			  .cdw10 = 1, .cdw11 = 4 };
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x80));
	CHECK(data[2 * 512] != 0);
	c.cdw10 = 0;
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	CHECK(data[2 * 512] == 0 && data[2 * 512 + 511] == 0);

	dma_free(&t, buf, 3 * 4096);
	dma_free(&t, mbuf, 4096);
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	teardown(&t, &aq, &io);
}

static void test_phase_wrap_and_full(void)
{
	struct host t;
	struct hq aq, io;
	struct cqe e;
	struct cmd c = { .opc = 0xc1 };

	bringup(&t, &aq, &io, NULL);
	/* 10 commands through a 4-entry CQ: the phase flips twice. */
	for (uint32_t i = 0; i < 10; i++) {
		c.cdw12 = i;
		CHECK_EQ(exec(&t, &io, &c, &e), 0);
		CHECK_EQ(e.dw0, i);
	}
	CHECK_EQ(io.phase, 1u ^ ((10 / 4) & 1u));

	/* Fill the CQ (3 usable slots), then 2 more: they must be held. */
	for (uint32_t i = 0; i < 3; i++)
		sq_put(&io, &c);
	sq_ring(&t, &io);
	for (uint32_t i = 0; i < 2; i++)
		sq_put(&io, &c);
	sq_ring(&t, &io);
	CHECK_EQ(ustor_nvme_model_pending(&t.m), 2);
	for (int i = 0; i < 3; i++)
		CHECK(cq_take(&io, &e));
	CHECK(!cq_take(&io, &e)); /* nothing overwritten */
	cq_ring(&t, &io);
	CHECK_EQ(ustor_nvme_model_pending(&t.m), 0);
	for (int i = 0; i < 2; i++)
		CHECK(cq_take(&io, &e));
	CHECK_EQ(e.sqhd, io.sq_tail);
	cq_ring(&t, &io);

	/* Deferred, reversed. */
	t.m.deferred = 1;
	t.m.reorder = 1;
	uint16_t cid0 = sq_put(&io, &c);
	sq_put(&io, &c);
	sq_put(&io, &c);
	sq_ring(&t, &io);
	CHECK(!cq_take(&io, &e));
	CHECK_EQ(ustor_nvme_model_process(&t.m), 3);
	CHECK(cq_take(&io, &e));
	CHECK_EQ(e.cid, (uint16_t)(cid0 + 2));
	CHECK(cq_take(&io, &e) && cq_take(&io, &e));
	CHECK_EQ(e.cid, cid0);
	cq_ring(&t, &io);
	t.m.deferred = 0;
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	teardown(&t, &aq, &io);
}

static void test_faults(void)
{
	struct host t;
	struct hq aq, io;
	struct cqe e;
	struct cmd c = { .opc = 0xc1 };
	uint16_t cid;

	bringup(&t, &aq, &io, NULL);
	t.m.inject[0] = (struct ustor_nvme_model_inject){
		.qid = 1, .opcode = 0xc1,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x81, 1), .count = 1 };
	CHECK_EQ(exec(&t, &io, &c, NULL), SC(0, 0x81));
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);

	t.m.wrong_cid = 1;
	cid = sq_put(&io, &c);
	sq_ring(&t, &io);
	CHECK(cq_take(&io, &e));
	CHECK_EQ(e.cid, (uint16_t)~cid);
	cq_ring(&t, &io);

	t.m.drop_completions = 1;
	t.m.drop_qid = 1;
	sq_put(&io, &c);
	sq_ring(&t, &io);
	CHECK(!cq_take(&io, &e));
	CHECK_EQ(t.m.completions_dropped, 1);

	t.m.fatal_after = 1;
	CHECK_EQ(exec(&t, &io, &c, NULL), 0);
	CHECK_EQ(rd32(&t, 0x1c) & 3u, 3u); /* RDY and CFS */
	sq_put(&io, &c);
	sq_ring(&t, &io);
	CHECK(!cq_take(&io, &e));

	/* Reset clears CFS; the quirky controller then freezes on an early
	 * CSTS read. */
	t.m.csts_freeze_window_ns = 2300000000ull;
	wr32(&t, 0x14, 0);
	CHECK_EQ(rd32(&t, 0x1c), 0xffffffffu);
	CHECK(t.m.frozen);
	CHECK_EQ(rd32(&t, 0x00), 0xffffffffu);
	hq_free(&t, &io);
	hq_free(&t, &aq);
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));
	host_fini(&t);
}

static void test_bringup_quirks(void)
{
	struct host t;
	struct hq aq;
	struct ustor_nvme_model_cfg cfg;

	/* Firmware hand-off: enabled, stale admin queues. */
	ustor_nvme_model_cfg_default(&cfg);
	cfg.handoff_enabled = 1;
	cfg.pci_command = 6;
	host_init(&t, &cfg);
	CHECK_EQ(rd32(&t, 0x14) & 1u, 1);
	CHECK_EQ(rd32(&t, 0x1c) & 1u, 1);
	t.m.needs_admin_regs_before_enable = 1;
	t.m.ready_delay_ns = 5000000;
	hq_alloc(&t, &aq, 0, 8);
	wr32(&t, 0x14, 0);
	CHECK(wait_rdy(&t, 0));
	wr32(&t, 0x14, 1u | (6u << 16) | (4u << 20)); /* regs not rewritten */
	CHECK(!wait_rdy(&t, 1));
	wr32(&t, 0x14, 0);
	CHECK(wait_rdy(&t, 0));
	CHECK(enable(&t, &aq));
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));

	/* Shutdown notification. */
	wr32(&t, 0x14, rd32(&t, 0x14) | (1u << 14));
	CHECK_EQ((rd32(&t, 0x1c) >> 2) & 3u, 2);
	CHECK_EQ(t.m.shutdowns, 1);
	disable(&t);

	/* Bus Master off: doorbells are not processed. */
	t.h.hal.pci_cfg_write32(t.h.hal.ctx, cfg.pci_addr, 4, 2);
	CHECK(enable(&t, &aq));
	wr32(&t, db_off(0, 0), 1);
	CHECK_EQ(t.m.host_violations, 1);
	CHECK_EQ(t.m.admin_cmds[0], 0);
	ustor_nvme_model_clear_violations(&t.m);
	disable(&t);
	hq_free(&t, &aq);
	host_fini(&t);

	/* Never ready. */
	ustor_nvme_model_cfg_default(&cfg);
	host_init(&t, &cfg);
	ustor_nvme_model_pci_enable(&t.m);
	t.m.never_ready = 1;
	hq_alloc(&t, &aq, 0, 2);
	CHECK(!enable(&t, &aq));
	disable(&t);
	hq_free(&t, &aq);
	host_fini(&t);
}

static void test_smart_log(void)
{
	struct host t;
	struct hq aq;
	ustor_bus_addr bus;
	uint8_t *page;
	struct cmd c = { .opc = 0x02, .nsid = 0xffffffffu,
			 .cdw10 = 0x02 | (127u << 16) };

	bringup(&t, &aq, NULL, NULL);
	page = dma(&t, 4096, &bus);
	c.prp1 = bus;
	t.m.smart_critical_warning = 0x04;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(page[0], 0x04);
	CHECK_EQ(get16(page + 1), 310);
	c.cdw10 = 0x03 | (127u << 16);
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(page[0], 0x01);
	CHECK(!memcmp(page + 8, "1.0     ", 8));
	c.cdw10 = 0x7e;
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(1, 0x09));
	dma_free(&t, page, 4096);
	teardown(&t, &aq, NULL);
}

/* Doorbell Buffer Config (7Ch): page checks, then an I/O queue driven
 * through the shadow page alone: the model fetches what the shadow tail
 * announces when it processes, writes EventIdx, and takes the CQ head from
 * the shadow page; a shadow value beyond the queue is a violation. Without
 * OACS bit 8 the command is an invalid opcode. */
static void test_dbbuf(void)
{
	struct host t;
	struct hq aq, io;
	struct cqe e;
	struct ustor_nvme_model_cfg cfg;
	ustor_bus_addr dbs_bus, eis_bus;
	uint8_t *dbs, *eis;
	struct cmd c = { .opc = 0x7c };
	struct cmd echo = { .opc = 0xc1 };

	bringup(&t, &aq, &io, NULL);
	dbs = dma(&t, 4096, &dbs_bus);
	eis = dma(&t, 4096, &eis_bus);
	memset(dbs, 0, 4096);
	memset(eis, 0, 4096);
	c.prp1 = dbs_bus + 8; /* not page aligned */
	c.prp2 = eis_bus;
	CHECK_EQ(exec(&t, &aq, &c, NULL), SC(0, 0x02));
	c.prp1 = dbs_bus;
	CHECK_EQ(exec(&t, &aq, &c, NULL), 0);
	CHECK_EQ(t.m.dbbuf_configs, 1);

	/* SQ 1's tail only in the shadow page (dword 2): nothing yet. */
	sq_put(&io, &echo);
	sq_put(&io, &echo);
	put32(dbs + 2 * 4, io.sq_tail);
	CHECK_EQ(t.m.io_cmds[0xc1], 0);
	ustor_nvme_model_process(&t.m);
	CHECK_EQ(t.m.io_cmds[0xc1], 2);
	CHECK_EQ(get32(eis + 2 * 4), io.sq_tail); /* processed up to here */
	CHECK(cq_take(&io, &e));
	CHECK(cq_take(&io, &e));
	CHECK_EQ(e.status, 0);
	/* CQ 1 head through the shadow page (dword 3), then more commands:
	 * the 4-entry CQ has room for them only if the model read it. */
	put32(dbs + 3 * 4, io.cq_head);
	sq_put(&io, &echo);
	sq_put(&io, &echo);
	sq_put(&io, &echo);
	put32(dbs + 2 * 4, io.sq_tail); /* shadow first, then MMIO, as the spec */
	sq_ring(&t, &io);               /* has it: an MMIO doorbell wakes it too */
	CHECK_EQ(t.m.io_cmds[0xc1], 5);
	CHECK(cq_take(&io, &e));
	CHECK(cq_take(&io, &e));
	CHECK(cq_take(&io, &e));
	CHECK_EQ(ustor_nvme_model_pending(&t.m), 0);
	CHECK(t.m.shadow_updates >= 2);
	put32(dbs + 3 * 4, io.cq_head);
	cq_ring(&t, &io);
	CHECK(!strcmp(ustor_nvme_model_violations(&t.m), ""));

	/* A shadow tail beyond the queue. */
	put32(dbs + 2 * 4, 9);
	ustor_nvme_model_process(&t.m);
	CHECK(strstr(ustor_nvme_model_violations(&t.m), "shadow tail 9") != NULL);
	ustor_nvme_model_clear_violations(&t.m);
	put32(dbs + 2 * 4, io.sq_tail);
	dma_free(&t, dbs, 4096);
	dma_free(&t, eis, 4096);
	/* Free the pages only after the controller stops using them. */
	teardown(&t, &aq, &io);

	ustor_nvme_model_cfg_default(&cfg);
	cfg.oacs = 0;
	bringup(&t, &aq, NULL, &cfg);
	c.prp1 = 0x10000;
	c.prp2 = 0x20000;
	CHECK_EQ(exec(&t, &aq, &c, &e), SC(0, 0x01));
	teardown(&t, &aq, NULL);
}

int main(void)
{
	test_hal();
	test_registers();
	test_identify();
	test_features_queues();
	test_io_prp_list();
	test_prp_violations();
	test_meta_dsm_wz();
	test_phase_wrap_and_full();
	test_faults();
	test_bringup_quirks();
	test_smart_log();
	test_dbbuf();
	if (failures) {
		fprintf(stderr, "test_nvme_model: %d check(s) failed\n",
			failures);
		return 1;
	}
	printf("test_nvme_model: all checks passed\n");
	return 0;
}
