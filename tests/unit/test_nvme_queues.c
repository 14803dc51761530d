/* SPDX-License-Identifier: MIT */
/* NVMe queue features of issue 5 against the model: batched doorbells
 * (USTOR_REQ_F_MORE, kick), shadow doorbells (Doorbell Buffer Config),
 * per-CPU lock-free I/O queues, adaptive completions, interrupt coalescing,
 * hundreds of commands in flight. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ustor/stats.h"

#include "../../src/nvme/nvme_internal.h"

#define NREQ_MAX 640

struct batch {
	struct ustor_block_req req[NREQ_MAX];
	unsigned done;
	unsigned failed;
};

static struct batch B;

static void batch_done(struct ustor_block_req *req)
{
	B.done++;
	if (req->status != USTOR_OK)
		B.failed++;
}

/* Prepare n one-block reads of consecutive LBAs into buf (512-byte blocks). */
static void batch_prep(unsigned n, uint8_t *buf, uint8_t flags)
{
	memset(&B, 0, sizeof(B));
	for (unsigned i = 0; i < n; i++) {
		struct ustor_block_req *r = &B.req[i];
		r->op = USTOR_BLOCK_READ;
		r->flags = flags;
		r->lba = i % 2048u;
		r->nblocks = 1;
		r->buf = buf + (size_t)i * 512u;
		r->done = batch_done;
	}
}

static unsigned poll_all(struct fixture *f, struct ustor_block_device *d, unsigned want)
{
	for (unsigned spins = 0; B.done < want && spins < 100000; spins++) {
		ustor_nvme_model_process(&f->m);
		ustor_block_poll(d, 0);
	}
	return B.done;
}

/* F_MORE: no doorbell until kick; then one doorbell for the batch. */
static void test_more_then_kick(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;
	uint64_t db;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 8 * 512, 0, 0);
	batch_prep(8, buf, USTOR_REQ_F_MORE);
	db = f.m.doorbell_writes;
	for (unsigned i = 0; i < 8; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(f.m.doorbell_writes, db);      /* nothing rung yet */
	CHECK_EQ(f.m.io_cmds[0x02], 0);
	CHECK(d->ops->kick != NULL);
	d->ops->kick(d, 0);
	CHECK_EQ(f.m.doorbell_writes, db + 1);  /* one SQ doorbell for 8 */
	CHECK_EQ(f.m.io_cmds[0x02], 8);
	d->ops->kick(d, 0);                     /* nothing deferred: no write */
	CHECK_EQ(f.m.doorbell_writes, db + 1);
	CHECK_EQ(poll_all(&f, d, 8), 8);
	CHECK_EQ(B.failed, 0);
	fx_finish(&f);
}

/* A batch ended by a request without F_MORE rings once; a caller who never
 * kicks still completes: poll rings the deferred doorbell. */
