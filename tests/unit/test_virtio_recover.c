/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk recovery against the model: a device that stops completing
 * (reset, re-initialisation, re-submission), DEVICE_NEEDS_RESET, surprise
 * removal (all-ones), the reset limit, an explicit reset. Each test counts
 * the requests in flight at the fault and checks that every done callback
 * ran exactly once, with a truthful status, and that re-submitted reads
 * and writes moved the right data. Runs on PCI (split and packed rings),
 * virtio-mmio 2 and legacy virtio-mmio 1.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ustor/virtio_blk.h"
#include "virtio_blk_model.h"
#include "../../src/virtio/virtio_internal.h" /* ustor_vblk_queues_free */

#define NREQ 8

static enum ustor_virtio_blk_model_transport cur_transport;
static int cur_packed;

struct vfx {
	struct ustor_test_hal h;
	struct ustor_virtio_blk_model m;
	struct ustor_virtio_blk_model_cfg mcfg;
	struct ustor_virtio_blk_config cfg;
	struct ustor_virtio_blk *vb;
	struct ustor_block_device *d;
	int model_up;
	void *bufs[8];
	unsigned nbufs;
};

struct tracker {
	unsigned calls[NREQ];
	ustor_status status[NREQ];
	unsigned done;
};

struct treq {
	struct ustor_block_req req;
	struct tracker *t;
	unsigned idx;
};

static void on_done(struct ustor_block_req *req)
{
	struct treq *r = req->user;

	r->t->calls[r->idx]++;
	r->t->status[r->idx] = req->status;
	r->t->done++;
}

static void vfx_setup(struct vfx *f)
{
	memset(f, 0, sizeof(*f));
	ustor_test_hal_init(&f->h);
	if (harness_no_lock) {
		f->h.hal.lock = NULL;
		f->h.hal.unlock = NULL;
	}
	ustor_virtio_blk_model_cfg_default(&f->mcfg);
	f->mcfg.transport = cur_transport;
	if (cur_packed)
		f->mcfg.features |= USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED;
	ustor_virtio_blk_config_default(&f->cfg);
	f->cfg.cmd_timeout_ms = 1000;
	f->vb = calloc(1, sizeof(*f->vb));
	if (f->vb == NULL)
		abort();
}

static ustor_status vfx_start(struct vfx *f)
{
	ustor_status st = ustor_virtio_blk_model_init(&f->m, &f->h, &f->mcfg);

	if (st != USTOR_OK)
		return st;
	f->model_up = 1;
	if (f->mcfg.transport == USTOR_VIRTIO_BLK_MODEL_PCI) {
		volatile void *bars[6] = { NULL, NULL, NULL, NULL, NULL, NULL };

		bars[4] = ustor_virtio_blk_model_bar(&f->m, 4);
		st = ustor_virtio_blk_init_pci(f->vb, &f->h.hal,
					       ustor_virtio_blk_model_pci_addr(&f->m), bars, &f->cfg);
	} else {
		st = ustor_virtio_blk_init_mmio(f->vb, &f->h.hal,
						ustor_virtio_blk_model_mmio_base(&f->m), &f->cfg);
	}
	f->d = st == USTOR_OK ? ustor_virtio_blk_bdev(f->vb) : NULL;
	return st;
}

/* Shut down (the result is the test's to check), then: no violations, no
 * leaked DMA memory. */
static void vfx_finish(struct vfx *f)
{
	unsigned i;

	if (f->model_up) {
		harness_check_violations(ustor_virtio_blk_model_violations(&f->m));
		ustor_virtio_blk_model_fini(&f->m);
	}
	harness_check_leaks(&f->h);
	for (i = 0; i < f->nbufs; i++)
		free(f->bufs[i]);
	ustor_test_hal_fini(&f->h);
	free(f->vb);
}

static uint8_t *vfx_buf(struct vfx *f, size_t len)
{
	uint8_t *raw;

	if (posix_memalign((void **)&raw, 4096, len + 4096) != 0 || f->nbufs == 8)
		abort();
	memset(raw, 0, len + 4096);
	f->bufs[f->nbufs++] = raw;
	if (ustor_test_hal_register(&f->h, raw, len + 4096) != USTOR_OK)
		abort();
	return raw;
}

/* Poll queue 0 until `want` callbacks ran or max_ms of virtual time passed. */
static void drive(struct vfx *f, struct tracker *t, unsigned want, uint64_t max_ms)
{
	uint64_t end = ustor_test_hal_time(&f->h) + max_ms * 1000000ull;

	while (t->done < want && ustor_test_hal_time(&f->h) < end) {
		if (ustor_block_poll(f->d, 0) == 0)
			ustor_test_hal_advance(&f->h, 1000000ull);
	}
}

