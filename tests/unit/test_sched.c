/* SPDX-License-Identifier: MIT */
/*
 * Block scheduler (src/block/sched.c) on an NVMe namespace of the model:
 * USTOR_REQ_F_WAIT on a full queue (FIFO, data intact, refused requests
 * completed with their error), the policies of ustor_block_set_policy
 * (round-robin, CPU, priority, deadline: held expiry and in-flight
 * cancellation), synchronous calls under every policy, and the scheduler's
 * ops swapped in only while needed. The model's deferred mode holds
 * completions so that the device queue (depth 4: 3 commands) stays full
 * until the test releases it. Priority and deadline order also on a
 * virtio-blk disk (virtio-mmio, 8-entry ring), filled until it says BUSY.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ustor/stats.h"
#include "ustor/virtio_blk.h"
#include "virtio_blk_model.h"

#define NREQ 16

struct track {
	struct ustor_block_req req[NREQ];
	int order[NREQ]; /* request indexes in completion order */
	ustor_status status[NREQ];
	unsigned calls[NREQ];
	unsigned n;
};

static void on_done(struct ustor_block_req *r)
{
	struct track *t = r->user;
	int i = (int)(r - t->req);

	t->calls[i]++;
	t->status[i] = r->status;
	if (t->n < NREQ)
		t->order[t->n++] = i;
}

static void start(struct fixture *f, uint32_t io_queues, uint32_t depth)
{
	fx_setup(f);
	f->cfg.io_queues = io_queues;
	f->cfg.io_queue_depth = depth;
	f->cfg.cmd_timeout_ms = 0; /* completions are withheld on purpose: no recovery */
	f->mcfg.max_io_queues = 8;
	CHECK_OK(fx_start(f));
}

static void req_rw(struct track *t, int i, uint8_t op, uint64_t lba, void *buf)
{
	struct ustor_block_req *r = &t->req[i];

	memset(r, 0, sizeof(*r));
	r->op = op;
	r->lba = lba;
	r->nblocks = 1;
	r->buf = buf;
	r->done = on_done;
	r->user = t;
}

/* Release the device and poll every queue until `want` completions. */
static void drain(struct fixture *f, struct ustor_block_device *d, struct track *t, unsigned want)
{
	unsigned spins = 0;

	while (t->n < want && spins++ < 100) {
		uint16_t q;

		ustor_nvme_model_process(&f->m);
		for (q = 0; q < d->nqueues; q++)
			ustor_block_poll(d, q);
	}
	CHECK_EQ(t->n, want);
}

/* More F_WAIT writes than the queue holds: all accepted, held in order,
 * sent as room appears, every one lands where it should. */
static void test_wait_full_queue(void)
{
	static struct fixture f;
	static struct track t;
	struct ustor_block_device *d;
	const struct ustor_block_ops *drv_ops;
	uint8_t *w;
	uint8_t *disk;
	uint64_t bytes;
	int i;

	start(&f, 1, 4);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	drv_ops = d->ops;
	memset(&t, 0, sizeof(t));
	w = fx_buf(&f, 11u * 512u, 0, 0);
	fx_pattern(w, 11u * 512u, 100, 512, 9);
	f.m.deferred = 1;
	for (i = 0; i < 10; i++) {
		req_rw(&t, i, USTOR_BLOCK_WRITE, 100u + (unsigned)i, w + (size_t)i * 512u);
		t.req[i].flags = USTOR_REQ_F_WAIT;
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
		CHECK_EQ(t.req[i].state, USTOR_REQ_STATE_ACTIVE);
	}
	CHECK_EQ(f.m.io_cmds[1], 3); /* three reached the device */
	CHECK_EQ(d->sched.held, 7);
	CHECK(d->flags & USTOR_BDEV_F_SCHED);
	CHECK(d->ops != drv_ops);
	/* Without F_WAIT a full queue still says BUSY; with it a new request
	 * queues behind those held. */
	req_rw(&t, 10, USTOR_BLOCK_WRITE, 110, w + 10u * 512u);
	CHECK_ST(ustor_block_submit(d, &t.req[10]), USTOR_ERR_BUSY);
	CHECK_EQ(t.req[10].state, USTOR_REQ_STATE_IDLE);
	t.req[10].flags = USTOR_REQ_F_WAIT;
	CHECK_OK(ustor_block_submit(d, &t.req[10]));
	CHECK_ST(ustor_block_submit(d, &t.req[10]), USTOR_ERR_IN_PROGRESS);
	CHECK_EQ(d->sched.held, 8);
	/* A poll that reaps nothing sends nothing. */
	CHECK_EQ(ustor_block_poll(d, 0), 0);
	CHECK_EQ(d->sched.held, 8);
	drain(&f, d, &t, 11);
	for (i = 0; i < 11; i++) {
		CHECK_EQ(t.order[i], i);
		CHECK_ST(t.status[i], USTOR_OK);
		CHECK_EQ(t.calls[i], 1);
	}
	CHECK_EQ(d->sched.held, 0);
	CHECK(!(d->flags & USTOR_BDEV_F_SCHED));
	CHECK(d->ops == drv_ops);
	disk = ustor_nvme_model_ns_data(&f.m, 1, &bytes);
	CHECK(memcmp(disk + 100u * 512u, w, 11u * 512u) == 0);
	f.m.deferred = 0;
	fx_finish(&f);
}

