/* SPDX-License-Identifier: MIT */
/* NVMe controller bring-up and shutdown against the model, including the
 * real-hardware items of HARDWARE.md that concern bring-up. */
#include <string.h>

#include "harness.h"

static void test_default_bringup(void)
{
	struct fixture f;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->page_size, 4096);
	CHECK_EQ(f.ctrl->mqes1, 1024);
	CHECK_EQ(f.ctrl->nio, 1);
	CHECK_EQ(f.ctrl->io_depth, 256);
	CHECK_EQ(f.ctrl->ready_timeout_ms, 10000); /* CAP.TO 20 x 500 ms */
	CHECK_EQ(f.m.enables, 1);
	CHECK_EQ(ustor_nvme_ns_count(f.ctrl), 1);
	CHECK_OK(ustor_nvme_ctrl_check(f.ctrl));
	/* AQA/ASQ/ACQ programmed before EN, CC with MPS 0, IOSQES 6, IOCQES 4. */
	CHECK_EQ(ustor_nvme_model_peek_reg(&f.m, 0x14) & 0x00ff0781u, 0x00460001u);
	fx_finish(&f);
}

static void test_shutdown_deletes_queues_first(void)
{
	struct fixture f;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	CHECK_OK(ustor_nvme_ctrl_shutdown(f.ctrl));
	CHECK_EQ(f.m.shutdowns, 1);
	CHECK_EQ(f.m.shutdowns_with_io_queues, 0);
	CHECK_EQ(f.m.admin_cmds[0x00], 1); /* delete SQ */
	CHECK_EQ(f.m.admin_cmds[0x04], 1); /* delete CQ */
	CHECK_EQ(ustor_test_hal_live_allocs(&f.h), 0);
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_SHUT_DOWN);
	CHECK_ST(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 1, fx_buf(&f, 512, 0, 0)),
		 USTOR_ERR_INVALID_ARG); /* no namespaces after shutdown */
	fx_finish(&f);
}

/* HARDWARE.md 1: firmware left the controller enabled with stale queues. */
static void test_handoff_enabled(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.handoff_enabled = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.m.resets, 1);
	CHECK_EQ(f.m.enables, 1);
	fx_finish(&f);
}

/* HARDWARE.md 1: a drive that ignores EN issued before the admin registers. */
static void test_admin_regs_before_enable(void)
{
	struct fixture f;

	fx_setup(&f);
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	f.m.needs_admin_regs_before_enable = 1;
	CHECK_OK(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg));
	fx_finish(&f);
}

/* HARDWARE.md 2: reading CSTS too soon after EN=0 freezes some drives; the
 * named post-disable delay avoids it. */
static void test_post_disable_delay(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.handoff_enabled = 1;
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	f.m.csts_freeze_window_ns = 2000000000ull; /* 2 s */
	ustor_nvme_quirks(&f.cfg, 0x1c58, 0x0003);   /* HGST */
	CHECK_EQ(f.cfg.post_disable_delay_ms, USTOR_NVME_QUIRK_DISABLE_DELAY_MS);
	CHECK_OK(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg));
	CHECK(!f.m.frozen);
	fx_finish(&f);

	/* Without the delay the same controller freezes: a clear error, bounded. */
	fx_setup(&f);
	f.mcfg.handoff_enabled = 1;
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	f.m.csts_freeze_window_ns = 2000000000ull;
	CHECK_ST(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg),
		 USTOR_ERR_DEVICE_GONE);
	CHECK(f.m.frozen);
	CHECK(ustor_test_hal_log_contains(&f.h, "CSTS=ffffffff"));
	ustor_nvme_model_clear_violations(&f.m);
	fx_finish(&f);
}

/* Nothing waits without a bound: never ready ends in a timeout with the
 * registers in the log, and nothing leaks. */
static void test_never_ready(void)
{
	struct fixture f;
	uint64_t t0;

	fx_setup(&f);
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	f.m.never_ready = 1;
	t0 = ustor_test_hal_time(&f.h);
	CHECK_ST(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg),
		 USTOR_ERR_TIMEOUT);
	/* Waited CAP.TO (10 s), not much more. */
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 10000000000ull);
	CHECK(ustor_test_hal_time(&f.h) - t0 < 12000000000ull);
	CHECK(ustor_test_hal_log_contains(&f.h, "timeout waiting for CSTS.RDY=1"));
	CHECK(ustor_test_hal_log_contains(&f.h, "CAP="));
	CHECK(ustor_test_hal_log_contains(&f.h, "CSTS="));
	fx_finish(&f);
}

/* Slow but not dead: ready after 4 s is fine (CAP.TO allows 10 s). */
static void test_slow_ready(void)
{
	struct fixture f;

	fx_setup(&f);
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	f.m.ready_delay_ns = 4000000000ull;
	CHECK_OK(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg));
	fx_finish(&f);
}

