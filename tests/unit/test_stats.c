/* SPDX-License-Identifier: MIT */
/*
 * Block statistics (src/block/stats.c) on real devices (an NVMe namespace
 * and a virtio-blk disk on their models). The virtual clock is stopped
 * (ns_per_now_call = 0) and moved by hand, so every latency is exact and
 * the histogram, percentile and rate arithmetic can be asserted to the
 * nanosecond. The recorders are driven directly here; end-to-end counting
 * through the drivers' hooks is in the conformance suite.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/core/div64.h"
#include "harness.h"
#include "ustor/stats.h"
#include "ustor/virtio_blk.h"
#include "virtio_blk_model.h"

/* One device under test: NVMe namespace 1 or a virtio-blk disk (MMIO). */
struct sdev {
	struct fixture f; /* NVMe, and the HAL for both */
	struct ustor_virtio_blk_model vm;
	struct ustor_virtio_blk_model_cfg vcfg;
	struct ustor_virtio_blk_config vdcfg;
	struct ustor_virtio_blk *vb;
	struct ustor_block_device *d;
	int virtio;
};

static int use_virtio;

static void sdev_start(struct sdev *s)
{
	memset(s, 0, sizeof(*s));
	fx_setup(&s->f);
	s->virtio = use_virtio;
	if (!s->virtio) {
		CHECK_OK(fx_start(&s->f));
		s->d = ustor_nvme_ns_bdev(s->f.ctrl, 0);
	} else {
		ustor_virtio_blk_model_cfg_default(&s->vcfg);
		s->vcfg.transport = USTOR_VIRTIO_BLK_MODEL_MMIO2;
		ustor_virtio_blk_config_default(&s->vdcfg);
		s->vb = calloc(1, sizeof(*s->vb));
		if (s->vb == NULL)
			abort();
		CHECK_OK(ustor_virtio_blk_model_init(&s->vm, &s->f.h, &s->vcfg));
		CHECK_OK(ustor_virtio_blk_init_mmio(s->vb, &s->f.h.hal,
						    ustor_virtio_blk_model_mmio_base(&s->vm),
						    &s->vdcfg));
		s->d = ustor_virtio_blk_bdev(s->vb);
	}
	if (s->d == NULL)
		abort();
	/* Stop the clock: only ustor_test_hal_advance moves it. */
	s->f.h.ns_per_now_call = 0;
}

static void sdev_finish(struct sdev *s)
{
	if (s->virtio) {
		CHECK_OK(ustor_virtio_blk_shutdown(s->vb));
		harness_check_violations(ustor_virtio_blk_model_violations(&s->vm));
		ustor_virtio_blk_model_fini(&s->vm);
		free(s->vb);
	}
	fx_finish(&s->f);
}

static void req_init(struct ustor_block_req *r, uint8_t op, uint32_t nblocks, uint16_t queue)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->nblocks = nblocks;
	r->queue = queue;
}

/* One request through the recorders with an exact latency. */
static void one(struct sdev *s, uint8_t op, uint32_t nblocks, uint16_t queue, uint64_t lat_ns,
		ustor_status status)
{
	struct ustor_block_req r;

	req_init(&r, op, nblocks, queue);
	ustor_stats_on_submit(s->d, &r);
	ustor_test_hal_advance(&s->f.h, lat_ns);
	r.status = status;
	ustor_stats_on_complete(s->d, &r);
}

static void test_off_by_default(void)
{
	struct sdev s;
	struct ustor_block_stats st;
	struct ustor_block_queue_stats mem[1];

	sdev_start(&s);
	CHECK(s.d->sched.stats == NULL);
	CHECK_ST(ustor_block_stats_get(s.d, USTOR_STATS_ALL, &st), USTOR_ERR_NOT_READY);
	one(&s, USTOR_BLOCK_READ, 1, 0, 5000, USTOR_OK); /* hooks are no-ops */
	CHECK_ST(ustor_block_stats_enable(s.d, mem, 0), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_stats_enable(NULL, mem, 1), USTOR_ERR_INVALID_ARG);
	CHECK_OK(ustor_block_stats_enable(s.d, mem, 1));
	CHECK_ST(ustor_block_stats_get(s.d, 0, NULL), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_stats_get(s.d, 1, &st), USTOR_ERR_INVALID_ARG);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.read_ops, 0);
	CHECK_EQ(st.lat_min_ns, 0);
	CHECK_EQ(st.lat_p99_ns, 0);
	CHECK_OK(ustor_block_stats_enable(s.d, NULL, 0));
	CHECK_ST(ustor_block_stats_get(s.d, USTOR_STATS_ALL, &st), USTOR_ERR_NOT_READY);
	ustor_block_stats_reset(s.d); /* harmless when off */
	sdev_finish(&s);
}

