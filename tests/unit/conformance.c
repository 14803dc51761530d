/* SPDX-License-Identifier: MIT */
#include "conformance.h"

#include <string.h>

#include "harness.h"
#include "ustor/stats.h"

static void conf_pattern(uint8_t *b, size_t len, uint64_t lba, uint32_t bs, uint32_t seed)
{
	fx_pattern(b, len, lba, bs, seed);
}

static void conf_geometry(const struct conformance_target *t)
{
	const struct ustor_block_device *d = t->bdev;

	CHECK(d->block_size >= 512 && (d->block_size & (d->block_size - 1)) == 0);
	CHECK_EQ(1u << d->block_shift, d->block_size);
	CHECK(d->nblocks > 0);
	CHECK(d->name[0] != '\0');
	CHECK(d->ops != NULL && d->ops->submit != NULL && d->ops->poll != NULL &&
	      d->ops->cancel != NULL);
	CHECK(d->timeout_ms > 0);
	if (t->disk != NULL)
		CHECK_EQ(t->disk_bytes, d->nblocks * d->block_size);
}

static void conf_boundaries(const struct conformance_target *t)
{
	struct ustor_block_device *d = t->bdev;
	uint8_t *b = t->buf(t->ctx, 2u * d->block_size, 0, 0);
	struct ustor_block_req req;

	CHECK_OK(ustor_block_read(d, d->nblocks - 1, 1, b));
	CHECK_OK(ustor_block_read(d, 0, 1, b));
	CHECK_ST(ustor_block_read(d, d->nblocks - 1, 2, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_read(d, d->nblocks, 1, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_read(d, ~(uint64_t)0, 2, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_read(d, 0, 0, b), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_read(d, 0, 1, NULL), USTOR_ERR_INVALID_ARG);
	if (!(d->flags & USTOR_BDEV_F_READ_ONLY)) {
		CHECK_ST(ustor_block_write(d, d->nblocks, 1, b), USTOR_ERR_OUT_OF_RANGE);
		CHECK_ST(ustor_block_write(d, 0, 1, NULL), USTOR_ERR_INVALID_ARG);
	}
	memset(&req, 0, sizeof(req));
	req.op = 77;
	req.nblocks = 1;
	req.buf = b;
	CHECK_ST(ustor_block_submit(d, &req), USTOR_ERR_INVALID_ARG);
}

/* Write, check the backing store, read back; several sizes and offsets,
 * some longer than one device command. */
static void conf_write_read(const struct conformance_target *t)
{
	struct ustor_block_device *d = t->bdev;
	static const uint32_t counts[] = { 1, 2, 8, 33, 0 /* 2 x max + 3 */ };
	static const size_t offsets[] = { 0, 4, 512 };
	unsigned i;

	if (d->flags & USTOR_BDEV_F_READ_ONLY) {
		uint8_t *b = t->buf(t->ctx, d->block_size, 0, 0);
		CHECK_ST(ustor_block_write(d, 0, 1, b), USTOR_ERR_READ_ONLY);
		return;
	}
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		uint32_t n = counts[i] != 0 ? counts[i] : 2u * d->max_blocks + 3u;
		uint64_t lba;
		size_t len;
		uint8_t *w;
		uint8_t *r;

		if (n > 1024 || n > d->nblocks / 2)
			n = (uint32_t)(d->nblocks / 2 < 1024 ? d->nblocks / 2 : 1024);
		len = (size_t)n * d->block_size;
		lba = d->nblocks - n - i; /* near the end, where bugs live */
		w = t->buf(t->ctx, len, offsets[i % 3], 0);
		r = t->buf(t->ctx, len, offsets[(i + 1) % 3], 0xee);
		conf_pattern(w, len, lba, d->block_size, 100u + i);
		CHECK_OK(ustor_block_write(d, lba, n, w));
		if (t->disk != NULL)
			CHECK(memcmp(t->disk + lba * d->block_size, w, len) == 0);
		CHECK_OK(ustor_block_read(d, lba, n, r));
		CHECK(memcmp(r, w, len) == 0);
	}
}

static void conf_flush_discard_zeroes(const struct conformance_target *t)
{
	struct ustor_block_device *d = t->bdev;
	uint32_t bs = d->block_size;
	uint8_t *b = t->buf(t->ctx, 8u * bs, 0, 0);
	size_t i;
	int nonzero = 0;

	CHECK_OK(ustor_block_flush(d));
	if (d->flags & USTOR_BDEV_F_READ_ONLY)
		return;
	if (d->flags & USTOR_BDEV_F_WRITE_ZEROES) {
		conf_pattern(b, 8u * bs, 16, bs, 7);
		CHECK_OK(ustor_block_write(d, 16, 8, b));
		CHECK_OK(ustor_block_write_zeroes(d, 17, 6));
		CHECK_OK(ustor_block_read(d, 16, 8, b));
		for (i = bs; i < 7u * bs; i++)
			nonzero |= b[i];
		CHECK_EQ(nonzero, 0);
		CHECK(b[0] != 0 || b[1] != 0 || b[2] != 0); /* block 16 untouched */
	} else {
		CHECK_ST(ustor_block_write_zeroes(d, 17, 6), USTOR_ERR_UNSUPPORTED);
	}
	if (d->flags & USTOR_BDEV_F_DISCARD)
		CHECK_OK(ustor_block_discard(d, 24, 8));
	else
		CHECK_ST(ustor_block_discard(d, 24, 8), USTOR_ERR_UNSUPPORTED);
	CHECK_ST(ustor_block_discard(d, d->nblocks, 1),
		 (d->flags & USTOR_BDEV_F_DISCARD) ? USTOR_ERR_OUT_OF_RANGE : USTOR_ERR_UNSUPPORTED);
}

struct conf_async {
	unsigned done;
	unsigned errors;
};

static void conf_on_done(struct ustor_block_req *req)
{
	struct conf_async *a = req->user;

	a->done++;
	if (req->status != USTOR_OK)
		a->errors++;
}

/* Many requests in flight at once (F_WAIT: on a shallower queue the block
 * layer holds the rest), completed in whatever order the device chooses,
 * then verified. */
static void conf_in_flight(const struct conformance_target *t)
{
	enum { N = 16 };
	struct ustor_block_device *d = t->bdev;
	struct ustor_block_req reqs[N];
	struct conf_async a = { 0, 0 };
	uint32_t bs = d->block_size;
	uint8_t *b;
	unsigned i;
	unsigned spins = 0;
	uint8_t op = (d->flags & USTOR_BDEV_F_READ_ONLY) ? USTOR_BLOCK_READ : USTOR_BLOCK_WRITE;

	if (d->nblocks < 64)
		return;
	b = t->buf(t->ctx, (size_t)N * 2u * bs, 0, 0);
	conf_pattern(b, (size_t)N * 2u * bs, 32, bs, 55);
	if (t->hold != NULL)
		t->hold(t->ctx, 1);
	for (i = 0; i < N; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = op;
		reqs[i].lba = 32u + 2u * i;
		reqs[i].nblocks = 2;
		reqs[i].buf = b + (size_t)i * 2u * bs;
		reqs[i].done = conf_on_done;
		reqs[i].user = &a;
		reqs[i].flags = USTOR_REQ_F_WAIT; /* a queue shallower than N holds the rest */
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	}
	while (a.done < N && spins++ < 1000) {
		if (t->release != NULL)
			t->release(t->ctx);
		ustor_block_poll(d, 0);
	}
	if (t->hold != NULL)
		t->hold(t->ctx, 0);
	CHECK_EQ(a.done, N);
	CHECK_EQ(a.errors, 0);
	if (op == USTOR_BLOCK_WRITE) {
		uint8_t *r = t->buf(t->ctx, (size_t)N * 2u * bs, 0, 0);
		CHECK_OK(ustor_block_read(d, 32, 2u * N, r));
		CHECK(memcmp(r, b, (size_t)N * 2u * bs) == 0);
	}
}

/* ---- Batching, holding, policies, statistics ---------------------------- */

#define CONF_FILL_MAX 512

struct conf_order {
	struct ustor_block_req *base;
	int order[32];
	unsigned n;
	unsigned errors;
	ustor_status last;
};

static void conf_on_order(struct ustor_block_req *req)
{
	struct conf_order *o = req->user;

	if (o->n < 32)
		o->order[o->n] = (int)(req - o->base);
	o->n++;
	if (req->status != USTOR_OK)
		o->errors++;
	o->last = req->status;
}

/* Release what the device holds and poll every queue once. */
static void conf_poll_all(const struct conformance_target *t)
{
	uint16_t q;

	if (t->release != NULL)
		t->release(t->ctx);
	for (q = 0; q < t->bdev->nqueues; q++)
		ustor_block_poll(t->bdev, q);
	if (t->bdev->nqueues == 0)
		ustor_block_poll(t->bdev, 0);
}

/* Poll until *count reaches want (bounded: a lost request fails, never
 * hangs). */
static void conf_wait_count(const struct conformance_target *t, const unsigned *count,
			    unsigned want)
{
	unsigned spins = 0;

	while (*count < want && spins++ < 20000)
		conf_poll_all(t);
	CHECK_EQ(*count, want);
}

static void conf_req(struct ustor_block_req *r, uint8_t op, uint64_t lba, uint32_t n, void *buf,
		     ustor_block_done_fn done, void *user)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->lba = lba;
	r->nblocks = n;
	r->buf = buf;
	r->done = done;
	r->user = user;
}

/* With completions held in the device, submit 1-block reads of block 0 on
 * queue 0 until the device says BUSY. Returns how many it took, 0 if it
 * never filled up (then the caller skips what needs a full queue). */
static unsigned conf_fill(const struct conformance_target *t, struct ustor_block_req *fill,
			  uint8_t *buf, struct conf_async *a)
{
	unsigned i;

	for (i = 0; i < CONF_FILL_MAX; i++) {
		ustor_status st;

		conf_req(&fill[i], USTOR_BLOCK_READ, 0, 1, buf, conf_on_done, a);
		st = ustor_block_submit(t->bdev, &fill[i]);
		if (st == USTOR_ERR_BUSY)
			return i;
		CHECK_OK(st);
		if (st != USTOR_OK)
			return 0;
	}
	return 0;
}

/* F_MORE submissions then a kick; then F_MORE with no kick at all: the
 * polls alone must finish them (kick may be NULL: the driver never
 * defers). Data is verified both ways. */
static void conf_batching(const struct conformance_target *t)
{
	enum { N = 8 };
	struct ustor_block_device *d = t->bdev;
	struct ustor_block_req reqs[N];
	struct conf_async a = { 0, 0 };
	uint32_t bs = d->block_size;
	uint8_t *w;
	uint8_t *r;
	unsigned i;

	if (d->nblocks < 64 || (d->flags & USTOR_BDEV_F_READ_ONLY))
		return;
	w = t->buf(t->ctx, (size_t)N * bs * 2u, 0, 0);
	r = w + (size_t)N * bs;
	conf_pattern(w, (size_t)N * bs, 8, bs, 77);
	for (i = 0; i < N; i++) {
		conf_req(&reqs[i], USTOR_BLOCK_WRITE, 8u + i, 1, w + (size_t)i * bs, conf_on_done, &a);
		reqs[i].flags = USTOR_REQ_F_MORE | USTOR_REQ_F_WAIT;
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	}
	ustor_block_kick(d, 0);
	conf_wait_count(t, &a.done, N);
	CHECK_EQ(a.errors, 0);
	if (t->disk != NULL)
		CHECK(memcmp(t->disk + 8u * bs, w, (size_t)N * bs) == 0);
	a.done = 0;
	memset(r, 0xee, (size_t)N * bs);
	for (i = 0; i < N; i++) {
		conf_req(&reqs[i], USTOR_BLOCK_READ, 8u + i, 1, r + (size_t)i * bs, conf_on_done, &a);
		reqs[i].flags = USTOR_REQ_F_MORE | USTOR_REQ_F_WAIT; /* and never kicked */
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	}
	conf_wait_count(t, &a.done, N);
	CHECK_EQ(a.errors, 0);
	CHECK(memcmp(r, w, (size_t)N * bs) == 0);
}

/* More requests than the queue holds: without F_WAIT the device says BUSY,
 * with it every request is taken, held and sent in order; data intact. */
static void conf_wait_full(const struct conformance_target *t)
{
	enum { K = 8 };
	static struct ustor_block_req fill[CONF_FILL_MAX];
	struct ustor_block_device *d = t->bdev;
	struct ustor_block_req reqs[K];
	struct conf_async a = { 0, 0 };
	struct conf_order o;
	uint32_t bs = d->block_size;
	uint8_t *w;
	unsigned nfill;
	unsigned i;

	if (t->hold == NULL || d->nblocks < 64 || (d->flags & USTOR_BDEV_F_READ_ONLY))
		return;
	w = t->buf(t->ctx, (size_t)(K + 2) * bs, 0, 0);
	conf_pattern(w, (size_t)K * bs, 40, bs, 31);
	memset(&o, 0, sizeof(o));
	o.base = reqs;
	t->hold(t->ctx, 1);
	nfill = conf_fill(t, fill, w + (size_t)(K + 1) * bs, &a);
	CHECK(nfill > 0);
	for (i = 0; nfill > 0 && i < K; i++) {
		conf_req(&reqs[i], USTOR_BLOCK_WRITE, 40u + i, 1, w + (size_t)i * bs, conf_on_order, &o);
		reqs[i].flags = USTOR_REQ_F_WAIT;
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	}
	if (nfill > 0)
		CHECK_EQ(d->sched.held, K);
	t->hold(t->ctx, 0);
	conf_wait_count(t, &a.done, nfill);
	conf_wait_count(t, &o.n, nfill > 0 ? K : 0);
	CHECK_EQ(a.errors, 0);
	CHECK_EQ(o.errors, 0);
	CHECK_EQ(d->sched.held, 0);
	CHECK(!(d->flags & USTOR_BDEV_F_SCHED));
	if (nfill > 0 && t->disk != NULL)
		CHECK(memcmp(t->disk + 40u * bs, w, (size_t)K * bs) == 0);
}

/* Round-robin spreads over the queues; with completions held in order,
 * requests held by PRIORITY go out (and complete) urgent first; under
 * DEADLINE a held request whose deadline passes fails with TIMEOUT. */
static void conf_policies(const struct conformance_target *t)
{
	static struct ustor_block_req fill[CONF_FILL_MAX];
	struct ustor_block_device *d = t->bdev;
	struct ustor_block_req reqs[6];
	struct conf_async a = { 0, 0 };
	struct conf_order o;
	uint16_t nq = d->nqueues != 0 ? d->nqueues : 1u;
	uint32_t bs = d->block_size;
	uint8_t *b;
	unsigned nfill;
	unsigned i;

	if (d->nblocks < 64)
		return;
	b = t->buf(t->ctx, 8u * bs, 0, 0);
	memset(&o, 0, sizeof(o));
	o.base = reqs;
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_ROUND_ROBIN));
	for (i = 0; i < 6; i++) {
		conf_req(&reqs[i], USTOR_BLOCK_READ, i, 1, b + (size_t)i * bs, conf_on_order, &o);
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
		CHECK_EQ(reqs[i].queue, i % nq);
	}
	conf_wait_count(t, &o.n, 6);
	CHECK_EQ(o.errors, 0);
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
	CHECK(!(d->flags & USTOR_BDEV_F_SCHED));

	if (t->hold_ordered != NULL) {
		static const uint8_t prio[3] = { USTOR_PRIO_NORMAL, USTOR_PRIO_HIGH, USTOR_PRIO_URGENT };

		memset(&o, 0, sizeof(o));
		o.base = reqs;
		t->hold_ordered(t->ctx, 1);
		nfill = conf_fill(t, fill, b + 7u * bs, &a);
		CHECK(nfill > 0);
		CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_PRIORITY));
		for (i = 0; nfill > 0 && i < 3; i++) {
			conf_req(&reqs[i], USTOR_BLOCK_READ, i, 1, b + (size_t)i * bs, conf_on_order, &o);
			reqs[i].prio = prio[i];
			CHECK_OK(ustor_block_submit(d, &reqs[i]));
		}
		conf_wait_count(t, &a.done, nfill);
		conf_wait_count(t, &o.n, nfill > 0 ? 3 : 0);
		t->hold_ordered(t->ctx, 0);
		if (nfill > 0) {
			CHECK_EQ(o.order[0], 2);
			CHECK_EQ(o.order[1], 1);
			CHECK_EQ(o.order[2], 0);
		}
		CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
	}

	if (t->hold != NULL) {
		const struct ustor_hal *hal = d->hal;
		unsigned spins = 0;

		memset(&o, 0, sizeof(o));
		o.base = reqs;
		a.done = 0;
		t->hold(t->ctx, 1);
		nfill = conf_fill(t, fill, b + 7u * bs, &a);
		CHECK(nfill > 0);
		CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_DEADLINE));
		conf_req(&reqs[0], USTOR_BLOCK_READ, 0, 1, b, conf_on_order, &o);
		reqs[0].deadline_ns = hal->now_ns(hal->ctx) + 50000u; /* 50 us */
		CHECK_OK(ustor_block_submit(d, &reqs[0]));
		/* The device stays full: only time passes (polls read the clock). */
		while (nfill > 0 && o.n == 0 && spins++ < 100000)
			ustor_block_poll(d, 0);
		t->hold(t->ctx, 0);
		CHECK_EQ(o.n, nfill > 0 ? 1u : 0u);
		if (nfill > 0)
			CHECK_ST(o.last, USTOR_ERR_TIMEOUT);
		conf_wait_count(t, &a.done, nfill);
		CHECK_EQ(a.errors, 0);
		CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
		CHECK_EQ(d->sched.held, 0);
		CHECK(!(d->flags & USTOR_BDEV_F_SCHED));
	}
}

