/* SPDX-License-Identifier: MIT */
/* The block-device conformance suite on every kind of block device. */
#include <string.h>

#include "conformance.h"
#include "harness.h"

static void *nvme_buf(void *ctx, size_t len, size_t offset, int fill)
{
	return fx_buf(ctx, len, offset, fill);
}

static void nvme_hold(void *ctx, int on)
{
	struct fixture *f = ctx;
	f->m.deferred = on;
	f->m.reorder = on;
}

static void nvme_hold_ordered(void *ctx, int on)
{
	struct fixture *f = ctx;
	f->m.deferred = on;
	f->m.reorder = 0;
}

static unsigned nvme_release(void *ctx)
{
	struct fixture *f = ctx;
	return ustor_nvme_model_process(&f->m);
}

static void run_nvme_q(uint8_t lbads, uint8_t mdts, uint16_t oncs, int write_protected,
		       uint32_t io_queues, uint32_t depth)
{
	struct fixture f;
	struct conformance_target t;

	memset(&t, 0, sizeof(t));
	fx_setup(&f);
	f.cfg.io_queues = io_queues;
	f.cfg.io_queue_depth = depth;
	f.mcfg.max_io_queues = 8;
	f.mcfg.ns[0].lbads = lbads;
	f.mcfg.ns[0].nblocks = lbads == 9 ? 4096 : 1024;
	f.mcfg.ns[0].write_protected = write_protected;
	f.mcfg.mdts = mdts;
	f.mcfg.oncs = oncs;
	CHECK_OK(fx_start(&f));
	t.name = "nvme";
	t.bdev = ustor_nvme_ns_bdev(f.ctrl, 0);
	t.disk = ustor_nvme_model_ns_data(&f.m, 1, &t.disk_bytes);
	t.buf = nvme_buf;
	t.hold = nvme_hold;
	t.release = nvme_release;
	t.hold_ordered = nvme_hold_ordered;
	t.ctx = &f;
	if (t.bdev != NULL)
		conformance_run(&t);
	fx_finish(&f);
}

static void run_nvme(uint8_t lbads, uint8_t mdts, uint16_t oncs, int write_protected)
{
	run_nvme_q(lbads, mdts, oncs, write_protected, 1, 256);
}

static void test_nvme_512(void) { run_nvme(9, 5, 0x000c, 0); }
/* Three queues (round-robin spreads) of depth 8 (F_WAIT holds early). */
static void test_nvme_3_queues_depth_8(void) { run_nvme_q(9, 5, 0x000c, 0, 3, 8); }
static void test_nvme_4096(void) { run_nvme(12, 5, 0x000c, 0); }
static void test_nvme_mdts1_no_oncs(void) { run_nvme(9, 1, 0, 0); }
static void test_nvme_write_protected(void) { run_nvme(9, 5, 0x000c, 1); }

int main(void)
{
	RUN(test_nvme_512);
	RUN(test_nvme_4096);
	RUN(test_nvme_mdts1_no_oncs);
	RUN(test_nvme_write_protected);
	RUN(test_nvme_3_queues_depth_8);
	harness_no_lock = 1;
	RUN(test_nvme_512);
	RUN(test_nvme_3_queues_depth_8);
	return harness_done();
}