/*
 * 97 requests of 5000 ns, 2 of 700000 ns, 1 of 1000000 ns. Buckets (units
 * of 1024 ns): 5000 -> v 4, bucket 4, ends at 5 * 1024 = 5120 ns.
 * 700000 -> v 683 = 0b1010101011: top bit 9, next bits 010 -> ends at
 * 11 << 6 units = 720896 ns. 1000000 -> v 976, ends at 16 << 6 units =
 * 1048576 ns, capped at the maximum 1000000.
 */
static void test_latency_percentiles(void)
{
	struct sdev s;
	struct ustor_block_queue_stats mem[1];
	struct ustor_block_stats st;
	unsigned i;

	sdev_start(&s);
	CHECK_OK(ustor_block_stats_enable(s.d, mem, 1));
	for (i = 0; i < 97; i++)
		one(&s, USTOR_BLOCK_READ, 1, 0, 5000, USTOR_OK);
	one(&s, USTOR_BLOCK_READ, 1, 0, 700000, USTOR_OK);
	one(&s, USTOR_BLOCK_READ, 1, 0, 700000, USTOR_OK);
	one(&s, USTOR_BLOCK_READ, 1, 0, 1000000, USTOR_OK);
	CHECK_EQ(mem[0].hist[4], 97);
	CHECK_EQ(mem[0].hist[(7 << 3) + 2], 2);
	CHECK_EQ(mem[0].hist[(7 << 3) + 7], 1);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.read_ops, 100);
	CHECK_EQ(st.lat_min_ns, 5000);
	CHECK_EQ(st.lat_max_ns, 1000000);
	CHECK_EQ(st.lat_avg_ns, (97u * 5000u + 2u * 700000u + 1000000u) / 100u);
	CHECK_EQ(st.lat_p50_ns, 5120);
	CHECK_EQ(st.lat_p99_ns, 720896);
	CHECK_EQ(st.lat_p999_ns, 1000000);
	CHECK_EQ(st.depth, 0);
	CHECK_EQ(st.max_depth, 1);
	sdev_finish(&s);
}

/* Bucket edges: 0 ns, the last linear bucket, the first log bucket, and
 * latencies beyond the histogram (counted in the last bucket). */
static void test_bucket_edges(void)
{
	struct sdev s;
	struct ustor_block_queue_stats mem[1];
	struct ustor_block_stats st;

	sdev_start(&s);
	CHECK_OK(ustor_block_stats_enable(s.d, mem, 1));
	one(&s, USTOR_BLOCK_READ, 1, 0, 0, USTOR_OK);
	CHECK_EQ(mem[0].hist[0], 1);
	one(&s, USTOR_BLOCK_READ, 1, 0, 8 * 1024 - 1, USTOR_OK); /* v 7 */
	CHECK_EQ(mem[0].hist[7], 1);
	one(&s, USTOR_BLOCK_READ, 1, 0, 8 * 1024, USTOR_OK); /* v 8: top bit 3, sub 0 */
	CHECK_EQ(mem[0].hist[8], 1);
	one(&s, USTOR_BLOCK_READ, 1, 0, 16 * 1024 - 1, USTOR_OK); /* v 15 */
	CHECK_EQ(mem[0].hist[15], 1);
	one(&s, USTOR_BLOCK_READ, 1, 0, 16 * 1024, USTOR_OK); /* v 16: top bit 4 */
	CHECK_EQ(mem[0].hist[16], 1);
	one(&s, USTOR_BLOCK_READ, 1, 0, 600ull * 1000000000ull, USTOR_OK); /* 10 min */
	CHECK_EQ(mem[0].hist[USTOR_STATS_BUCKETS - 1], 1);
	one(&s, USTOR_BLOCK_READ, 1, 0, (1ull << 38) - 1, USTOR_OK); /* last v inside */
	CHECK_EQ(mem[0].hist[USTOR_STATS_BUCKETS - 1], 2);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.lat_min_ns, 0);
	CHECK_EQ(st.lat_max_ns, 600ull * 1000000000ull);
	/* 7 requests: p50 is the 4th smallest (16383 ns, bucket 15 ends at
	 * 16 * 1024). */
	CHECK_EQ(st.lat_p50_ns, 16 * 1024);
	sdev_finish(&s);
}