static void test_more_without_kick(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;
	uint64_t db;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 16 * 512, 0, 0);
	batch_prep(16, buf, USTOR_REQ_F_MORE);
	B.req[7].flags = 0; /* the end of the first batch */
	db = f.m.doorbell_writes;
	for (unsigned i = 0; i < 8; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(f.m.doorbell_writes, db + 1);
	CHECK_EQ(f.m.io_cmds[0x02], 8);
	for (unsigned i = 8; i < 16; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(f.m.io_cmds[0x02], 8);         /* deferred, never kicked */
	CHECK_EQ(poll_all(&f, d, 16), 16);
	CHECK_EQ(f.m.io_cmds[0x02], 16);
	CHECK_EQ(B.failed, 0);
	fx_finish(&f);
}

/* Shadow doorbells on: DBBUF sent, data intact, CQ head doorbells mostly
 * replaced by the shadow page, no violations. */
static void test_dbbuf_on(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *w;
	uint8_t *r;
	struct ustor_nvme_queue *q;

	fx_setup(&f);
	f.cfg.shadow_doorbells = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->dbbuf_on, 1);
	CHECK_EQ(f.m.dbbuf_configs, 1);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	q = &f.ctrl->io[0];
	CHECK(q->ring.flags & USTOR_SQCQ_F_SHADOW);
	w = fx_buf(&f, 64 * 512, 0, 0);
	r = fx_buf(&f, 64 * 512, 0, 0);
	fx_pattern(w, 64 * 512, 100, 512, 77);
	for (unsigned i = 0; i < 64; i++)
		CHECK_OK(ustor_block_write(d, 100 + i, 1, w + i * 512));
	batch_prep(64, r, 0);
	for (unsigned i = 0; i < 64; i++)
		B.req[i].lba = 100 + i;
	for (unsigned i = 0; i < 64; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(poll_all(&f, d, 64), 64);
	CHECK_EQ(B.failed, 0);
	CHECK(memcmp(r, w, 64 * 512) == 0);
	/* The model only asks for CQ head doorbells when it runs out of room. */
	CHECK(q->ring.db_skipped > 0);
	CHECK(f.m.shadow_updates > 0);
	fx_finish(&f);
}

/* Default: no DBBUF. Without OACS bit 8: not sent even when asked. */
static void test_dbbuf_off_and_absent(void)
{
	struct fixture f;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->dbbuf_on, 0);
	CHECK_EQ(f.m.admin_cmds[0x7c], 0);
	fx_finish(&f);

	fx_setup(&f);
	f.cfg.shadow_doorbells = 1;
	f.mcfg.oacs = 0;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->dbbuf_on, 0);
	CHECK_EQ(f.m.admin_cmds[0x7c], 0);
	CHECK_EQ(f.ctrl->io[0].ring.flags & USTOR_SQCQ_F_SHADOW, 0);
	{
		uint8_t *b = fx_buf(&f, 512, 0, 0);
		CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 3, 1, b));
	}
	fx_finish(&f);
}

/* A controller that never writes EventIdx: the host skips the MMIO SQ
 * doorbells after the first; the commands wait in the shadow page until
 * the controller looks (process()), then all complete. */
static void test_dbbuf_stale_eventidx(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;
	uint32_t skipped;

	fx_setup(&f);
	f.cfg.shadow_doorbells = 1;
	CHECK_OK(fx_start(&f));
	f.m.dbbuf_stale_eventidx = 1;
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 8 * 512, 0, 0);
	batch_prep(8, buf, 0);
	skipped = f.ctrl->io[0].ring.db_skipped;
	for (unsigned i = 0; i < 8; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	/* EventIdx stays where the model left it (0): the first submission
	 * crosses it, the other seven do not. */
	CHECK_EQ(f.ctrl->io[0].ring.db_skipped - skipped, 7);
	CHECK_EQ(f.m.io_cmds[0x02], 1);
	CHECK_EQ(poll_all(&f, d, 8), 8);
	CHECK_EQ(f.m.io_cmds[0x02], 8);
	CHECK_EQ(B.failed, 0);
	fx_finish(&f);
}

/* Re-issuing DBBUF (what a controller reset needs) keeps I/O working. */
static void test_dbbuf_setup_again(void)
{
	struct fixture f;
	uint8_t *b;

	fx_setup(&f);
	f.cfg.shadow_doorbells = 1;
	CHECK_OK(fx_start(&f));
	b = fx_buf(&f, 512, 0, 0);
	CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 1, 1, b));
	CHECK_OK(ustor_nvme_dbbuf_setup(f.ctrl));
	CHECK_EQ(f.m.dbbuf_configs, 2);
	CHECK_EQ(f.ctrl->dbbuf_on, 1);
	for (unsigned i = 0; i < 20; i++)
		CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), i, 1, b));
	fx_finish(&f);
}