/* A short CAP.TO is raised to the configured floor (HARDWARE.md 3). */
static void test_generous_timeout_floor(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.to = 1; /* 500 ms */
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->ready_timeout_ms, 2000);
	fx_finish(&f);
}

/* HARDWARE.md 5: CAP arithmetic. */
static void test_cap_mqes_ffff(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.mqes = 0xffff;
	f.cfg.io_queue_depth = 4096;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->mqes1, 65536);
	CHECK_EQ(f.ctrl->io_depth, USTOR_NVME_MAX_QUEUE_DEPTH);
	fx_finish(&f);
}

static void test_cap_small_mqes(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.mqes = 15; /* 16 entries */
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->io_depth, 16); /* never larger than MQES+1 */
	CHECK_EQ(f.ctrl->admin.ring.depth, 16);
	fx_finish(&f);
}

static void test_cap_mpsmin_8k(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;

	fx_setup(&f);
	f.mcfg.mpsmin = 1;
	f.h.scatter_granule = 8192;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->page_size, 8192);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 64 * 512, 8192 - 512, 0x5a);
	CHECK_OK(ustor_block_write(d, 0, 64, buf));
	CHECK_OK(ustor_block_read(d, 0, 64, buf));
	fx_finish(&f);
}

static void test_cap_css(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.css = 0xc1; /* QEMU 6.2: test bits one by one */
	CHECK_OK(fx_start(&f));
	fx_finish(&f);

	fx_setup(&f);
	f.mcfg.css = 0x80; /* admin only: no NVM command set */
	CHECK_ST(fx_start(&f), USTOR_ERR_UNSUPPORTED);
	CHECK(ustor_test_hal_log_contains(&f.h, "NVM command set"));
	fx_finish(&f);
}

static void test_doorbell_stride(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;

	fx_setup(&f);
	f.mcfg.dstrd = 3; /* 32-byte doorbell stride */
	f.cfg.io_queues = 2;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->nio, 2);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 512, 0, 1);
	CHECK_OK(ustor_block_write(d, 5, 1, buf));
	CHECK_EQ(f.m.io_cmds[0x01], 1);
	fx_finish(&f);
}

/* HARDWARE.md 9: Bus Master Enable / Memory Space left off by firmware. */
/* A doorbell stride that would put doorbells past the mapped BAR is
 * refused before any doorbell is written. */
static void test_dstrd_beyond_bar(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.dstrd = 3;
	f.cfg.bar_bytes = 0x1000 + 2 * 2 * 32 - 4; /* one doorbell short */
	CHECK_ST(fx_start(&f), USTOR_ERR_BAD_DEVICE);
	CHECK(ustor_test_hal_log_contains(&f.h, "beyond the mapped BAR"));
	CHECK_EQ(f.m.doorbell_writes, 0);
	fx_finish(&f);

	fx_setup(&f);
	f.mcfg.dstrd = 3;
	f.cfg.bar_bytes = 0x1000 + 2 * 2 * 32;
	CHECK_OK(fx_start(&f));
	fx_finish(&f);
}

static void test_bus_master_enable(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.pci_command = 0;
	CHECK_OK(fx_start(&f));
	CHECK((ustor_test_hal_log_contains(&f.h, "bus mastering")));
	CHECK(f.h.pci_writes >= 1);
	fx_finish(&f);
}

/* HARDWARE.md 4: 64-bit registers as two halves by default; 64-bit access
 * only on request. */
static void test_register_halves(void)
{
	struct fixture f;
	uint64_t before;

	fx_setup(&f);
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	before = f.h.mmio_reads;
	CHECK_OK(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg));
	CHECK(f.h.mmio_reads > before);
	CHECK_EQ(f.ctrl->cap >> 32, ustor_nvme_model_peek_reg(&f.m, 4));
	CHECK_EQ(f.ctrl->cap & 0xffffffffu, ustor_nvme_model_peek_reg(&f.m, 0));
	fx_finish(&f);

	fx_setup(&f);
	f.cfg.use_mmio64 = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->cap >> 32, ustor_nvme_model_peek_reg(&f.m, 4));
	fx_finish(&f);
}

/* A bridge that returns the low half twice on a 64-bit read. */
static uint64_t broken_read64(void *ctx, volatile void *addr)
{
	struct ustor_test_hal *h = ctx;
	uint32_t lo = h->hal.mmio_read32(ctx, addr);
	return ((uint64_t)lo << 32) | lo;
}