/* Op kinds, bytes, errors, timeouts, depth, queue clamping, ALL. */
static void test_counts_and_queues(void)
{
	struct sdev s;
	struct ustor_block_queue_stats mem[2];
	struct ustor_block_stats st;
	struct ustor_block_req r[4];
	uint32_t bs;

	sdev_start(&s);
	bs = s.d->block_size;
	CHECK_OK(ustor_block_stats_enable(s.d, mem, 2));
	req_init(&r[0], USTOR_BLOCK_READ, 8, 0);
	req_init(&r[1], USTOR_BLOCK_WRITE, 3, 1);
	req_init(&r[2], USTOR_BLOCK_FLUSH, 0, 7); /* beyond: counted in queue 1 */
	req_init(&r[3], USTOR_BLOCK_WRITE, 2, 1);
	ustor_stats_on_submit(s.d, &r[0]);
	ustor_stats_on_submit(s.d, &r[1]);
	ustor_stats_on_submit(s.d, &r[2]);
	ustor_stats_on_submit(s.d, &r[3]);
	CHECK_EQ(mem[0].depth, 1);
	CHECK_EQ(mem[1].depth, 3);
	CHECK_EQ(mem[1].max_depth, 3);
	ustor_test_hal_advance(&s.f.h, 2000);
	r[0].status = USTOR_OK;
	ustor_stats_on_complete(s.d, &r[0]);
	r[1].status = USTOR_OK;
	ustor_stats_on_complete(s.d, &r[1]);
	r[2].status = USTOR_ERR_TIMEOUT;
	ustor_stats_on_complete(s.d, &r[2]);
	r[3].status = USTOR_ERR_DEVICE;
	ustor_stats_on_complete(s.d, &r[3]);
	CHECK_EQ(mem[1].depth, 0);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.read_ops, 1);
	CHECK_EQ(st.read_bytes, 8u * bs);
	CHECK_EQ(st.write_ops, 0);
	CHECK_OK(ustor_block_stats_get(s.d, 1, &st));
	CHECK_EQ(st.read_ops, 0);
	CHECK_EQ(st.write_ops, 1);
	CHECK_EQ(st.write_bytes, 3u * bs); /* the failed write moved nothing */
	CHECK_EQ(st.other_ops, 0);
	CHECK_EQ(st.timeouts, 1);
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.max_depth, 3);
	CHECK_OK(ustor_block_stats_get(s.d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.read_ops + st.write_ops + st.other_ops, 2);
	CHECK_EQ(st.errors + st.timeouts, 2);
	CHECK_EQ(st.lat_avg_ns, 2000);
	CHECK_EQ(st.max_depth, 4); /* sum of the queues' maxima */
	/* A completion never seen at submission (statistics switched on in
	 * between) counts, but has no latency and leaves depth alone. */
	req_init(&r[0], USTOR_BLOCK_FLUSH, 0, 0);
	r[0].status = USTOR_OK;
	ustor_stats_on_complete(s.d, &r[0]);
	CHECK_EQ(mem[0].depth, 0);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.other_ops, 1);
	CHECK_EQ(st.lat_avg_ns, 2000);
	sdev_finish(&s);
}

/* Rates over elapsed time; reset restarts the clock but keeps the depth
 * of requests still in flight. */
static void test_rates_and_reset(void)
{
	struct sdev s;
	struct ustor_block_queue_stats mem[1];
	struct ustor_block_stats st;
	struct ustor_block_req held;
	unsigned i;

	sdev_start(&s);
	CHECK_OK(ustor_block_stats_enable(s.d, mem, 1));
	for (i = 0; i < 1000; i++)
		one(&s, USTOR_BLOCK_READ, 4096u >> s.d->block_shift, 0, 500000, USTOR_OK);
	for (i = 0; i < 250; i++)
		one(&s, USTOR_BLOCK_WRITE, 8192u >> s.d->block_shift, 0, 2000000, USTOR_OK);
	/* 1000 * 0.5 ms + 250 * 2 ms = 1 s exactly. */
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.elapsed_ns, 1000000000u);
	CHECK_EQ(st.read_iops, 1000);
	CHECK_EQ(st.write_iops, 250);
	CHECK_EQ(st.read_kib_s, 4000);
	CHECK_EQ(st.write_kib_s, 2000);
	/* Another second with nothing done halves the rates. */
	ustor_test_hal_advance(&s.f.h, 1000000000u);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.read_iops, 500);
	CHECK_EQ(st.write_kib_s, 1000);

	req_init(&held, USTOR_BLOCK_READ, 1, 0);
	ustor_stats_on_submit(s.d, &held);
	ustor_block_stats_reset(s.d);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.read_ops, 0);
	CHECK_EQ(st.write_bytes, 0);
	CHECK_EQ(st.elapsed_ns, 0);
	CHECK_EQ(st.read_iops, 0);
	CHECK_EQ(st.depth, 1);
	ustor_test_hal_advance(&s.f.h, 3000);
	held.status = USTOR_OK;
	ustor_stats_on_complete(s.d, &held);
	CHECK_OK(ustor_block_stats_get(s.d, 0, &st));
	CHECK_EQ(st.depth, 0);
	CHECK_EQ(st.read_ops, 1);
	CHECK_EQ(st.lat_max_ns, 3000);
	sdev_finish(&s);
}