/* Holding is per queue: requests held for a full queue 0 do not hold up
 * an F_WAIT request for queue 1, which goes straight to the device. */
static void test_wait_per_queue(void)
{
	static struct fixture f;
	static struct track t;
	struct ustor_block_device *d;
	uint8_t *b;
	int i;

	start(&f, 2, 4);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 8u * 512u, 0, 0);
	f.m.deferred = 1;
	for (i = 0; i < 5; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		t.req[i].flags = USTOR_REQ_F_WAIT;
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	CHECK_EQ(d->sched.held, 2);
	CHECK_EQ(f.m.io_cmds[2], 3);
	req_rw(&t, 5, USTOR_BLOCK_READ, 5, b + 5u * 512u);
	t.req[5].flags = USTOR_REQ_F_WAIT;
	t.req[5].queue = 1;
	CHECK_OK(ustor_block_submit(d, &t.req[5]));
	CHECK_EQ(d->sched.held, 2);
	CHECK_EQ(f.m.io_cmds[2], 4);
	/* A poll of queue 1 does not send queue 0's requests. */
	ustor_nvme_model_process(&f.m);
	ustor_block_poll(d, 1);
	CHECK_EQ(t.n, 1);
	CHECK_EQ(t.order[0], 5);
	CHECK_EQ(d->sched.held, 2);
	drain(&f, d, &t, 6);
	CHECK_EQ(t.order[4], 3);
	CHECK_EQ(t.order[5], 4);
	f.m.deferred = 0;
	fx_finish(&f);
}

/* A held request the driver refuses when its turn comes (a buffer the HAL
 * cannot map) completes with that error; the others are not held up. */
static void test_wait_refused_when_sent(void)
{
	static struct fixture f;
	static struct track t;
	static struct ustor_block_queue_stats qs[1];
	struct ustor_block_stats st;
	struct ustor_block_device *d;
	uint8_t *b;
	uint8_t *plain;
	int i;

	start(&f, 1, 4);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	CHECK_OK(ustor_block_stats_enable(d, qs, 1));
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 6u * 512u, 0, 0);
	plain = fx_plain(&f, 512);
	f.m.deferred = 1;
	for (i = 0; i < 6; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i,
		       i == 4 ? (void *)plain : (void *)(b + (size_t)i * 512u));
		t.req[i].flags = USTOR_REQ_F_WAIT;
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	CHECK_EQ(d->sched.held, 3);
	drain(&f, d, &t, 6);
	CHECK_ST(t.status[4], USTOR_ERR_NOT_DMA_ABLE);
	CHECK_EQ(t.calls[4], 1);
	CHECK_EQ(t.req[4].state, USTOR_REQ_STATE_DONE);
	for (i = 0; i < 6; i++)
		if (i != 4)
			CHECK_ST(t.status[i], USTOR_OK);
	CHECK_EQ(f.m.io_cmds[2], 5);
	/* The refused one counts as an error even without driver hooks. */
	CHECK_OK(ustor_block_stats_get(d, 0, &st));
	CHECK(st.errors >= 1);
	CHECK_OK(ustor_block_stats_enable(d, NULL, 0));
	f.m.deferred = 0;
	fx_finish(&f);
}

