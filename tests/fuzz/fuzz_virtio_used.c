/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the virtio-blk device writes the used ring.
 *
 * The driver comes up over virtio-mmio (version 2, or legacy version 1)
 * against the fake device in fake_vmmio.h, with a queue size, feature bits
 * and seg_max the input picks. After bring-up the device completes nothing
 * by itself: the input posts used elements - any id, any length, any jump
 * of the used index, with the chain's status byte left OK or overwritten -
 * between submissions (reads, writes, flushes), polls, cancels, clock
 * jumps, configuration-change and needs-reset interrupts, and checks.
 *
 * Invariants beyond "no crash, nothing written outside a buffer" (ASan):
 *   - every chain the driver makes available maps onto memory it owns,
 *     with a 16-byte header and a status byte, and names a head < size
 *     (checked by the fake);
 *   - a read or write reported USTOR_OK had every sector covered by a
 *     chain for which the device published a used element while its
 *     status byte said OK;
 *   - a done callback runs once, for a request submitted and neither
 *     finished nor cancelled;
 *   - at the end (the device turns good, then cancel, then shutdown) no
 *     request is left active, and a clean shutdown frees all DMA memory.
 *
 * Split ring only; once the packed ring exists the fake gets a packed
 * walker and this target a setup bit to offer VIRTIO_F_RING_PACKED.
 */
#include <string.h>

#include "fake_vmmio.h"
#include "fuzz_common.h"
#include "ustor/block.h"
#include "ustor/stats.h"
#include "ustor/virtio_blk.h"

#define VU_NREQ 8
#define VU_REQ_SECTORS 64u

struct vu_req {
	struct ustor_block_req req;
	uint8_t *buf;
	int active;
	unsigned done_calls;
	uint8_t ok[VU_REQ_SECTORS];
};

struct vu {
	struct ustor_test_hal h;
	struct fvm d;
	struct ustor_virtio_blk vb;
	struct ustor_block_device *bdev;
	struct ustor_block_queue_stats stats[2];
	int stats_on;
	struct vu_req r[VU_NREQ];
};

static void vu_credit(struct vu *x, const struct fvm_chain *c)
{
	uint64_t idx = c->sector / VU_REQ_SECTORS;
	uint64_t s;

#ifdef FUZZ_SELFTEST_NO_CREDIT /* proves the invariant can fail */
	return;
#endif
	if ((c->type != 0 && c->type != 1) || idx >= VU_NREQ || !x->r[idx].active ||
	    c->status == NULL || *c->status != 0)
		return;
	for (s = c->sector; s < c->sector + c->data_bytes / 512u && s < (idx + 1) * VU_REQ_SECTORS;
	     s++)
		x->r[idx].ok[s - idx * VU_REQ_SECTORS] = 1;
}

static void vu_on_chain(struct fvm *d, struct fvm_chain *c)
{
	/* A used element for this head is already published or in the ring:
	 * the driver will take it as this chain's, so it counts as this
	 * chain's completion (and the device's next element for the head
	 * belongs to the head's next chain). */
	if (d->stale_ok[c->head] != 0) {
		d->stale_ok[c->head]--;
		vu_credit(d->user, c);
		c->live = 0;
	}
}

static void vu_on_used(struct fvm *d, const struct fvm_chain *c)
{
	vu_credit(d->user, c);
}

static void vu_done(struct ustor_block_req *req)
{
	struct vu_req *r = req->user;
	uint32_t i;

	FUZZ_ASSERT(r->active);
	FUZZ_ASSERT(r->done_calls == 0);
	r->done_calls++;
	r->active = 0;
	if (req->status == USTOR_OK && (req->op == USTOR_BLOCK_READ || req->op == USTOR_BLOCK_WRITE))
		for (i = 0; i < req->nblocks; i++)
			FUZZ_ASSERT(r->ok[i]);
}

static void vu_submit(struct vu *x, struct fuzz_in *in, uint8_t op)
{
	struct vu_req *r = &x->r[fuzz_u8(in) % VU_NREQ];
	uint8_t nb = fuzz_u8(in);
	uint8_t fl = fuzz_u8(in);
	ustor_status st;

	if (r->active)
		return;
	memset(&r->req, 0, sizeof(r->req));
	memset(r->ok, 0, sizeof(r->ok));
	r->req.op = op;
	if (op == USTOR_BLOCK_READ || op == USTOR_BLOCK_WRITE) {
		r->req.lba = (uint64_t)(r - x->r) * VU_REQ_SECTORS;
		r->req.nblocks = 1u + nb % VU_REQ_SECTORS;
		r->req.buf = r->buf;
	}
	r->req.flags = (uint8_t)(fl & (USTOR_REQ_F_FUA | USTOR_REQ_F_MORE | USTOR_REQ_F_WAIT));
	r->req.done = vu_done;
	r->req.user = r;
	r->done_calls = 0;
	r->active = 1;
	st = ustor_block_submit(x->bdev, &r->req);
	if (st != USTOR_OK) {
		FUZZ_ASSERT(r->done_calls == 0);
		r->active = 0;
	}
}

