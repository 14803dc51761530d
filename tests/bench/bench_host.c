/* SPDX-License-Identifier: MIT */
/*
 * Host benchmark: the driver's own cost per 4 KiB read, submit plus
 * completion, against the NVMe model in no-copy mode (it parses PRPs but
 * moves no data). Usage: bench_host <qd> <ios> [plain|batch|stats]: batch
 * submits with USTOR_REQ_F_MORE and kicks after each poll, stats counts
 * statistics (ustor_block_stats_enable); seq128k reads 128 KiB (batched,
 * buffers scattered page by page in bus space, a PRP list each) and
 * seq128k-ranges the same with bus-contiguous buffers and the HAL's
 * USTOR_HAL_F_DMA_RANGES. Prints wall-clock ns per I/O
 * (library + model + hosted HAL); bench_host.sh runs it under callgrind to
 * count the instructions spent in the library alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "ustor/stats.h"

#define MAX_QD 256

struct bench {
	struct ustor_block_device *d;
	unsigned long left;      /* I/Os still to submit */
	unsigned long done;
	uint32_t rng;
	unsigned errors;
	uint32_t nblocks;
};

static uint64_t bench_lba(struct bench *b)
{
	b->rng = b->rng * 1103515245u + 12345u;
	return ((b->rng >> 8) % (2048u - 8u)) & ~7u;
}

static void bench_done(struct ustor_block_req *req)
{
	struct bench *b = req->user;

	b->done++;
	if (req->status != USTOR_OK)
		b->errors++;
	if (b->left > 0) {
		b->left--;
		req->lba = bench_lba(b);
		if (ustor_block_submit(b->d, req) != USTOR_OK)
			b->errors++;
	}
}

/* seq128k: the same, 128 KiB at a time (the model's disk holds 8). */
static void bench_done_big(struct ustor_block_req *req)
{
	struct bench *b = req->user;

	b->done++;
	if (req->status != USTOR_OK)
		b->errors++;
	if (b->left > 0) {
		b->left--;
		req->lba = (bench_lba(b) >> 8) % 7u * 256u;
		if (ustor_block_submit(b->d, req) != USTOR_OK)
			b->errors++;
	}
}

int main(int argc, char **argv)
{
	static struct fixture f;
	static struct ustor_block_req reqs[MAX_QD];
	static struct ustor_block_queue_stats qs[1];
	struct bench b;
	unsigned qd = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
	unsigned long ios = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
	const char *mode = argc > 3 ? argv[3] : "plain";
	int big = strncmp(mode, "seq128k", 7) == 0;
	int ranges = strcmp(mode, "seq128k-ranges") == 0;
	int batch = strcmp(mode, "batch") == 0 || big;
	uint32_t bs = big ? 131072u : 4096u;
	uint8_t flags = batch ? USTOR_REQ_F_MORE : 0;
	struct timespec t0, t1;
	uint8_t *buf;
	unsigned i;
	double ns;

	if (qd < 1 || qd > MAX_QD || ios < qd ||
	    (!batch && strcmp(mode, "plain") != 0 && strcmp(mode, "stats") != 0) ||
	    (big && !ranges && strcmp(mode, "seq128k") != 0) || (big && qd > 16)) {
		fprintf(stderr, "usage: bench_host <qd 1..%u> <ios >= qd> "
			"[plain|batch|stats|seq128k|seq128k-ranges (qd <= 16)]\n",
			MAX_QD);
		return 2;
	}
	fx_setup(&f);
	f.mcfg.no_copy = 1;
	f.h.hal.log_level = USTOR_LOG_ERROR;
	f.h.hal.lock = NULL; /* a single-CPU kernel passes no lock */
	f.h.hal.unlock = NULL;
	f.cfg.io_queue_depth = 256;
	if (ranges) {
		f.h.scatter_granule = 0; /* buffers contiguous on the bus */
		f.h.hal.flags = USTOR_HAL_F_DMA_RANGES;
	}
	if (fx_start(&f) != USTOR_OK) {
		fprintf(stderr, "bring-up failed\n%s", ustor_test_hal_log_text(&f.h));
		return 1;
	}
	memset(&b, 0, sizeof(b));
	b.d = ustor_nvme_ns_bdev(f.ctrl, 0);
	b.rng = 1;
	b.left = ios;
	b.nblocks = bs / 512u;
	buf = fx_buf(&f, (size_t)qd * bs, 0, 0);
	if (strcmp(mode, "stats") == 0 && ustor_block_stats_enable(b.d, qs, 1) != USTOR_OK)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < qd; i++) {
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].flags = flags; /* kept on resubmission */
		reqs[i].nblocks = b.nblocks;
		reqs[i].buf = buf + (size_t)i * bs;
		reqs[i].done = big ? bench_done_big : bench_done;
		reqs[i].user = &b;
		reqs[i].lba = big ? i % 7u * 256u : bench_lba(&b);
		b.left--;
		if (ustor_block_submit(b.d, &reqs[i]) != USTOR_OK)
			b.errors++;
	}
	if (batch)
		ustor_block_kick(b.d, 0);
	while (b.done < ios && b.errors == 0) {
		ustor_block_poll(b.d, 0);
		if (batch) /* the callbacks resubmitted with F_MORE: one doorbell */
			ustor_block_kick(b.d, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("qd=%u ios=%lu mode=%s errors=%u ns_per_io=%.0f (library+model+hosted HAL, wall clock)"
	       " doorbells_per_io=%.2f\n",
	       qd, b.done, mode, b.errors, ns / (double)b.done,
	       (double)f.m.doorbell_writes / (double)b.done);
	if (strcmp(mode, "stats") == 0) {
		struct ustor_block_stats st;

		if (ustor_block_stats_get(b.d, 0, &st) == USTOR_OK)
			printf("stats: read_ops=%llu depth_max=%u p50=%llu ns p99=%llu ns\n",
			       (unsigned long long)st.read_ops, (unsigned)st.max_depth,
			       (unsigned long long)st.lat_p50_ns, (unsigned long long)st.lat_p99_ns);
	}
	fx_finish(&f);
	return b.errors == 0 ? 0 : 1;
}