static void test_round_robin_and_cpu(void)
{
	static struct fixture f;
	static struct track t;
	struct ustor_block_device *d;
	const struct ustor_block_ops *drv_ops;
	uint8_t *b;
	int i;

	start(&f, 3, 16);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	drv_ops = d->ops;
	CHECK_EQ(d->nqueues, 3);
	CHECK_ST(ustor_block_set_policy(d, (enum ustor_block_policy)9), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_set_policy(NULL, USTOR_SCHED_NONE), USTOR_ERR_INVALID_ARG);
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_ROUND_ROBIN));
	CHECK(d->ops != drv_ops);
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 8u * 512u, 0, 0);
	for (i = 0; i < 7; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		t.req[i].queue = 2; /* overridden */
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
		CHECK_EQ(t.req[i].queue, (unsigned)i % 3u);
	}
	drain(&f, d, &t, 7);
	/* The synchronous calls follow the policy too and still work. */
	fx_pattern(b, 512, 5, 512, 3);
	CHECK_OK(ustor_block_write(d, 5, 1, b));
	CHECK_OK(ustor_block_read(d, 5, 1, b + 512));
	CHECK(memcmp(b, b + 512, 512) == 0);

	/* CPU: queue = cpu_id modulo nqueues; needs hal->cpu_id. */
	f.h.cpu = 5;
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_CPU));
	memset(&t, 0, sizeof(t));
	req_rw(&t, 0, USTOR_BLOCK_READ, 0, b);
	CHECK_OK(ustor_block_submit(d, &t.req[0]));
	CHECK_EQ(t.req[0].queue, 2);
	f.h.cpu = 1;
	req_rw(&t, 1, USTOR_BLOCK_READ, 1, b + 512);
	CHECK_OK(ustor_block_submit(d, &t.req[1]));
	CHECK_EQ(t.req[1].queue, 1);
	drain(&f, d, &t, 2);
	f.h.hal.cpu_id = NULL;
	CHECK_ST(ustor_block_set_policy(d, USTOR_SCHED_CPU), USTOR_ERR_INVALID_ARG);
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
	CHECK(d->ops == drv_ops);
	CHECK(!(d->flags & USTOR_BDEV_F_SCHED));
	fx_finish(&f);
}

/* PRIORITY: what waits goes out by prio, then FIFO; what the device has
 * already taken is not overtaken. */
static void test_priority(void)
{
	static struct fixture f;
	static struct track t;
	static const uint8_t prio[10] = { 0, 0, 0, 0, 0, 2, 1, 2, 1, 0 };
	static const int want[10] = { 0, 1, 2, 5, 7, 6, 8, 3, 4, 9 };
	struct ustor_block_device *d;
	uint8_t *b;
	int i;

	start(&f, 1, 4);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_PRIORITY));
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 10u * 512u, 0, 0);
	f.m.deferred = 1;
	for (i = 0; i < 10; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		t.req[i].prio = prio[i]; /* no F_WAIT: the policy holds anyway */
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	CHECK_EQ(d->sched.held, 7);
	drain(&f, d, &t, 10);
	for (i = 0; i < 10; i++)
		CHECK_EQ(t.order[i], want[i]);
	f.m.deferred = 0;
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
	fx_finish(&f);
}

/* DEADLINE: earliest first, 0 last; a held request past its deadline fails
 * with TIMEOUT without reaching the device; a sent one past its deadline is
 * cancelled at the next poll and its callback runs once. */
