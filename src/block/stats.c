/* SPDX-License-Identifier: MIT */
/*
 * Block statistics: counters per queue, kept by the drivers' hooks
 * (ustor_stats_on_submit/on_complete, under the queue's lock), and the
 * figures derived from them on request. No floating point, no 64-bit
 * division outside ustor_div_u64 (not on the I/O path).
 */
#include "ustor/stats.h"

#include "../core/div64.h"
#include "../core/mem.h"

/* Histogram: v = latency >> 10 (units of 1.024 us). v < 8 has a bucket
 * each; above, bucket ((b - 2) << 3) + s, b the top bit of v and s the
 * next three bits, up to v < 2^28 (about 275 s); longer counts in the
 * last. */
#define USTOR_STATS_UNIT_SHIFT 10
#define USTOR_STATS_V_LIMIT (1u << 28)

_Static_assert(USTOR_STATS_BUCKETS == ((28 - 2) << 3), "histogram covers v < 2^28");

/* Index of the highest set bit of v (v != 0). */
static uint32_t ustor_stats_top_bit(uint32_t v)
{
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
	/* One instruction (bsr, clz) on these; elsewhere __builtin_clz may be
	 * a libgcc call, hence the portable steps below. */
	return 31u - (uint32_t)__builtin_clz(v);
#else
	uint32_t b = 0;

	if (v >= 1u << 16) {
		v >>= 16;
		b += 16;
	}
	if (v >= 1u << 8) {
		v >>= 8;
		b += 8;
	}
	if (v >= 1u << 4) {
		v >>= 4;
		b += 4;
	}
	if (v >= 1u << 2) {
		v >>= 2;
		b += 2;
	}
	if (v >= 1u << 1)
		b += 1;
	return b;
#endif
}

/* Histogram bucket of a latency. */
static uint32_t ustor_stats_bucket(uint64_t lat_ns)
{
	uint64_t v64 = lat_ns >> USTOR_STATS_UNIT_SHIFT;
	uint32_t v;
	uint32_t b;

	if (v64 >= USTOR_STATS_V_LIMIT)
		return USTOR_STATS_BUCKETS - 1u;
	v = (uint32_t)v64;
	if (v < 8u)
		return v;
	b = ustor_stats_top_bit(v); /* 3..27 */
	return ((b - 2u) << 3) + ((v >> (b - 3u)) & 7u);
}

/* First latency (ns) past bucket k: the bucket's exclusive upper bound. */
static uint64_t ustor_stats_bucket_end(uint32_t k)
{
	uint32_t end_v;

	if (k < 8u)
		end_v = k + 1u;
	else
		end_v = (9u + (k & 7u)) << ((k >> 3) - 1u); /* b - 3 = (k >> 3) - 1 */
	return (uint64_t)end_v << USTOR_STATS_UNIT_SHIFT;
}

static struct ustor_block_queue_stats *ustor_stats_queue(struct ustor_block_device *bdev,
							 const struct ustor_block_req *req)
{
	uint16_t q = req->queue;

	if (q >= bdev->sched.stats_queues)
		q = (uint16_t)(bdev->sched.stats_queues - 1u);
	return &bdev->sched.stats[q];
}

void ustor_stats_note_submit(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	struct ustor_block_queue_stats *qs = ustor_stats_queue(bdev, req);
	uint64_t now = bdev->hal->now_ns(bdev->hal->ctx);

	/* 0 means "not counted at submission" (statistics switched on while
	 * the request was in flight): note_complete then skips it. */
	req->submit_ns = now != 0 ? now : 1u;
	qs->depth++;
	if (qs->depth > qs->max_depth)
		qs->max_depth = qs->depth;
}

void ustor_stats_note_complete(struct ustor_block_device *bdev, struct ustor_block_req *req)
{
	struct ustor_block_queue_stats *qs = ustor_stats_queue(bdev, req);
	uint64_t now;
	uint64_t lat;

	if (req->status == USTOR_OK) {
		uint32_t i = req->op == USTOR_BLOCK_READ ? 0u : req->op == USTOR_BLOCK_WRITE ? 1u : 2u;

		qs->ops[i]++;
		if (i < 2u)
			qs->bytes[i] += req->nblocks << bdev->block_shift; /* < 4 GiB: checked at submit */
	} else if (req->status == USTOR_ERR_TIMEOUT) {
		qs->timeouts++;
	} else {
		qs->errors++;
	}
	if (req->submit_ns == 0)
		return;
	now = bdev->hal->now_ns(bdev->hal->ctx);
	lat = now > req->submit_ns ? now - req->submit_ns : 0;
	req->submit_ns = 0;
	if (qs->depth != 0) /* 0: counting restarted in between */
		qs->depth--;
	qs->lat_sum_ns += lat;
	if (lat < qs->lat_min_ns)
		qs->lat_min_ns = lat;
	if (lat > qs->lat_max_ns)
		qs->lat_max_ns = lat;
	qs->hist[ustor_stats_bucket(lat)]++;
}

/* Clear the counters of `n` queues (depth too when `all`). */
static void ustor_stats_clear(struct ustor_block_queue_stats *qs, uint16_t n, uint64_t now,
			      int all)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint32_t depth = qs[i].depth;

		ustor_memset(&qs[i], 0, sizeof(qs[i]));
		if (!all)
			qs[i].depth = depth; /* requests still in flight */
		qs[i].max_depth = qs[i].depth;
		qs[i].lat_min_ns = ~(uint64_t)0; /* none yet */
		qs[i].since_ns = now;
	}
}