/* Statistics count what was done (through the driver's hooks,
 * ustor_stats_on_submit/on_complete); a refused request is not counted. */
static void conf_stats(const struct conformance_target *t)
{
	static struct ustor_block_queue_stats qs[4];
	struct ustor_block_device *d = t->bdev;
	struct ustor_block_stats st;
	uint16_t nq = d->nqueues == 0 ? 1u : d->nqueues > 4 ? 4u : d->nqueues;
	uint32_t bs = d->block_size;
	uint8_t *b;
	int ro = (d->flags & USTOR_BDEV_F_READ_ONLY) != 0;

	if (d->nblocks < 64)
		return;
	b = t->buf(t->ctx, 4u * bs, 0, 0);
	CHECK_OK(ustor_block_stats_enable(d, qs, nq));
	CHECK_OK(ustor_block_read(d, 0, 1, b));
	CHECK_OK(ustor_block_read(d, 1, 2, b));
	if (!ro) {
		CHECK_OK(ustor_block_write(d, 48, 4, b));
		CHECK_OK(ustor_block_flush(d));
	}
	CHECK_ST(ustor_block_read(d, d->nblocks, 1, b), USTOR_ERR_OUT_OF_RANGE); /* never sent */
	CHECK_OK(ustor_block_stats_get(d, USTOR_STATS_ALL, &st));
	CHECK_EQ(st.read_ops, 2);
	CHECK_EQ(st.read_bytes, 3u * bs);
	CHECK_EQ(st.write_ops, ro ? 0 : 1);
	CHECK_EQ(st.write_bytes, ro ? 0 : 4u * bs);
	CHECK_EQ(st.other_ops, ro ? 0 : 1);
	CHECK_EQ(st.errors, 0);
	CHECK_EQ(st.depth, 0);
	CHECK(st.max_depth >= 1);
	CHECK(st.lat_max_ns >= st.lat_min_ns && st.lat_p50_ns <= st.lat_max_ns);
	CHECK_OK(ustor_block_stats_enable(d, NULL, 0));
}

void conformance_run(const struct conformance_target *t)
{
	conf_geometry(t);
	conf_boundaries(t);
	conf_write_read(t);
	conf_flush_discard_zeroes(t);
	conf_in_flight(t);
	conf_batching(t);
	conf_wait_full(t);
	conf_policies(t);
	conf_stats(t);
}
