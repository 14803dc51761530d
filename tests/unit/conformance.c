/* SPDX-License-Identifier: MIT */
#include "conformance.h"

#include <string.h>

#include "harness.h"

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

/* Many requests in flight at once, completed in whatever order the device
 * chooses, then verified. */
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

void conformance_run(const struct conformance_target *t)
{
	conf_geometry(t);
	conf_boundaries(t);
	conf_write_read(t);
	conf_flush_discard_zeroes(t);
	conf_in_flight(t);
}