ustor_status ustor_block_stats_enable(struct ustor_block_device *bdev,
				      struct ustor_block_queue_stats *mem, uint16_t nqueues)
{
	if (bdev == NULL || bdev->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (mem == NULL) {
		bdev->sched.stats = NULL;
		bdev->sched.stats_queues = 0;
		return USTOR_OK;
	}
	if (nqueues == 0)
		return USTOR_ERR_INVALID_ARG;
	ustor_stats_clear(mem, nqueues, bdev->hal->now_ns(bdev->hal->ctx), 1);
	bdev->sched.stats_queues = nqueues;
	bdev->sched.stats = mem;
	return USTOR_OK;
}

void ustor_block_stats_reset(struct ustor_block_device *bdev)
{
	if (bdev == NULL || bdev->sched.stats == NULL)
		return;
	ustor_stats_clear(bdev->sched.stats, bdev->sched.stats_queues,
			  bdev->hal->now_ns(bdev->hal->ctx), 0);
}

/* Requests of queues first..last in bucket k. */
static uint64_t ustor_stats_hist(const struct ustor_block_queue_stats *qs, uint16_t first,
				 uint16_t last, uint32_t k)
{
	uint64_t n = 0;
	uint16_t i;

	for (i = first; i <= last; i++)
		n += qs[i].hist[k];
	return n;
}

/* Latency under which `permille` of the `total` finished requests fall:
 * the end of the first bucket reaching that share, capped at the maximum. */
static uint64_t ustor_stats_percentile(const struct ustor_block_queue_stats *qs, uint16_t first,
				       uint16_t last, uint64_t total, uint32_t permille,
				       uint64_t max)
{
	uint64_t want = total * permille; /* compared with cum * 1000 */
	uint64_t cum = 0;
	uint32_t k;

	if (total == 0)
		return 0;
	for (k = 0; k < USTOR_STATS_BUCKETS; k++) {
		cum += ustor_stats_hist(qs, first, last, k);
		if (cum * 1000u >= want) {
			uint64_t end = ustor_stats_bucket_end(k);
			return end < max ? end : max;
		}
	}
	return max;
}

ustor_status ustor_block_stats_get(struct ustor_block_device *bdev, uint16_t queue,
				   struct ustor_block_stats *out)
{
	const struct ustor_block_queue_stats *qs;
	uint64_t lat_sum = 0;
	uint64_t finished;
	uint16_t first;
	uint16_t last;
	uint16_t i;
	uint32_t k;

	if (bdev == NULL || out == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (bdev->sched.stats == NULL)
		return USTOR_ERR_NOT_READY;
	qs = bdev->sched.stats;
	if (queue == USTOR_STATS_ALL) {
		first = 0;
		last = (uint16_t)(bdev->sched.stats_queues - 1u);
	} else if (queue < bdev->sched.stats_queues) {
		first = last = queue;
	} else {
		return USTOR_ERR_INVALID_ARG;
	}
	ustor_memset(out, 0, sizeof(*out));
	out->lat_min_ns = ~(uint64_t)0;
	for (i = first; i <= last; i++) {
		const struct ustor_block_queue_stats *s = &qs[i];

		out->read_ops += s->ops[0];
		out->write_ops += s->ops[1];
		out->other_ops += s->ops[2];
		out->read_bytes += s->bytes[0];
		out->write_bytes += s->bytes[1];
		out->errors += s->errors;
		out->timeouts += s->timeouts;
		lat_sum += s->lat_sum_ns;
		if (s->lat_min_ns < out->lat_min_ns)
			out->lat_min_ns = s->lat_min_ns;
		if (s->lat_max_ns > out->lat_max_ns)
			out->lat_max_ns = s->lat_max_ns;
		out->depth += s->depth;
		out->max_depth += s->max_depth;
	}
	if (out->lat_min_ns == ~(uint64_t)0)
		out->lat_min_ns = 0;
	out->elapsed_ns = bdev->hal->now_ns(bdev->hal->ctx) - qs[first].since_ns;
	out->read_iops = ustor_muldiv_u64(out->read_ops, 1000000000u, out->elapsed_ns);
	out->write_iops = ustor_muldiv_u64(out->write_ops, 1000000000u, out->elapsed_ns);
	out->read_kib_s = ustor_muldiv_u64(out->read_bytes, 1000000000u, out->elapsed_ns) >> 10;
	out->write_kib_s = ustor_muldiv_u64(out->write_bytes, 1000000000u, out->elapsed_ns) >> 10;
	finished = 0;
	for (k = 0; k < USTOR_STATS_BUCKETS; k++)
		finished += ustor_stats_hist(qs, first, last, k);
	out->lat_avg_ns = ustor_div_u64(lat_sum, finished);
	out->lat_p50_ns = ustor_stats_percentile(qs, first, last, finished, 500, out->lat_max_ns);
	out->lat_p99_ns = ustor_stats_percentile(qs, first, last, finished, 990, out->lat_max_ns);
	out->lat_p999_ns = ustor_stats_percentile(qs, first, last, finished, 999, out->lat_max_ns);
	return USTOR_OK;
}
