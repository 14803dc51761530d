/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the NVMe device writes the I/O completion queue.
 *
 * A controller comes up against the NVMe model (tests/models) with two
 * I/O queue pairs. From then on the model still fetches and executes every
 * I/O command (data really moves), but it posts no I/O completion
 * (drop_completions, pointed at the SQ being rung): the fuzz input does,
 * by writing completion entries straight into the driver's CQs - any
 * command id, status, SQ head and phase, in any order, duplicated or never
 * - between submissions on either queue, polls, cancels, kicks and clock
 * jumps that the input also chooses.
 *
 * A spy on the I/O SQ tail doorbells reads each command the driver hands the
 * device, so the harness knows what a real device would: which command ids
 * are outstanding and which blocks of which request each one covers.
 *
 * Invariants beyond "no crash, nothing written outside a buffer" (ASan):
 *   - a request reported USTOR_OK had every one of its blocks covered by a
 *     command that the device completed with success status;
 *   - a done callback runs once, for a submitted request that was neither
 *     finished nor cancelled before;
 *   - at the end (the device turns good: every outstanding command gets a
 *     proper completion; then cancel; then shutdown) every request is
 *     finished or was cancelled, and a clean shutdown leaves no DMA memory
 *     allocated.
 */
#include <string.h>

#include "fuzz_common.h"
#include "nvme_model.h"
#include "ustor/block.h"
#include "ustor/stats.h"
#include "ustor/endian.h"
#include "ustor/nvme.h"

#define NCQE_NREQ 8
#define NCQE_REQ_BLOCKS 64u
#define NCQE_MAX_LIVE 1024
#define NCQE_NQ 2

struct ncqe_cmd {
	uint16_t cid;
	uint8_t opc;
	uint64_t slba;
	uint32_t nlb;
};

/* The device's view of one I/O queue pair (SQ n and CQ n). */
struct ncqe_dq {
	uint16_t sq_seen;     /* next SQ entry the spy has not read */
	uint16_t sq_head;     /* what the device reports as SQ head */
	uint16_t cq_tail;
	uint8_t cq_phase;
	struct ncqe_cmd live[NCQE_MAX_LIVE];
	unsigned nlive;
	/* Success entries posted for an id with no command outstanding: the
	 * driver cannot tell one from a real completion once it issues a
	 * command with that id, so such a command counts as completed. */
	uint8_t stale_ok[65536];
};

struct ncqe_req {
	struct ustor_block_req req;
	uint8_t *buf;
	int active;           /* submitted, not finished or cancelled */
	unsigned done_calls;
	uint8_t ok[NCQE_REQ_BLOCKS]; /* block completed with success by the device */
};

struct ncqe {
	struct ustor_test_hal h;
	struct ustor_nvme_model m;
	struct ustor_nvme_ctrl ctrl;
	struct ustor_block_device *bdev;
	struct ustor_block_queue_stats stats[2];
	int stats_on;
	struct ustor_test_hal_mmio *win;
	void (*model_write32)(void *dev, uint32_t off, uint32_t val);
	struct ncqe_dq dq[NCQE_NQ];
	unsigned nq;          /* I/O queues the driver created (1..NCQE_NQ) */
	struct ncqe_req r[NCQE_NREQ];
	uint32_t gen; /* write data generation */
};

/* One harness at a time (the spy is a plain callback without context). */
static struct ncqe *ncqe_cur;

static struct ustor_nvme_queue *ncqe_q(struct ncqe *x, unsigned qi)
{
	return &x->ctrl.io[qi];
}

/* Record a command the driver gave the device. */
static void ncqe_credit(struct ncqe *x, const struct ncqe_cmd *c)
{
	uint64_t idx = c->slba / NCQE_REQ_BLOCKS;
	uint64_t b;

#ifdef FUZZ_SELFTEST_NO_CREDIT /* proves the invariant can fail */
	return;
#endif
	if ((c->opc != 0x01 && c->opc != 0x02) || idx >= NCQE_NREQ || !x->r[idx].active)
		return;
	for (b = c->slba; b < c->slba + c->nlb && b < (idx + 1) * NCQE_REQ_BLOCKS; b++)
		x->r[idx].ok[b - idx * NCQE_REQ_BLOCKS] = 1;
}