/* The division helper the rates use, against the host's division. */
static void test_div64(void)
{
	static const uint64_t ns[] = { 0, 1, 7, 1000000000u, 0xffffffffu, 0x100000000ull,
				       0x123456789abcdefull, ~0ull, 1ull << 63 };
	static const uint64_t ds[] = { 1, 2, 3, 10, 1000, 0xffffffffu, 0x100000001ull,
				       0x123456789ull, ~0ull };
	uint32_t x = 12345;
	unsigned i, j;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (j = 0; j < sizeof(ds) / sizeof(ds[0]); j++)
			CHECK_EQ(ustor_div_u64(ns[i], ds[j]), ns[i] / ds[j]);
	for (i = 0; i < 2000; i++) {
		uint64_t n, d;

		x = x * 1103515245u + 12345u;
		n = ((uint64_t)x << 32) ^ (x * 2654435761u);
		x = x * 1103515245u + 12345u;
		d = (uint64_t)(x >> (x & 31)) + 1u;
		CHECK_EQ(ustor_div_u64(n, d), n / d);
	}
	CHECK_EQ(ustor_div_u64(5, 0), 0);
	CHECK_EQ(ustor_muldiv_u64(3, 1000000000u, 2000000000u), 1);
	CHECK_EQ(ustor_muldiv_u64(12345, 1000000000u, 0), 0);
	/* a * m beyond 64 bits: scaled, still close (here exact). */
	CHECK_EQ(ustor_muldiv_u64(1ull << 40, 1000000000u, 1ull << 30), 1000000000ull << 10);
}

static unsigned dnr_done_calls;
static ustor_status dnr_done_status;

static void dnr_done(struct ustor_block_req *req)
{
	dnr_done_calls++;
	dnr_done_status = req->status;
}

/* NVMe, through the driver's hooks: a request of two chunks (MDTS 8 KiB)
 * whose second chunk fails with DNR while the first hangs; a controller
 * reset then finishes it with that error. It must leave the statistics
 * (depth back to 0, one error), not stay counted in flight (fuzz finding,
 * regress/nvme_cqe/stats-depth). */
static void test_nvme_failed_chunk_then_reset(void)
{
	struct fixture f;
	struct ustor_block_queue_stats mem[1];
	struct ustor_block_stats st;
	struct ustor_block_req r;
	struct ustor_block_device *d;
	uint32_t n;
	uint8_t *buf;
	int i;

	fx_setup(&f);
	f.mcfg.mdts = 1;
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	n = 16384u / d->block_size;
	buf = fx_buf(&f, 16384, 0, 0);
	CHECK_OK(ustor_block_stats_enable(d, mem, 1));
	f.m.hold_commands = 1; /* the first chunk hangs */
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = 1, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x06, 1), .count = 1 };
	req_init(&r, USTOR_BLOCK_READ, n, 0);
	r.buf = buf;
	r.done = dnr_done;
	dnr_done_calls = 0;
	CHECK_OK(ustor_block_submit(d, &r));
	for (i = 0; i < 10; i++)
		(void)ustor_block_poll(d, 0);
	CHECK_EQ(f.m.io_cmds[0x02], 2);
	CHECK_EQ(f.m.commands_held, 1);
	CHECK_EQ(dnr_done_calls, 0);
	CHECK_EQ(mem[0].depth, 1);
	CHECK_OK(ustor_nvme_ctrl_reset(f.ctrl));
	(void)ustor_block_poll(d, 0);
	CHECK_EQ(dnr_done_calls, 1);
	CHECK_ST(dnr_done_status, USTOR_ERR_DEVICE);
	CHECK_EQ(f.m.io_cmds[0x02], 2); /* DNR: not sent again */
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.depth, 0);
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.read_ops, 0);
	fx_finish(&f);
}

static void run_all(void)
{
	RUN(test_off_by_default);
	RUN(test_latency_percentiles);
	RUN(test_bucket_edges);
	RUN(test_counts_and_queues);
	RUN(test_rates_and_reset);
}

int main(void)
{
	RUN(test_div64);
	RUN(test_nvme_failed_chunk_then_reset);
	run_all();
	use_virtio = 1;
	run_all();
	return harness_done();
}