/*
 * NREQ requests: even ones write pattern i to blocks [i*8, i*8+8), odd
 * ones read blocks the test wrote before (pattern 0x77 at 512 + i*8) into
 * their own buffer.
 */
static void submit_mixed(struct vfx *f, struct treq *r, struct tracker *t, uint8_t *buf)
{
	unsigned i;

	for (i = 0; i < NREQ; i++) {
		uint8_t *b = buf + (size_t)i * 4096u;

		memset(&r[i], 0, sizeof(r[i]));
		r[i].t = t;
		r[i].idx = i;
		r[i].req.nblocks = 8;
		r[i].req.buf = b;
		r[i].req.done = on_done;
		r[i].req.user = &r[i];
		if (i % 2 == 0) {
			fx_pattern(b, 4096, i * 8u, 512, 0x5a);
			r[i].req.op = USTOR_BLOCK_WRITE;
			r[i].req.lba = i * 8u;
		} else {
			memset(b, 0xee, 4096);
			r[i].req.op = USTOR_BLOCK_READ;
			r[i].req.lba = 512u + i * 8u;
		}
		CHECK_OK(ustor_block_submit(f->d, &r[i].req));
	}
}

/* Each callback once with `want`; with OK, writes are on the disk and
 * reads returned the disk's data. */
static void check_mixed(struct vfx *f, struct treq *r, struct tracker *t, ustor_status want)
{
	uint64_t bytes = 0;
	uint8_t *disk = ustor_virtio_blk_model_disk(&f->m, &bytes);
	uint8_t expect[4096];
	unsigned i;

	CHECK_EQ(t->done, NREQ);
	for (i = 0; i < NREQ; i++) {
		CHECK_EQ(t->calls[i], 1);
		CHECK_ST(t->status[i], want);
		CHECK_EQ(r[i].req.state, USTOR_REQ_STATE_DONE);
		if (want != USTOR_OK || disk == NULL)
			continue;
		if (i % 2 == 0) {
			fx_pattern(expect, 4096, i * 8u, 512, 0x5a);
			CHECK(memcmp(disk + (size_t)i * 4096u, expect, 4096) == 0);
		} else {
			fx_pattern(expect, 4096, 512u + i * 8u, 512, 0x77);
			CHECK(memcmp(r[i].req.buf, expect, 4096) == 0);
		}
	}
}

/* Pattern 0x77 on blocks 512.. for the reads of submit_mixed. */
static void prefill(struct vfx *f)
{
	uint64_t bytes = 0;
	uint8_t *disk = ustor_virtio_blk_model_disk(&f->m, &bytes);

	CHECK(disk != NULL && bytes >= (512u + NREQ * 8u) * 512u);
	if (disk != NULL)
		fx_pattern(disk + 512u * 512u, NREQ * 4096u, 512, 512, 0x77);
}

/* The device stops completing with 8 requests in flight: the stall is
 * seen after cmd_timeout_ms, the device is reset and re-initialised, all
 * 8 go again and succeed with the right data. */
static void test_stall_reset_resubmits(void)
{
	struct vfx f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;
	uint64_t t0, resets0;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = vfx_buf(&f, NREQ * 4096u);
	prefill(&f);
	resets0 = f.m.resets;
	f.m.stall_until_reset = 1;
	t0 = ustor_test_hal_time(&f.h);
	submit_mixed(&f, r, &t, buf);
	CHECK_EQ(t.done, 0);
	drive(&f, &t, NREQ, 5000);
	check_mixed(&f, r, &t, USTOR_OK);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 1000000000ull); /* not before the deadline */
	CHECK_EQ(f.vb->resets, 1);
	CHECK_EQ(f.vb->requeued, NREQ);
	CHECK(f.m.resets > resets0);
	CHECK(ustor_test_hal_log_contains(&f.h, "stalled"));
	CHECK(!(f.d->flags & USTOR_BDEV_F_UNUSABLE));
	/* Still a working disk, with its queue size. */
	CHECK_OK(ustor_block_read(f.d, 0, 8, buf));
	CHECK_OK(ustor_virtio_blk_shutdown(f.vb));
	vfx_finish(&f);
}

/* DEVICE_NEEDS_RESET (modern transports): noticed on the poll path, the
 * device is reset and used again; the synchronous read succeeds. */