static void test_bridge_returning_one_half_twice(void)
{
	struct fixture f;

	/* Default: halves, so the broken 64-bit path is never used. */
	fx_setup(&f);
	f.h.hal.mmio_read64 = broken_read64;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->cap >> 32, ustor_nvme_model_peek_reg(&f.m, 4));
	fx_finish(&f);

	/* Opting into 64-bit access on such a bridge misreads CAP (DSTRD,
	 * MPSMIN come from the low half): the reason halves are the default. */
	fx_setup(&f);
	f.h.hal.mmio_read64 = broken_read64;
	f.cfg.use_mmio64 = 1;
	f.mcfg.mpsmin = 0;
	f.mcfg.mpsmax = 0;
	(void)fx_start(&f);
	CHECK(f.ctrl->cap >> 32 != ustor_nvme_model_peek_reg(&f.m, 4));
	ustor_nvme_model_clear_violations(&f.m);
	fx_finish(&f);
}

/* NVMe 1.0 has no active namespace list: namespaces are probed 1..NN. */
static void test_nvme_1_0_probe(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.vs = 0x00010000;
	f.mcfg.num_ns = 2;
	f.mcfg.ns[0] = (struct ustor_nvme_model_ns_cfg){ .nsid = 1, .nblocks = 64, .lbads = 9 };
	f.mcfg.ns[1] = (struct ustor_nvme_model_ns_cfg){ .nsid = 3, .nblocks = 64, .lbads = 12 };
	f.mcfg.nn = 4;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(ustor_nvme_ns_count(f.ctrl), 2);
	CHECK_EQ(f.m.admin_cmds[0x06], 1 + 4); /* Identify Controller + NS 1..4 */
	fx_finish(&f);
}

/* An absurd transfer cap is clamped, so PRP list memory stays bounded. */
static void test_transfer_cap_clamped(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.mdts = 0;
	f.cfg.max_transfer_bytes = 0x80000000u;
	f.cfg.io_queue_depth = 64;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->max_transfer, 16u * 1024u * 1024u);
	fx_finish(&f);
}

/* Every allocation failure unwinds cleanly. */
static void test_out_of_memory_each_step(void)
{
	int n;
	int succeeded = 0;

	for (n = 0; n < 40 && !succeeded; n++) {
		struct fixture f;
		ustor_status st;

		fx_setup(&f);
		CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
		f.model_up = 1;
		f.h.fail_alloc_after = n;
		st = ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg);
		if (st == USTOR_OK)
			succeeded = 1;
		else
			CHECK_ST(st, USTOR_ERR_NO_MEMORY);
		if (st != USTOR_OK)
			CHECK_EQ(ustor_test_hal_live_allocs(&f.h), 0);
		fx_finish(&f);
	}
	CHECK(succeeded);
	CHECK(n > 5); /* several allocation points were exercised */
}

static void test_fatal_status_at_enable(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.mpsmax = 0;
	f.mcfg.mpsmin = 0;
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	/* Fatal status on the very first command fetched (Identify). */
	f.m.fatal_after = 0;
	CHECK_ST(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg),
		 USTOR_ERR_FATAL);
	CHECK(ustor_test_hal_log_contains(&f.h, "fatal status"));
	CHECK_EQ(ustor_test_hal_live_allocs(&f.h), 0);
	fx_finish(&f);
}

static void test_bad_args(void)
{
	struct fixture f;
	struct ustor_nvme_config cfg;

	fx_setup(&f);
	CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
	f.model_up = 1;
	CHECK_ST(ustor_nvme_ctrl_init(NULL, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg),
		 USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_nvme_ctrl_init(f.ctrl, NULL, ustor_nvme_model_regs(&f.m), &f.cfg),
		 USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, NULL, &f.cfg), USTOR_ERR_INVALID_ARG);
	cfg = f.cfg;
	cfg.admin_timeout_ms = 0;
	CHECK_ST(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &cfg),
		 USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_NOT_READY);
	CHECK_EQ(f.m.enables, 0);
	fx_finish(&f);
}

int main(void)
{
	RUN(test_default_bringup);
	RUN(test_shutdown_deletes_queues_first);
	RUN(test_handoff_enabled);
	RUN(test_admin_regs_before_enable);
	RUN(test_post_disable_delay);
	RUN(test_never_ready);
	RUN(test_slow_ready);
	RUN(test_generous_timeout_floor);
	RUN(test_cap_mqes_ffff);
	RUN(test_cap_small_mqes);
	RUN(test_cap_mpsmin_8k);
	RUN(test_cap_css);
	RUN(test_doorbell_stride);
	RUN(test_dstrd_beyond_bar);
	RUN(test_bus_master_enable);
	RUN(test_register_halves);
	RUN(test_bridge_returning_one_half_twice);
	RUN(test_nvme_1_0_probe);
	RUN(test_transfer_cap_clamped);
	RUN(test_out_of_memory_each_step);
	RUN(test_fatal_status_at_enable);
	RUN(test_bad_args);
	return harness_done();
}