static void ncqe_fetch(struct ncqe *x, struct ncqe_dq *dq, const uint8_t *sqe)
{
	struct ncqe_cmd c;
	unsigned i;

	c.opc = sqe[0];
	c.cid = (uint16_t)(sqe[2] | (sqe[3] << 8));
	c.slba = (uint64_t)ustor_le32_to_cpu(*(const uint32_t *)(const void *)(sqe + 40)) |
		 ((uint64_t)ustor_le32_to_cpu(*(const uint32_t *)(const void *)(sqe + 44)) << 32);
	c.nlb = (ustor_le32_to_cpu(*(const uint32_t *)(const void *)(sqe + 48)) & 0xffffu) + 1u;
	if (dq->stale_ok[c.cid] != 0) {
		/* A success entry with this id already waits in the CQ: the
		 * driver will take it as this command's completion, so the
		 * command is complete as far as the device is concerned. */
		dq->stale_ok[c.cid]--;
		ncqe_credit(x, &c);
		for (i = 0; i < dq->nlive; i++)
			if (dq->live[i].cid == c.cid)
				dq->live[i] = dq->live[--dq->nlive];
		return;
	}
	for (i = 0; i < dq->nlive; i++)
		if (dq->live[i].cid == c.cid) {
			dq->live[i] = c; /* the id is in use again: the old one is over */
			return;
		}
	if (dq->nlive < NCQE_MAX_LIVE)
		dq->live[dq->nlive++] = c;
}

/* Spy on BAR0 writes: read new SQ n entries before the model fetches them. */
static void ncqe_write32(void *dev, uint32_t off, uint32_t val)
{
	struct ncqe *x = ncqe_cur;
	unsigned qi;

	/* The model completes into the CQ of the SQ being rung: drop those
	 * (the input writes I/O completions), keep the admin queue's. */
	if (off >= 0x1008u && off < 0x1000u + 8u * (NCQE_NQ + 1u) && (off & 7u) == 0)
		x->m.drop_qid = (int)((off - 0x1000u) / 8u);
	for (qi = 0; qi < NCQE_NQ; qi++) {
		struct ncqe_dq *dq = &x->dq[qi];
		struct ustor_nvme_queue *q = ncqe_q(x, qi);

		if (off == 0x14u && !(val & 1u)) {
			/* CC.EN = 0: a controller reset drops every queue and
			 * every command; re-created queues start empty. */
			dq->sq_seen = 0;
			dq->sq_head = 0;
			dq->cq_tail = 0;
			dq->cq_phase = 1;
			dq->nlive = 0;
			memset(dq->stale_ok, 0, sizeof(dq->stale_ok));
		}
		/* SQ y tail doorbell at 1000h + 2y * 4 (CAP.DSTRD 0) */
		if (off == 0x1000u + 8u * (qi + 1u) && q->ring.sq != NULL && val < q->ring.depth) {
			while (dq->sq_seen != val) {
				ncqe_fetch(x, dq, q->ring.sq + (size_t)dq->sq_seen * 64u);
				dq->sq_seen = (uint16_t)((dq->sq_seen + 1u) % q->ring.depth);
			}
			dq->sq_head = (uint16_t)val; /* the model fetches all of it now */
		}
	}
	x->model_write32(dev, off, val);
}

static void ncqe_done(struct ustor_block_req *req)
{
	struct ncqe_req *r = req->user;
	uint32_t i;

	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "done: req %u queue %u op %u lba %llu n %u: %s\n",
			(unsigned)(r - ncqe_cur->r), (unsigned)req->queue, (unsigned)req->op,
			(unsigned long long)req->lba, (unsigned)req->nblocks,
			ustor_status_name(req->status));
	FUZZ_ASSERT(r->active);
	FUZZ_ASSERT(r->done_calls == 0);
	r->done_calls++;
	r->active = 0;
	if (req->status == USTOR_OK) {
		const uint8_t *disk = ustor_nvme_model_ns_data(&ncqe_cur->m, 1, NULL);

		for (i = 0; i < req->nblocks; i++)
			FUZZ_ASSERT(r->ok[i]);
		/* Only this request's slot writes its LBA range: a read that
		 * succeeded holds what the namespace holds. */
		if (req->op == USTOR_BLOCK_READ && disk != NULL)
			FUZZ_ASSERT(memcmp(r->buf, disk + req->lba * 512u, (size_t)req->nblocks * 512u) == 0);
	}
}