/* Per-CPU queues: the I/O path takes no HAL lock; shared queues do. */
static void test_lockless_io_queues(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *b;
	uint64_t locks;

	if (harness_no_lock)
		return; /* nothing to show without a HAL lock */
	for (int lockless = 0; lockless < 2; lockless++) {
		fx_setup(&f);
		f.cfg.io_queues = 2;
		f.cfg.lockless_io_queues = (uint8_t)lockless;
		CHECK_OK(fx_start(&f));
		CHECK_EQ(f.ctrl->nio, 2);
		d = ustor_nvme_ns_bdev(f.ctrl, 0);
		b = fx_buf(&f, 4 * 512, 0, 0);
		batch_prep(4, b, 0);
		B.req[1].queue = 1;
		B.req[3].queue = 1;
		locks = f.h.lock_count;
		for (unsigned i = 0; i < 4; i++)
			CHECK_OK(ustor_block_submit(d, &B.req[i]));
		for (unsigned spins = 0; B.done < 4 && spins < 1000; spins++) {
			ustor_block_poll(d, 0);
			ustor_block_poll(d, 1);
		}
		CHECK_EQ(B.done, 4);
		if (lockless)
			CHECK_EQ(f.h.lock_count - locks, 0);
		else
			CHECK(f.h.lock_count - locks >= 4);
		/* The admin queue still locks. */
		locks = f.h.lock_count;
		{
			uint32_t dw0;
			CHECK_OK(ustor_nvme_get_features(f.ctrl, USTOR_NVME_FEAT_NUM_QUEUES, 0, &dw0));
		}
		CHECK(f.h.lock_count > locks);
		fx_finish(&f);
	}
}

static struct {
	unsigned calls;
	unsigned masked;
	uint16_t vector;
	uint32_t pci_addr;
} IRQ;

static void test_irq_mask(void *ctx, uint32_t pci_addr, uint16_t vector, int masked)
{
	(void)ctx;
	IRQ.calls++;
	IRQ.masked = masked != 0;
	IRQ.vector = vector;
	IRQ.pci_addr = pci_addr;
}

/* ADAPTIVE: masked at the high threshold, unmasked at the low one. */
static void test_adaptive_completions(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *b;

	memset(&IRQ, 0, sizeof(IRQ));
	fx_setup(&f);
	f.h.hal.irq_mask = test_irq_mask;
	f.cfg.completion = USTOR_NVME_COMPLETION_ADAPTIVE;
	f.cfg.adaptive_high = 6;
	f.cfg.adaptive_low = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->irq_on, 1);
	CHECK_EQ(f.ctrl->adaptive, 1);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	b = fx_buf(&f, 10 * 512, 0, 0);
	f.m.deferred = 1; /* completions wait: commands stay in flight */
	batch_prep(10, b, 0);
	for (unsigned i = 0; i < 5; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(IRQ.calls, 0);
	CHECK_OK(ustor_block_submit(d, &B.req[5])); /* 6 in flight */
	CHECK_EQ(IRQ.calls, 1);
	CHECK_EQ(IRQ.masked, 1);
	CHECK_EQ(IRQ.vector, ustor_nvme_irq_vector(f.ctrl, 0));
	CHECK_EQ(IRQ.pci_addr, f.cfg.pci_addr);
	for (unsigned i = 6; i < 10; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(IRQ.calls, 1); /* hysteresis: no flapping */
	CHECK_EQ(poll_all(&f, d, 10), 10);
	CHECK_EQ(IRQ.calls, 2);
	CHECK_EQ(IRQ.masked, 0);
	fx_finish(&f);

	/* Without hal->irq_mask: interrupts only, never a call. */
	fx_setup(&f);
	f.cfg.completion = USTOR_NVME_COMPLETION_ADAPTIVE;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->irq_on, 1);
	CHECK_EQ(f.ctrl->adaptive, 0);
	fx_finish(&f);
}

/* IRQ mode with coalescing: Set Features 08h carries threshold and time. */
static void test_irq_coalescing(void)
{
	struct fixture f;
	uint32_t dw0 = 0;

	fx_setup(&f);
	f.cfg.completion = USTOR_NVME_COMPLETION_IRQ;
	f.cfg.irq_coalesce = 1;
	f.cfg.irq_coalesce_threshold = 7;
	f.cfg.irq_coalesce_time_100us = 2;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->irq_on, 1);
	CHECK_OK(ustor_nvme_get_features(f.ctrl, USTOR_NVME_FEAT_IRQ_COALESCE, 0, &dw0));
	CHECK_EQ(dw0 & 0xffffu, 0x0207u);
	fx_finish(&f);

	/* Polling mode: not sent. */
	fx_setup(&f);
	f.cfg.irq_coalesce = 1;
	f.cfg.irq_coalesce_threshold = 7;
	CHECK_OK(fx_start(&f));
	CHECK_OK(ustor_nvme_get_features(f.ctrl, USTOR_NVME_FEAT_IRQ_COALESCE, 0, &dw0));
	CHECK_EQ(dw0 & 0xffffu, 0);
	fx_finish(&f);
}