static void vu_cancel(struct vu *x, struct vu_req *r)
{
	ustor_status st;
	uint32_t i;

	if (!r->active)
		return;
	st = x->bdev->ops->cancel(x->bdev, &r->req);
	FUZZ_ASSERT(r->done_calls == 0);
	r->active = 0;
	if (st == USTOR_OK && (r->req.op == USTOR_BLOCK_READ || r->req.op == USTOR_BLOCK_WRITE))
		for (i = 0; i < r->req.nblocks; i++)
			FUZZ_ASSERT(r->ok[i]);
}

/* The k-th live chain's head, or -1 if none is live. */
static int vu_live_head(struct vu *x, unsigned k)
{
	unsigned n = fvm_qsize(&x->d);
	unsigned i, live = 0;

	for (i = 0; i < n; i++)
		live += x->d.chains[i].live;
	if (live == 0)
		return -1;
	k %= live;
	for (i = 0; i < n; i++)
		if (x->d.chains[i].live && k-- == 0)
			return (int)i;
	return -1;
}

static void vu_post(struct vu *x, struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	uint8_t lsel = fuzz_u8(in);
	uint8_t ssel = fuzz_u8(in);
	uint8_t bsel = fuzz_u8(in);
	int head = sel < 0xc0 ? vu_live_head(x, sel) : -1;
	uint32_t id = head >= 0 ? (uint32_t)head : (sel < 0xe0 ? fuzz_u16(in) : fuzz_u32(in));
	struct fvm_chain *c = head >= 0 ? &x->d.chains[head] : NULL;
	uint32_t len = lsel < 0xc0 && c != NULL ? c->in_len : fuzz_u32(in);
	uint16_t bump = bsel < 0xf0 ? 1 : fuzz_u16(in);

	if (ssel >= 0xc0 && c != NULL && c->status != NULL)
		*c->status = fuzz_u8(in); /* IOERR, UNSUPP, or nonsense */
	fvm_post_used(&x->d, id, len, bump);
}

static void vu_drain(struct vu *x)
{
	unsigned round, i;

	x->d.auto_complete = 1;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < fvm_qsize(&x->d); i++)
			if (x->d.chains[i].live)
				fvm_post_used(&x->d, i, x->d.chains[i].in_len, 1);
		ustor_block_poll(x->bdev, 0);
		(void)ustor_virtio_blk_check(&x->vb);
		ustor_block_poll(x->bdev, 0);
	}
}