/* Write one completion entry at the device's CQ tail. */
static void ncqe_post(struct ncqe *x, unsigned qi, uint16_t cid, uint16_t status, uint16_t sqhd,
		      int flip, int stay)
{
	struct ustor_nvme_queue *q = ncqe_q(x, qi);
	struct ncqe_dq *dq = &x->dq[qi];
	volatile struct ustor_nvme_cqe *e;
	unsigned i;
	int found = 0;
	int old_phase;

	if (q->ring.cq == NULL || q->ring.depth == 0)
		return;
	if (dq->cq_tail >= q->ring.depth)
		dq->cq_tail = 0;
	e = &q->ring.cq[dq->cq_tail];
	e->dw0 = 0;
	e->dw1 = 0;
	e->sqhd = ustor_cpu_to_le16(sqhd);
	e->sqid = ustor_cpu_to_le16((uint16_t)(qi + 1u));
	e->cid = ustor_cpu_to_le16(cid);
	e->status = ustor_cpu_to_le16((uint16_t)((status & 0xfffeu) | ((dq->cq_phase ^ (flip & 1)) & 1u)));
	/* An entry whose phase is not the one the driver expects at this slot
	 * (its own lap, or the next one behind its head) is not new to it and
	 * completes nothing; the driver stops there until it is overwritten.
	 * The harness used to end the command anyway, then took a later
	 * success for the same id as stale and never credited it
	 * (regress/nvme_cqe/old-phase-entry-completes-nothing). */
	old_phase = ((dq->cq_phase ^ (unsigned)flip) & 1u) !=
		    (dq->cq_tail >= q->ring.cq_head ? q->ring.cq_phase : q->ring.cq_phase ^ 1u);
	for (i = 0; !old_phase && i < dq->nlive; i++) {
		if (dq->live[i].cid != cid)
			continue;
		found = 1;
		/* Success is SCT 0, SC 0 (bits 11:1); CRD, M and DNR do not
		 * change that. */
		if ((status & 0x0ffeu) == 0)
			ncqe_credit(x, &dq->live[i]);
		dq->live[i] = dq->live[--dq->nlive];
		break;
	}
	if (!found && !old_phase && (status & 0x0ffeu) == 0 && dq->stale_ok[cid] < 255)
		dq->stale_ok[cid]++;
	if (!stay && ++dq->cq_tail == q->ring.depth) {
		dq->cq_tail = 0;
		dq->cq_phase ^= 1u;
	}
}

static void ncqe_submit(struct ncqe *x, struct fuzz_in *in, uint8_t op)
{
	struct ncqe_req *r = &x->r[fuzz_u8(in) % NCQE_NREQ];
	uint8_t nb = fuzz_u8(in);
	uint8_t fl = fuzz_u8(in);
	ustor_status st;

	if (r->active)
		return;
	memset(&r->req, 0, sizeof(r->req));
	memset(r->ok, 0, sizeof(r->ok));
	r->req.op = op;
	r->req.lba = (uint64_t)(r - x->r) * NCQE_REQ_BLOCKS;
	r->req.nblocks = 1u + nb % NCQE_REQ_BLOCKS;
	r->req.flags = (uint8_t)(fl & (USTOR_REQ_F_FUA | USTOR_REQ_F_MORE | USTOR_REQ_F_WAIT));
	r->req.queue = (uint16_t)((fl >> 3) & 1u);
	r->req.buf = r->buf;
	if (op == USTOR_BLOCK_WRITE) { /* new data each time */
		uint32_t i;

		x->gen++;
		for (i = 0; i < r->req.nblocks * 512u; i++)
			r->buf[i] = (uint8_t)(x->gen * 31u + i + (i >> 9));
	}
	r->req.done = ncqe_done;
	r->req.user = r;
	r->done_calls = 0;
	r->active = 1;
	st = ustor_block_submit(x->bdev, &r->req);
	if (st != USTOR_OK) {
		FUZZ_ASSERT(r->done_calls == 0);
		r->active = 0;
	}
}