static void test_needs_reset_recovers(void)
{
	struct vfx f;
	uint8_t *buf;
	uint8_t expect[4096];

	if (cur_transport == USTOR_VIRTIO_BLK_MODEL_MMIO1)
		return; /* legacy devices have no DEVICE_NEEDS_RESET */
	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	buf = vfx_buf(&f, 4096);
	prefill(&f);
	f.m.needs_reset_after = 0;
	CHECK_OK(ustor_block_read(f.d, 512 + 8, 8, buf));
	fx_pattern(expect, 4096, 512 + 8, 512, 0x77);
	CHECK(memcmp(buf, expect, 4096) == 0);
	CHECK_EQ(f.vb->resets, 1);
	CHECK(ustor_test_hal_log_contains(&f.h, "resetting the device"));
	CHECK_OK(ustor_virtio_blk_check(f.vb));
	CHECK_OK(ustor_virtio_blk_shutdown(f.vb));
	vfx_finish(&f);
}

/* The device reads all-ones (removed) with 8 requests in flight: every
 * caller gets DEVICE_GONE once, new I/O is refused with it. */
static void test_gone_mid_io(void)
{
	struct vfx f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = vfx_buf(&f, NREQ * 4096u);
	f.m.stall_until_reset = 1;
	submit_mixed(&f, r, &t, buf);
	f.m.gone = 1;
	drive(&f, &t, NREQ, 5000);
	check_mixed(&f, r, &t, USTOR_ERR_DEVICE_GONE);
	CHECK_EQ(f.vb->resets, 0);
	CHECK_ST(ustor_block_read(f.d, 0, 1, buf), USTOR_ERR_DEVICE_GONE);
	/* Back (re-inserted): shutdown resets it and frees everything. */
	f.m.gone = 0;
	CHECK_OK(ustor_virtio_blk_shutdown(f.vb));
	vfx_finish(&f);
}

/* The device vanishes with 8 requests in flight and nothing polled:
 * shutdown cannot reset it (rings kept) but still ends all 8, each once,
 * with DEVICE_GONE. */
static void test_shutdown_of_gone_device_ends_all(void)
{
	struct vfx f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = vfx_buf(&f, NREQ * 4096u);
	f.m.stall_until_reset = 1;
	submit_mixed(&f, r, &t, buf);
	CHECK_EQ(t.done, 0);
	f.m.gone = 1;
	CHECK_ST(ustor_virtio_blk_shutdown(f.vb), USTOR_ERR_DEVICE_GONE);
	check_mixed(&f, r, &t, USTOR_ERR_DEVICE_GONE);
	CHECK(ustor_test_hal_log_contains(&f.h, "memory kept"));
	/* The test owns the "device" too: free what the driver had to keep. */
	f.m.gone = 0;
	ustor_vblk_queues_free(f.vb);
	if (f.vb->bounce != NULL)
		f.h.hal.dma_free(f.h.hal.ctx, f.vb->bounce, f.vb->bounce_bytes);
	vfx_finish(&f);
}

/* A device that never completes: one reset (the limit), the re-submitted
 * requests stall again, the device is given up: FATAL to each caller once. */