static void test_deadline(void)
{
	static struct fixture f;
	static struct track t;
	struct ustor_block_device *d;
	uint64_t now;
	uint8_t *b;
	int i;

	start(&f, 1, 4);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_DEADLINE));
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 8u * 512u, 0, 0);
	f.m.deferred = 1;
	now = ustor_test_hal_time(&f.h);
	for (i = 0; i < 3; i++) { /* fill the device, no deadline */
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	CHECK_EQ(f.m.io_cmds[2], 3);
	req_rw(&t, 3, USTOR_BLOCK_READ, 3, b + 3u * 512u);
	t.req[3].deadline_ns = now + 1000000u; /* 1 ms */
	req_rw(&t, 4, USTOR_BLOCK_READ, 4, b + 4u * 512u);
	t.req[4].deadline_ns = now + 500000000u; /* 500 ms */
	req_rw(&t, 5, USTOR_BLOCK_READ, 5, b + 5u * 512u); /* none: last */
	req_rw(&t, 6, USTOR_BLOCK_READ, 6, b + 6u * 512u);
	t.req[6].deadline_ns = now + 200000000u; /* 200 ms */
	for (i = 3; i < 7; i++)
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	CHECK_EQ(d->sched.held, 4);
	ustor_test_hal_advance(&f.h, 2000000u); /* past the 1 ms deadline */
	CHECK_EQ(ustor_block_poll(d, 0), 1);
	CHECK_EQ(t.n, 1);
	CHECK_EQ(t.order[0], 3);
	CHECK_ST(t.status[3], USTOR_ERR_TIMEOUT);
	CHECK_EQ(f.m.io_cmds[2], 3); /* it never reached the device */
	/* Release the three: the rest go out by deadline, 6 then 4 then 5;
	 * 6 and 4 are watched in flight. */
	ustor_nvme_model_process(&f.m);
	ustor_block_poll(d, 0);
	CHECK_EQ(t.n, 4);
	CHECK_EQ(f.m.io_cmds[2], 6);
	CHECK(d->sched.watch != NULL);
	/* 6 misses its deadline in the device: cancelled by the next poll. */
	ustor_test_hal_advance(&f.h, 300000000u);
	ustor_block_poll(d, 0);
	CHECK_EQ(t.n, 5);
	CHECK_EQ(t.order[4], 6);
	CHECK_ST(t.status[6], USTOR_ERR_TIMEOUT);
	/* The device's late completion of 6 is ignored; 4 and 5 finish OK. */
	drain(&f, d, &t, 7);
	CHECK_EQ(t.order[5], 4);
	CHECK_EQ(t.order[6], 5);
	CHECK_ST(t.status[4], USTOR_OK);
	CHECK_ST(t.status[5], USTOR_OK);
	for (i = 0; i < 7; i++)
		CHECK_EQ(t.calls[i], 1);
	CHECK(d->sched.watch == NULL);
	CHECK_EQ(d->sched.held, 0);
	/* The caller's callback is back in place. */
	CHECK(t.req[4].done == on_done);
	CHECK(t.req[6].done == on_done);
	f.m.deferred = 0;
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
	fx_finish(&f);
}

/* A synchronous call whose request is still held when its time runs out
 * is taken back (TIMEOUT) and leaves nothing behind. */
static void test_sync_timeout_while_held(void)
{
	static struct fixture f;
	static struct track t;
	struct ustor_block_device *d;
	uint8_t *b;
	int i;

	start(&f, 1, 4);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_PRIORITY));
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 4u * 512u, 0, 0);
	f.m.deferred = 1;
	for (i = 0; i < 3; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	CHECK_ST(ustor_block_read(d, 3, 1, b + 3u * 512u), USTOR_ERR_TIMEOUT);
	CHECK_EQ(d->sched.held, 0);
	CHECK_EQ(f.m.io_cmds[2], 3);
	drain(&f, d, &t, 3);
	f.m.deferred = 0;
	CHECK_OK(ustor_block_read(d, 3, 1, b + 3u * 512u));
	CHECK_OK(ustor_block_set_policy(d, USTOR_SCHED_NONE));
	fx_finish(&f);
}