static void ncqe_cancel(struct ncqe *x, struct ncqe_req *r)
{
	ustor_status st;
	uint32_t i;

	if (!r->active)
		return;
	st = x->bdev->ops->cancel(x->bdev, &r->req);
	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "cancel: req %u queue %u: %s, state %u\n", (unsigned)(r - x->r),
			(unsigned)r->req.queue, ustor_status_name(st), (unsigned)r->req.state);
	FUZZ_ASSERT(r->done_calls == 0);
	r->active = 0;
	if (st == USTOR_OK)
		for (i = 0; i < r->req.nblocks; i++)
			FUZZ_ASSERT(r->ok[i]);
}

/* The device turns good: a proper completion for every outstanding
 * command, then polls. */
static void ncqe_drain(struct ncqe *x)
{
	unsigned round, qi;

	for (qi = 0; qi < x->nq; qi++) {
		struct ustor_nvme_queue *q = ncqe_q(x, qi);
		struct ncqe_dq *dq = &x->dq[qi];

		for (round = 0; round < 4 && dq->nlive != 0; round++) {
			dq->cq_tail = q->ring.cq_head;
			dq->cq_phase = q->ring.cq_phase;
			while (dq->nlive != 0) {
				ncqe_post(x, qi, dq->live[0].cid, 0, dq->sq_head, 0, 0);
				ustor_block_poll(x->bdev, (uint16_t)qi);
			}
			ustor_block_poll(x->bdev, (uint16_t)qi);
		}
	}
}