static int vu_one(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct vu *x = calloc(1, sizeof(*x));
	struct ustor_virtio_blk_config cfg;
	uint8_t setup = fuzz_u8(&in);
	uint8_t feat = fuzz_u8(&in);
	uint8_t segs = fuzz_u8(&in);
	static const uint16_t qmax[4] = { 4, 8, 16, 64 };
	ustor_status st;
	unsigned i, steps;

	if (x == NULL)
		abort();
	ustor_test_hal_init(&x->h);
	if (setup & 1u) {
		x->h.hal.lock = NULL;
		x->h.hal.unlock = NULL;
	}
	fvm_attach(&x->d, &x->h);
	x->d.user = x;
	x->d.on_chain = vu_on_chain;
	x->d.on_used = vu_on_used;
	x->d.version = (setup & 2u) ? 1 : 2;
	x->d.queue_num_max = qmax[(setup >> 2) & 3u];
	x->d.features = (x->d.version == 2 ? 1ull << 32 : 0) |
			((feat & 1u) ? 1ull << 9 : 0) |   /* FLUSH */
			((feat & 2u) ? 1ull << 28 : 0) |  /* INDIRECT_DESC */
			((feat & 4u) ? 1ull << 29 : 0) |  /* EVENT_IDX */
			((feat & 8u) ? 1ull << 1 : 0) |   /* SIZE_MAX */
			((feat & 16u) ? 1ull << 2 : 0);   /* SEG_MAX */
	x->d.config[0] = 0x00; /* capacity 2048 sectors */
	x->d.config[1] = 0x08;
	x->d.config[8 + 1] = 0x10; /* size_max 4096 */
	x->d.config[12] = (uint8_t)(1u + segs % 8u); /* seg_max */
	x->d.auto_complete = 1; /* bring-up (GET_ID) sees a good device */
	for (i = 0; i < VU_NREQ; i++) {
		x->r[i].buf = calloc(VU_REQ_SECTORS, 512);
		if (x->r[i].buf == NULL ||
		    ustor_test_hal_register(&x->h, x->r[i].buf, VU_REQ_SECTORS * 512u) != USTOR_OK)
			abort();
	}
	ustor_virtio_blk_config_default(&cfg);
	cfg.queue_size = 1024;
	cfg.max_transfer_bytes = (setup & 0x10u) ? 8192 : 0;
	st = ustor_virtio_blk_init_mmio(&x->vb, &x->h.hal, x->d.token, &cfg);
	FUZZ_ASSERT(st == USTOR_OK);
	x->bdev = ustor_virtio_blk_bdev(&x->vb);
	x->d.auto_complete = 0;
	if (setup & 0x20u) { /* statistics on: latencies of hostile completions */
		FUZZ_ASSERT(ustor_block_stats_enable(x->bdev, x->stats, 2) == USTOR_OK);
		x->stats_on = 1;
	}

	for (steps = 0; steps < 4096 && fuzz_more(&in); steps++) {
		uint8_t op = fuzz_u8(&in);

		switch (op % 12u) {
		case 0:
			vu_submit(x, &in, USTOR_BLOCK_READ);
			break;
		case 1:
			vu_submit(x, &in, USTOR_BLOCK_WRITE);
			break;
		case 2:
			vu_submit(x, &in, USTOR_BLOCK_FLUSH);
			break;
		case 3:
		case 4:
			vu_post(x, &in);
			break;
		case 5:
		case 6:
			ustor_block_poll(x->bdev, 0);
			break;
		case 7:
			vu_cancel(x, &x->r[fuzz_u8(&in) % VU_NREQ]);
			break;
		case 8:
			ustor_test_hal_advance(&x->h, (uint64_t)fuzz_u8(&in) * 100000000u);
			break;
		case 9:
			(void)ustor_virtio_blk_check(&x->vb);
			if (x->stats_on) {
				struct ustor_block_stats bs;

				FUZZ_ASSERT(ustor_block_stats_get(x->bdev, USTOR_STATS_ALL, &bs) ==
					    USTOR_OK);
			}
			break;
		case 10:
			if (x->bdev->ops->kick != NULL)
				x->bdev->ops->kick(x->bdev, 0);
			break;
		default:
			switch (op >> 6) {
			case 0: /* configuration change */
				x->d.config_gen++;
				x->d.isr |= 2u;
				break;
			case 1: /* the device wants a reset */
				x->d.status |= 0x40u;
				x->d.isr |= 2u;
				break;
			default:
				x->d.auto_complete = !x->d.auto_complete;
				break;
			}
			break;
		}
	}

	if (x->bdev->ops->kick != NULL)
		x->bdev->ops->kick(x->bdev, 0);
	x->d.status &= ~0x40u;
	/* Either the device turns good and what is left is cancelled, or
	 * (setup bit 6) shutdown must end every outstanding request itself. */
	if (!(setup & 0x40u)) {
		vu_drain(x);
		for (i = 0; i < VU_NREQ; i++)
			vu_cancel(x, &x->r[i]);
	}
	if (x->stats_on && !(setup & 0x40u)) { /* nothing is in flight any more */
		struct ustor_block_stats bs;

		FUZZ_ASSERT(ustor_block_stats_get(x->bdev, USTOR_STATS_ALL, &bs) == USTOR_OK);
		FUZZ_ASSERT(bs.depth == 0);
	}
	st = ustor_virtio_blk_shutdown(&x->vb);
	for (i = 0; i < VU_NREQ; i++)
		FUZZ_ASSERT(!x->r[i].active && x->r[i].done_calls <= 1);
	if (st == USTOR_OK)
		FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	fvm_detach(&x->d);
	for (i = 0; i < VU_NREQ; i++) {
		ustor_test_hal_unregister(&x->h, x->r[i].buf);
		free(x->r[i].buf);
	}
	ustor_test_hal_fini(&x->h);
	free(x);
	return 0;
}

FUZZ_ENTRY(vu_one)