/* Batching: F_MORE submissions then a kick; and without a kick a poll
 * still completes them. ustor_block_kick with a driver that has no kick
 * (or a NULL device) is harmless. */
static void test_more_and_kick(void)
{
	static struct fixture f;
	static struct track t;
	struct ustor_block_device *d;
	uint8_t *b;
	int i;

	start(&f, 1, 64);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	memset(&t, 0, sizeof(t));
	b = fx_buf(&f, 8u * 512u, 0, 0);
	ustor_block_kick(NULL, 0);
	for (i = 0; i < 8; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		t.req[i].flags = USTOR_REQ_F_MORE;
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	ustor_block_kick(d, 0);
	drain(&f, d, &t, 8);
	memset(&t, 0, sizeof(t));
	for (i = 0; i < 8; i++) {
		req_rw(&t, i, USTOR_BLOCK_READ, (unsigned)i, b + (size_t)i * 512u);
		t.req[i].flags = USTOR_REQ_F_MORE;
		CHECK_OK(ustor_block_submit(d, &t.req[i]));
	}
	drain(&f, d, &t, 8); /* no kick: polls alone finish them */
	fx_finish(&f);
}

/* ---- virtio-blk -------------------------------------------------------- */

struct vdev {
	struct ustor_test_hal h;
	struct ustor_virtio_blk_model m;
	struct ustor_virtio_blk_model_cfg mcfg;
	struct ustor_virtio_blk_config cfg;
	struct ustor_virtio_blk *vb;
	struct ustor_block_device *d;
	uint8_t *buf;
};

static void vstart(struct vdev *v)
{
	memset(v, 0, sizeof(*v));
	ustor_test_hal_init(&v->h);
	if (harness_no_lock) {
		v->h.hal.lock = NULL;
		v->h.hal.unlock = NULL;
	}
	ustor_virtio_blk_model_cfg_default(&v->mcfg);
	v->mcfg.transport = USTOR_VIRTIO_BLK_MODEL_MMIO2;
	v->mcfg.queue_num_max = 8;
	ustor_virtio_blk_config_default(&v->cfg);
	v->vb = calloc(1, sizeof(*v->vb));
	if (v->vb == NULL || posix_memalign((void **)&v->buf, 4096, 64u * 512u) != 0)
		abort();
	memset(v->buf, 0, 64u * 512u);
	CHECK_OK(ustor_test_hal_register(&v->h, v->buf, 64u * 512u));
	CHECK_OK(ustor_virtio_blk_model_init(&v->m, &v->h, &v->mcfg));
	CHECK_OK(ustor_virtio_blk_init_mmio(v->vb, &v->h.hal, ustor_virtio_blk_model_mmio_base(&v->m),
					    &v->cfg));
	v->d = ustor_virtio_blk_bdev(v->vb);
	if (v->d == NULL)
		abort();
}

static void vfinish(struct vdev *v)
{
	CHECK_OK(ustor_virtio_blk_shutdown(v->vb));
	harness_check_violations(ustor_virtio_blk_model_violations(&v->m));
	ustor_virtio_blk_model_fini(&v->m);
	harness_check_leaks(&v->h);
	ustor_test_hal_unregister(&v->h, v->buf);
	free(v->buf);
	free(v->vb);
	ustor_test_hal_fini(&v->h);
}

static void vdrain(struct vdev *v, struct track *t, unsigned want)
{
	unsigned spins = 0;

	while (t->n < want && spins++ < 100) {
		ustor_virtio_blk_model_process(&v->m);
		ustor_block_poll(v->d, 0);
	}
	CHECK_EQ(t->n, want);
}

/* Reads of block 0 into the first 512 bytes until the ring is full;
 * returns how many went in (indexes 0..n-1 of t). */
static unsigned vfill(struct vdev *v, struct track *t)
{
	unsigned i;

	for (i = 0; i < NREQ - 4; i++) {
		ustor_status st;

		req_rw(t, (int)i, USTOR_BLOCK_READ, 0, v->buf);
		st = ustor_block_submit(v->d, &t->req[i]);
		if (st == USTOR_ERR_BUSY)
			return i;
		CHECK_OK(st);
	}
	CHECK(0); /* an 8-entry ring takes at most 8 (indirect) requests */
	return 0;
}

static void test_virtio_priority_and_deadline(void)
{
	static struct vdev v;
	static struct track t;
	static const uint8_t prio[4] = { 0, 1, 2, 1 };
	unsigned nfill;
	unsigned i;
	uint64_t now;

	vstart(&v);
	v.m.deferred = 1;
	v.m.reorder = 0;
	memset(&t, 0, sizeof(t));
	nfill = vfill(&v, &t);
	CHECK(nfill > 0 && nfill + 4 <= NREQ);
	CHECK_OK(ustor_block_set_policy(v.d, USTOR_SCHED_PRIORITY));
	for (i = 0; i < 4; i++) {
		req_rw(&t, (int)(nfill + i), USTOR_BLOCK_READ, 1u + i, v.buf + (1u + i) * 512u);
		t.req[nfill + i].prio = prio[i];
		CHECK_OK(ustor_block_submit(v.d, &t.req[nfill + i]));
	}
	CHECK_EQ(v.d->sched.held, 4);
	vdrain(&v, &t, nfill + 4);
	CHECK_EQ(t.order[nfill + 0], nfill + 2); /* urgent */
	CHECK_EQ(t.order[nfill + 1], nfill + 1); /* high, first come */
	CHECK_EQ(t.order[nfill + 2], nfill + 3); /* high */
	CHECK_EQ(t.order[nfill + 3], nfill + 0); /* normal */
	for (i = 0; i < nfill + 4; i++)
		CHECK_ST(t.status[i], USTOR_OK);

	memset(&t, 0, sizeof(t));
	CHECK_OK(ustor_block_set_policy(v.d, USTOR_SCHED_NONE)); /* fill up to BUSY */
	nfill = vfill(&v, &t);
	CHECK(nfill > 0);
	CHECK_OK(ustor_block_set_policy(v.d, USTOR_SCHED_DEADLINE));
	now = ustor_test_hal_time(&v.h);
	req_rw(&t, (int)nfill, USTOR_BLOCK_READ, 1, v.buf + 512u);
	t.req[nfill].deadline_ns = now + 1000000u;
	req_rw(&t, (int)nfill + 1, USTOR_BLOCK_READ, 2, v.buf + 1024u);
	t.req[nfill + 1].deadline_ns = now + 900000000u;
	CHECK_OK(ustor_block_submit(v.d, &t.req[nfill]));
	CHECK_OK(ustor_block_submit(v.d, &t.req[nfill + 1]));
	ustor_test_hal_advance(&v.h, 2000000u);
	ustor_block_poll(v.d, 0);
	CHECK_EQ(t.n, 1);
	CHECK_ST(t.status[nfill], USTOR_ERR_TIMEOUT);
	vdrain(&v, &t, nfill + 2);
	CHECK_ST(t.status[nfill + 1], USTOR_OK);
	CHECK_OK(ustor_block_set_policy(v.d, USTOR_SCHED_NONE));
	CHECK(!(v.d->flags & USTOR_BDEV_F_SCHED));
	v.m.deferred = 0;
	vfinish(&v);
}

int main(void)
{
	RUN(test_wait_full_queue);
	RUN(test_wait_per_queue);
	RUN(test_wait_refused_when_sent);
	RUN(test_round_robin_and_cpu);
	RUN(test_priority);
	RUN(test_deadline);
	RUN(test_sync_timeout_while_held);
	RUN(test_more_and_kick);
	RUN(test_virtio_priority_and_deadline);
	harness_no_lock = 1;
	RUN(test_virtio_priority_and_deadline);
	RUN(test_wait_full_queue);
	RUN(test_priority);
	RUN(test_deadline);
	return harness_done();
}