/* A 1024-entry queue (CAP.MQES 1023) with 600 commands in flight at once,
 * batched and plain, shadow doorbells on and off. */
static void test_qd600(void)
{
	for (int shadow = 0; shadow < 2; shadow++) {
		struct fixture f;
		struct ustor_block_device *d;
		uint8_t *b;

		fx_setup(&f);
		f.mcfg.mqes = 1023;
		f.cfg.io_queue_depth = 1024;
		f.cfg.shadow_doorbells = (uint8_t)shadow;
		CHECK_OK(fx_start(&f));
		CHECK_EQ(f.ctrl->io_depth, 1024);
		d = ustor_nvme_ns_bdev(f.ctrl, 0);
		b = fx_buf(&f, 600 * 512, 0, 0);
		f.m.deferred = 1;
		batch_prep(600, b, shadow ? 0 : USTOR_REQ_F_MORE);
		for (unsigned i = 0; i < 600; i++)
			CHECK_OK(ustor_block_submit(d, &B.req[i]));
		if (!shadow)
			d->ops->kick(d, 0);
		CHECK_EQ(f.m.io_cmds[0x02], 600);
		CHECK_EQ(f.ctrl->io[0].nfree, 1023 - 600);
		CHECK_EQ(poll_all(&f, d, 600), 600);
		CHECK_EQ(B.failed, 0);
		CHECK_EQ(f.ctrl->io[0].nfree, 1023);
		fx_finish(&f);
	}
}

/* Statistics hooks on every path of the driver: the fast path (ONE slot),
 * a batch, a request split into chunks, a flush, an error, a timeout
 * (cancel) and shutdown (fail_all). Every request is counted once at
 * submission and once at completion: depth is back to 0 after each step. */
static void test_stats_paths(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_queue_stats mem[2];
	struct ustor_block_stats st;
	uint8_t *b;

	fx_setup(&f);
	f.mcfg.mdts = 1;          /* 8 KiB per command: 32 KiB is 4 chunks */
	f.cfg.io_timeout_ms = 1000;
	f.cfg.cmd_timeout_ms = 0; /* the timeout below is counted by cancel, not recovered */
	f.cfg.io_queues = 2;
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	b = fx_buf(&f, 64 * 512, 0, 0);
	CHECK_OK(ustor_block_stats_enable(d, mem, 2));

	/* Fast path: 10 one-block reads, 5 of them on queue 1. */
	batch_prep(10, b, 0);
	for (unsigned i = 0; i < 10; i++) {
		B.req[i].queue = (uint16_t)(i & 1u);
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	}
	CHECK_EQ(mem[0].depth + mem[1].depth, 10);
	for (unsigned spins = 0; B.done < 10 && spins < 1000; spins++) {
		ustor_block_poll(d, 0);
		ustor_block_poll(d, 1);
	}
	CHECK_EQ(B.done, 10);
	CHECK_OK(ustor_block_stats_get(d, 0, &st));
	CHECK_EQ(st.read_ops, 5);
	CHECK_OK(ustor_block_stats_get(d, 1, &st));
	CHECK_EQ(st.read_ops, 5);
	CHECK_EQ(st.read_bytes, 5 * 512);
	CHECK_EQ(st.max_depth, 5);
	CHECK_EQ(mem[0].depth + mem[1].depth, 0);

	/* A batch (F_MORE, never kicked). */
	batch_prep(4, b, USTOR_REQ_F_MORE);
	for (unsigned i = 0; i < 4; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(poll_all(&f, d, 4), 4);
	CHECK_OK(ustor_block_stats_get(d, 0, &st));
	CHECK_EQ(st.read_ops, 9);

	/* Chunks and a flush: one request each. */
	CHECK_OK(ustor_block_write(d, 0, 64, b));
	CHECK_OK(ustor_block_flush(d));
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.write_ops, 1);
	CHECK_EQ(st.write_bytes, 64 * 512);
	CHECK_EQ(st.other_ops, 1);
	CHECK_EQ(f.m.io_cmds[0x01], 4);

	/* A media error (DNR): an error, not an op. */
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = -1, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(2, 0x81, 1), .count = 1 };
	CHECK_ST(ustor_block_read(d, 3, 1, b), USTOR_ERR_MEDIA);
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.read_ops, 14);

	/* A timeout: cancel counts it. */
	f.m.drop_completions = 1;
	f.m.drop_qid = 1;
	CHECK_ST(ustor_block_read(d, 4, 1, b), USTOR_ERR_TIMEOUT);
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.timeouts, 1);
	CHECK_EQ(st.depth, 0);

	/* Shutdown with requests in flight: each finishes with SHUT_DOWN. */
	f.m.deferred = 1;
	batch_prep(3, b, 0);
	for (unsigned i = 0; i < 3; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.depth, 3);
	CHECK_OK(ustor_nvme_ctrl_shutdown(f.ctrl));
	CHECK_EQ(B.done, 3);
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.errors, 4);
	CHECK_EQ(st.depth, 0);
	CHECK_EQ(st.read_ops, 14);
	fx_finish(&f);
}