static void test_reset_limit(void)
{
	struct vfx f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;

	vfx_setup(&f);
	f.cfg.max_resets = 1;
	CHECK_OK(vfx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = vfx_buf(&f, NREQ * 4096u);
	f.m.never_complete = 1;
	submit_mixed(&f, r, &t, buf);
	drive(&f, &t, NREQ, 10000);
	check_mixed(&f, r, &t, USTOR_ERR_FATAL);
	CHECK_EQ(f.vb->resets, 1);
	CHECK_EQ(f.vb->requeued, NREQ);
	CHECK(ustor_test_hal_log_contains(&f.h, "giving up"));
	CHECK(f.d->flags & USTOR_BDEV_F_UNUSABLE);
	CHECK_ST(ustor_block_read(f.d, 0, 1, buf), USTOR_ERR_FATAL);
	f.m.never_complete = 0;
	CHECK_OK(ustor_virtio_blk_shutdown(f.vb));
	vfx_finish(&f);
}

/* ustor_virtio_blk_reset with nothing in flight: the disk keeps working. */
static void test_explicit_reset(void)
{
	struct vfx f;
	uint8_t *buf;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	buf = vfx_buf(&f, 4096);
	CHECK_OK(ustor_virtio_blk_reset(f.vb));
	CHECK_EQ(f.vb->resets, 1);
	fx_pattern(buf, 4096, 3, 512, 1);
	CHECK_OK(ustor_block_write(f.d, 3, 8, buf));
	memset(buf, 0, 4096);
	CHECK_OK(ustor_block_read(f.d, 3, 8, buf));
	{
		uint8_t expect[4096];

		fx_pattern(expect, 4096, 3, 512, 1);
		CHECK(memcmp(buf, expect, 4096) == 0);
	}
	CHECK_OK(ustor_virtio_blk_shutdown(f.vb));
	CHECK_ST(ustor_virtio_blk_reset(f.vb), USTOR_ERR_SHUT_DOWN);
	vfx_finish(&f);
}

/* A value as the device writes it into the ring: little-endian, or the
 * CPU's order on a legacy device. */
static uint32_t dev32(const struct ustor_virtq *vq, uint32_t v)
{
	return vq->legacy ? v : ustor_cpu_to_le32(v);
}

static uint16_t dev16(const struct ustor_virtq *vq, uint16_t v)
{
	return vq->legacy ? v : ustor_cpu_to_le16(v);
}

/* A hostile device posts a used element for a chain the driver made
 * available but has not published yet (USTOR_REQ_F_MORE, no kick): it
 * cannot have seen it. Taking it would free the chain and let the driver
 * run the available index more than a ring ahead of what the device
 * consumed (fuzz finding, regress/virtio_used/avail-jump). The driver
 * treats it as an impossible used element (as an id it never posted):
 * the device is reset and the read ends once with BAD_DEVICE, never as
 * if it had been done. Split ring only. */
static void test_used_for_unpublished_chain(void)
{
	struct vfx f;
	struct tracker t;
	struct treq r;
	struct ustor_virtq *vq;
	uint8_t *buf;
	uint8_t expect[4096];
	uint64_t requests0;
	uint16_t head, i;

	if (cur_packed)
		return;
	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	buf = vfx_buf(&f, 4096);
	prefill(&f);
	vq = &f.vb->q[0].vq;
	requests0 = f.m.requests;
	memset(&t, 0, sizeof(t));
	memset(&r, 0, sizeof(r));
	r.t = &t;
	r.req.op = USTOR_BLOCK_READ;
	r.req.lba = 512;
	r.req.nblocks = 8;
	r.req.buf = buf;
	r.req.flags = USTOR_REQ_F_MORE;
	r.req.done = on_done;
	r.req.user = &r;
	CHECK_OK(ustor_block_submit(f.d, &r.req));
	CHECK(vq->avail_shadow != vq->avail_published); /* not shown to the device */
	head = vq->size;
	for (i = 0; i < vq->size; i++)
		if (vq->heads[i].ndesc != 0)
			head = i;
	CHECK(head < vq->size);
	if (head < vq->size) {
		vq->used_ring[vq->last_used & vq->mask].id = dev32(vq, head);
		vq->used_ring[vq->last_used & vq->mask].len = dev32(vq, 4096u + 1u);
		*vq->used_idx = dev16(vq, (uint16_t)(vq->last_used + 1u));
	}
	for (i = 0; i < 100 && t.done == 0; i++)
		(void)ustor_block_poll(f.d, 0);
	CHECK_EQ(t.done, 1);
	CHECK_EQ(t.calls[0], 1);
	CHECK_ST(t.status[0], USTOR_ERR_BAD_DEVICE);
	CHECK(ustor_test_hal_log_contains(&f.h, "not a posted chain"));
	CHECK_EQ(f.m.requests, requests0); /* the device never saw the read */
	fx_pattern(expect, 4096, 512, 512, 0x77);
	CHECK(memcmp(buf, expect, 4096) != 0); /* and nothing was read */
	CHECK_ST(ustor_block_read(f.d, 512, 8, buf), USTOR_ERR_BAD_DEVICE);
	(void)ustor_virtio_blk_shutdown(f.vb);
	vfx_finish(&f);
}

static void run_all(void)
{
	static const struct {
		enum ustor_virtio_blk_model_transport t;
		int packed;
		const char *name;
	} combos[] = {
		{ USTOR_VIRTIO_BLK_MODEL_PCI, 0, "pci" },
		{ USTOR_VIRTIO_BLK_MODEL_PCI, 1, "pci packed" },
		{ USTOR_VIRTIO_BLK_MODEL_MMIO2, 0, "mmio2" },
		{ USTOR_VIRTIO_BLK_MODEL_MMIO1, 0, "mmio1" },
	};
	unsigned i;

	for (i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		cur_transport = combos[i].t;
		cur_packed = combos[i].packed;
		RUN(test_stall_reset_resubmits);
		RUN(test_needs_reset_recovers);
		RUN(test_gone_mid_io);
		RUN(test_shutdown_of_gone_device_ends_all);
		RUN(test_reset_limit);
		RUN(test_explicit_reset);
		RUN(test_used_for_unpublished_chain);
	}
}

int main(void)
{
	run_all();
	harness_no_lock = 1;
	run_all();
	return harness_done();
}