static int ncqe_one(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct ncqe *x = calloc(1, sizeof(*x));
	struct ustor_nvme_model_cfg mcfg;
	struct ustor_nvme_config cfg;
	uint8_t setup = fuzz_u8(&in);
	static const uint16_t depths[4] = { 4, 8, 16, 64 };
	ustor_status st;
	unsigned i, steps;

	if (x == NULL)
		abort();
	ncqe_cur = x;
	ustor_test_hal_init(&x->h);
	if (setup & 1u) { /* single CPU: the lock-less paths */
		x->h.hal.lock = NULL;
		x->h.hal.unlock = NULL;
	}
	ustor_nvme_model_cfg_default(&mcfg);
	mcfg.no_copy = (setup & 0x20u) != 0;
	ustor_nvme_config_default(&cfg);
	cfg.use_pci_cfg = 1;
	cfg.pci_addr = mcfg.pci_addr;
	cfg.io_queues = NCQE_NQ;
	cfg.io_queue_depth = depths[(setup >> 1) & 3u];
	cfg.io_retries = (setup & 0x08u) ? 2 : 0;
	cfg.max_transfer_bytes = (setup & 0x10u) ? 4096 : 0;
	if (ustor_nvme_model_init(&x->m, &x->h, &mcfg) != USTOR_OK)
		abort();
	st = ustor_nvme_ctrl_init(&x->ctrl, &x->h.hal, ustor_nvme_model_regs(&x->m), &cfg);
	FUZZ_ASSERT(st == USTOR_OK);
	x->bdev = ustor_nvme_ns_bdev(&x->ctrl, 0);
	FUZZ_ASSERT(x->bdev != NULL);
	x->nq = x->ctrl.nio < NCQE_NQ ? x->ctrl.nio : NCQE_NQ;
	FUZZ_ASSERT(x->nq >= 1);

	if (setup & 0x40u) { /* statistics on: latencies of hostile completions */
		FUZZ_ASSERT(ustor_block_stats_enable(x->bdev, x->stats, 2) == USTOR_OK);
		x->stats_on = 1;
	}
	x->win = fuzz_window(&x->h, ustor_nvme_model_regs(&x->m));
	x->model_write32 = x->win->write32;
	x->win->write32 = ncqe_write32;
	x->m.drop_completions = ~0u;
	x->m.drop_qid = 1; /* the spy points it at the SQ being rung */
	for (i = 0; i < NCQE_NQ; i++)
		x->dq[i].cq_phase = 1;
	for (i = 0; i < NCQE_NREQ; i++) {
		x->r[i].buf = calloc(NCQE_REQ_BLOCKS, 512);
		if (x->r[i].buf == NULL ||
		    ustor_test_hal_register(&x->h, x->r[i].buf, NCQE_REQ_BLOCKS * 512u) != USTOR_OK)
			abort();
	}

	for (steps = 0; steps < 4096 && fuzz_more(&in); steps++) {
		uint8_t op = fuzz_u8(&in);

		switch (op % 10u) {
		case 0:
			ncqe_submit(x, &in, USTOR_BLOCK_READ);
			break;
		case 1:
			ncqe_submit(x, &in, USTOR_BLOCK_WRITE);
			break;
		case 2:
		case 3: { /* a completion entry */
			uint8_t sel = fuzz_u8(&in);
			uint8_t ssel = fuzz_u8(&in);
			uint8_t hsel = fuzz_u8(&in);
			uint8_t fl = fuzz_u8(&in);
			unsigned qi = ((fl >> 2) & 1u) % x->nq;
			struct ncqe_dq *dq = &x->dq[qi];
			uint16_t cid = sel < 0xc0 && dq->nlive != 0 ? dq->live[sel % dq->nlive].cid
								   : fuzz_u16(&in);
			uint16_t status = ssel < 0xa0 ? 0 : fuzz_u16(&in);
			uint16_t sqhd = hsel < 0xe0 ? dq->sq_head : fuzz_u16(&in);

			ncqe_post(x, qi, cid, status, sqhd, fl & 1, (fl >> 1) & 1);
			break;
		}
		case 4:
		case 5:
			ustor_block_poll(x->bdev, (uint16_t)(op >> 7));
			break;
		case 6:
			ncqe_cancel(x, &x->r[fuzz_u8(&in) % NCQE_NREQ]);
			break;
		case 7:
			ustor_test_hal_advance(&x->h, (uint64_t)fuzz_u8(&in) * 100000000u);
			break;
		case 8:
			if (x->bdev->ops->kick != NULL)
				x->bdev->ops->kick(x->bdev, (uint16_t)(op >> 7));
			break;
		default:
			if (op & 0x80u) {
				(void)ustor_nvme_ctrl_check(&x->ctrl);
				if (x->stats_on) {
					struct ustor_block_stats bs;

					FUZZ_ASSERT(ustor_block_stats_get(x->bdev, USTOR_STATS_ALL, &bs) ==
						    USTOR_OK);
					FUZZ_ASSERT(bs.lat_min_ns <= bs.lat_max_ns || bs.read_ops + bs.write_ops +
						    bs.other_ops + bs.errors + bs.timeouts == 0);
				}
			} else { /* where the driver will look next */
				unsigned qi = ((op >> 4) & 1u) % x->nq;

				x->dq[qi].cq_tail = ncqe_q(x, qi)->ring.cq_head;
				x->dq[qi].cq_phase = ncqe_q(x, qi)->ring.cq_phase;
			}
			break;
		}
	}

	for (i = 0; i < x->nq && x->bdev->ops->kick != NULL; i++)
		x->bdev->ops->kick(x->bdev, (uint16_t)i);
	/* Either the device turns good and what is left is cancelled, or
	 * (setup bit 7) shutdown must end every outstanding request itself. */
	if (!(setup & 0x80u)) {
		ncqe_drain(x);
		for (i = 0; i < NCQE_NREQ; i++)
			ncqe_cancel(x, &x->r[i]);
	}
	if (x->stats_on && !(setup & 0x80u)) { /* nothing is in flight any more */
		struct ustor_block_stats bs;

		FUZZ_ASSERT(ustor_block_stats_get(x->bdev, USTOR_STATS_ALL, &bs) == USTOR_OK);
		if (bs.depth != 0)
			fprintf(stderr, "stats depth %u at the end\n", (unsigned)bs.depth);
		FUZZ_ASSERT(bs.depth == 0);
	}
	st = ustor_nvme_ctrl_shutdown(&x->ctrl);
	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "shutdown: %s\n", ustor_status_name(st));
	for (i = 0; i < NCQE_NREQ; i++) {
		FUZZ_ASSERT(x->r[i].done_calls <= 1);
		FUZZ_ASSERT(!x->r[i].active);
	}
	x->win->write32 = x->model_write32;
	ustor_nvme_model_fini(&x->m);
	if (st == USTOR_OK)
		FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	for (i = 0; i < NCQE_NREQ; i++) {
		ustor_test_hal_unregister(&x->h, x->r[i].buf);
		free(x->r[i].buf);
	}
	ustor_test_hal_fini(&x->h);
	ncqe_cur = NULL;
	free(x);
	return 0;
}

FUZZ_ENTRY(ncqe_one)