/* Statistics off: the plain paths, nothing recorded anywhere. */
static void test_stats_off(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *b;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	b = fx_buf(&f, 512, 0, 0);
	batch_prep(1, b, 0);
	B.req[0].submit_ns = 0;
	CHECK_OK(ustor_block_run(d, &B.req[0]));
	CHECK_EQ(B.req[0].submit_ns, 0); /* never stamped */
	CHECK_EQ(f.ctrl->io[0].ring.flags & USTOR_NVME_QF_STATS, 0);
	/* On, then off again: the queue leaves the general path once idle. */
	{
		struct ustor_block_queue_stats mem[1];

		CHECK_OK(ustor_block_stats_enable(d, mem, 1));
		CHECK_OK(ustor_block_run(d, &B.req[0]));
		CHECK_EQ(mem[0].ops[0], 1);
		CHECK_OK(ustor_block_stats_enable(d, NULL, 0));
		CHECK_OK(ustor_block_run(d, &B.req[0]));
		CHECK_EQ(mem[0].ops[0], 1);
		CHECK_EQ(f.ctrl->io[0].ring.flags & USTOR_NVME_QF_STATS, 0);
	}
	fx_finish(&f);
}

/* A CPU that is not DMA-coherent (hal->dma_sync set): every shadow dword
 * update is cleaned to the device and every EventIdx read invalidated
 * first; I/O still works. */
static unsigned sync_shadow_out, sync_evt_in;

static void count_sync(void *ctx, const void *addr, size_t len, enum ustor_dma_dir dir)
{
	(void)ctx;
	(void)addr;
	if (len == 4 && dir == USTOR_DMA_TO_DEVICE)
		sync_shadow_out++;
	if (len == 4 && dir == USTOR_DMA_FROM_DEVICE)
		sync_evt_in++;
}

static void test_dbbuf_dma_sync(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *b;

	sync_shadow_out = 0;
	sync_evt_in = 0;
	fx_setup(&f);
	f.h.hal.dma_sync = count_sync;
	f.cfg.shadow_doorbells = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->dbbuf_on, 1);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	b = fx_buf(&f, 8 * 512, 0, 0);
	batch_prep(8, b, 0);
	for (unsigned i = 0; i < 8; i++)
		CHECK_OK(ustor_block_submit(d, &B.req[i]));
	CHECK_EQ(poll_all(&f, d, 8), 8);
	CHECK_EQ(B.failed, 0);
	CHECK(sync_shadow_out >= 8);  /* at least one per SQ tail update */
	CHECK(sync_evt_in >= 8);
	fx_finish(&f);
}

int main(void)
{
	for (harness_no_lock = 0; harness_no_lock < 2; harness_no_lock++) {
		RUN(test_more_then_kick);
		RUN(test_more_without_kick);
		RUN(test_dbbuf_on);
		RUN(test_dbbuf_off_and_absent);
		RUN(test_dbbuf_stale_eventidx);
		RUN(test_dbbuf_setup_again);
		RUN(test_lockless_io_queues);
		RUN(test_adaptive_completions);
		RUN(test_irq_coalescing);
		RUN(test_qd600);
		RUN(test_stats_paths);
		RUN(test_stats_off);
		RUN(test_dbbuf_dma_sync);
	}
	return harness_done();
}
