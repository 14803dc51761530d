/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk through the block layer against the virtio-blk model, on each
 * transport (virtio-pci modern, virtio-mmio version 2, legacy version 1):
 * bring-up and geometry, data integrity against the model's RAM, flush,
 * discard and write-zeroes, read-only, seg_max/size_max splitting, many
 * requests in flight completed out of order, every fault knob, bad input,
 * and no leaks or host violations at the end of each test.
 */
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "harness.h"
#include "ustor/endian.h"
#include "ustor/stats.h"
#include "ustor/virtio_blk.h"
#include "virtio_blk_model.h"

/* ---- Fixture --------------------------------------------------------------- */

struct vfx {
	struct ustor_test_hal h;
	struct ustor_virtio_blk_model m;
	struct ustor_virtio_blk_model_cfg mcfg;
	struct ustor_virtio_blk_config cfg;
	struct ustor_virtio_blk *vb;
	struct ustor_block_device *d;
	int model_up;
	int allow_violations; /* the test provokes some on purpose */
	void *bufs[64];
	unsigned nbufs;
};

/* Transport of the test being run (each test runs on all three). */
static enum ustor_virtio_blk_model_transport cur_transport;

/* Ring features of the test being run: the model offers the packed ring
 * when cur_packed is set, and the driver is allowed each feature whose
 * flag is set (the driver's defaults allow all). */
static int cur_packed;
static int cur_event_idx = 1;
static int cur_indirect = 1;

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
	ustor_virtio_blk_config_default(&f->cfg);
	if (cur_packed)
		f->mcfg.features |= USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED;
	f->cfg.event_idx = (uint8_t)cur_event_idx;
	f->cfg.indirect = (uint8_t)cur_indirect;
	f->vb = calloc(1, sizeof(*f->vb));
	if (f->vb == NULL)
		abort();
}

/* Build the model from f->mcfg (its knobs may be set after this). */
static ustor_status vfx_model(struct vfx *f)
{
	ustor_status st = ustor_virtio_blk_model_init(&f->m, &f->h, &f->mcfg);

	if (st == USTOR_OK)
		f->model_up = 1;
	return st;
}

/* Bring the driver up on the model with f->cfg. */
static ustor_status vfx_driver(struct vfx *f)
{
	ustor_status st;

	if (f->mcfg.transport == USTOR_VIRTIO_BLK_MODEL_PCI) {
		volatile void *bars[6] = { NULL, NULL, NULL, NULL, NULL, NULL };

		bars[4] = ustor_virtio_blk_model_bar(&f->m, 4);
		st = ustor_virtio_blk_init_pci(
			f->vb, &f->h.hal, ustor_virtio_blk_model_pci_addr(&f->m), bars, &f->cfg);
	} else {
		st = ustor_virtio_blk_init_mmio(f->vb, &f->h.hal,
						ustor_virtio_blk_model_mmio_base(&f->m), &f->cfg);
	}
	f->d = st == USTOR_OK ? ustor_virtio_blk_bdev(f->vb) : NULL;
	return st;
}

static ustor_status vfx_start(struct vfx *f)
{
	ustor_status st = vfx_model(f);

	return st != USTOR_OK ? st : vfx_driver(f);
}

static void vfx_finish(struct vfx *f)
{
	unsigned i;

	if (f->vb->state == 1 /* ready */ || f->vb->state == 3 /* broken */)
		CHECK_OK(ustor_virtio_blk_shutdown(f->vb));
	if (f->model_up) {
		if (!f->allow_violations)
			harness_check_violations(ustor_virtio_blk_model_violations(&f->m));
		ustor_virtio_blk_model_fini(&f->m);
	}
	harness_check_leaks(&f->h);
	for (i = 0; i < f->nbufs; i++)
		free(f->bufs[i]);
	ustor_test_hal_fini(&f->h);
	free(f->vb);
	f->vb = NULL;
}

/* A DMA-able (registered) buffer of len bytes at `offset` past a page
 * boundary, filled with `fill`. */
static void *vfx_buf(struct vfx *f, size_t len, size_t offset, int fill)
{
	uint8_t *raw;
	size_t total = len + offset + 4096;

	if (posix_memalign((void **)&raw, 4096, total) != 0 || f->nbufs == 64)
		abort();
	memset(raw, fill, total);
	f->bufs[f->nbufs++] = raw;
	if (ustor_test_hal_register(&f->h, raw, total) != USTOR_OK)
		abort();
	return raw + offset;
}

/* A heap buffer the HAL does not know (not DMA-able). */
static void *vfx_plain(struct vfx *f, size_t len)
{
	void *p = malloc(len + 64);

	if (p == NULL || f->nbufs == 64)
		abort();
	f->bufs[f->nbufs++] = p;
	return p;
}

static uint8_t *vfx_disk(struct vfx *f, uint64_t *bytes)
{
	return ustor_virtio_blk_model_disk(&f->m, bytes);
}

/* Write a pattern, check the model's RAM at lba * block_size, read back. */
static void roundtrip(struct vfx *f, uint64_t lba, uint32_t n, size_t offset, uint32_t seed)
{
	struct ustor_block_device *d = f->d;
	size_t len = (size_t)n * d->block_size;
	uint8_t *w = vfx_buf(f, len, offset, 0);
	uint8_t *r = vfx_buf(f, len, offset, 0xee);
	uint64_t bytes = 0;
	uint8_t *disk = vfx_disk(f, &bytes);

	fx_pattern(w, len, lba, d->block_size, seed);
	CHECK_OK(ustor_block_write(d, lba, n, w));
	CHECK(disk != NULL && bytes >= (lba + n) * d->block_size);
	if (disk != NULL)
		CHECK(memcmp(disk + lba * d->block_size, w, len) == 0);
	CHECK_OK(ustor_block_read(d, lba, n, r));
	CHECK(memcmp(r, w, len) == 0);
}

/* ---- Bring-up and geometry --------------------------------------------- */

static void test_init_512(void)
{
	struct vfx f;
	struct ustor_virtio_blk_info *inf;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	inf = &f.vb->info;
	CHECK_EQ(f.d->block_size, 512);
	CHECK_EQ(f.d->block_shift, 9);
	CHECK_EQ(f.d->nblocks, 2048);
	CHECK_EQ(inf->capacity_sectors, 2048);
	CHECK(strcmp(f.d->serial, "USTOR-VIRTIO-BLK-01") == 0);
	CHECK(strcmp(f.d->name, "vblk0") == 0);
	CHECK_EQ(f.d->nqueues, 1);
	CHECK_EQ(f.d->timeout_ms, 30000);
	CHECK(f.d->bounce != NULL && f.d->bounce_len == 65536);
	CHECK_EQ(f.d->flags,
		 USTOR_BDEV_F_VOLATILE_CACHE | USTOR_BDEV_F_DISCARD | USTOR_BDEV_F_WRITE_ZEROES);
	CHECK_EQ(inf->queue_size, 128);
	CHECK_EQ(inf->seg_max, 126);
	CHECK_EQ(inf->size_max, 65536);
	/* Indirect tables bound a chain at indirect_max - 2 = 32 windows. */
	CHECK_EQ(f.d->max_blocks, (inf->indirect ? 32u : 126u) * 8u);
	CHECK_EQ(inf->writeback, 1);
	CHECK_EQ(inf->max_discard_sectors, 32768);
	CHECK_EQ(inf->max_write_zeroes_sectors, 32768);
	/* Accepted only what the driver uses; VERSION_1 on modern only. */
	{
		uint64_t feat = ustor_virtio_blk_model_features(&f.m);
		/* MQ only when more than one queue is asked for. */
		uint64_t unused = USTOR_VIRTIO_BLK_MODEL_F_MQ | USTOR_VIRTIO_BLK_MODEL_F_GEOMETRY;

		CHECK_EQ(feat, inf->features);
		CHECK_EQ(feat & unused, 0);
		CHECK_EQ(!!(feat & USTOR_VIRTIO_BLK_MODEL_F_VERSION_1),
			 cur_transport != USTOR_VIRTIO_BLK_MODEL_MMIO1);
		CHECK(feat & USTOR_VIRTIO_BLK_MODEL_F_FLUSH);
		/* Ring features: accepted exactly when offered and allowed. */
		CHECK_EQ(!!(feat & USTOR_VIRTIO_BLK_MODEL_F_EVENT_IDX), f.cfg.event_idx != 0);
		CHECK_EQ(!!(feat & USTOR_VIRTIO_BLK_MODEL_F_INDIRECT_DESC), f.cfg.indirect != 0);
		CHECK_EQ(inf->event_idx, f.cfg.event_idx != 0);
		CHECK_EQ(inf->indirect, f.cfg.indirect != 0);
	}
	CHECK_EQ(inf->transport, cur_transport == USTOR_VIRTIO_BLK_MODEL_PCI ?
					 USTOR_VIRTIO_TRANSPORT_PCI :
				 cur_transport == USTOR_VIRTIO_BLK_MODEL_MMIO2 ?
					 USTOR_VIRTIO_TRANSPORT_MMIO :
					 USTOR_VIRTIO_TRANSPORT_MMIO_LEGACY);
	CHECK(ustor_virtio_blk_model_status(&f.m) & USTOR_VIRTIO_BLK_MODEL_S_DRIVER_OK);
	CHECK_EQ(f.m.get_ids, 1);
	/* Polling: no interrupts asked for. */
	CHECK_EQ(f.m.used_notifications, 0);
	vfx_finish(&f);
}

/* HARDWARE.md 10: blk_size 4096 addresses 4 KiB blocks; the protocol still
 * counts 512-byte sectors. */
static void test_init_4096(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.mcfg.blk_size = 4096;
	f.mcfg.capacity_sectors = 8192; /* 4 MiB = 1024 blocks */
	f.mcfg.physical_block_exp = 1;
	f.mcfg.min_io_size = 2;
	f.mcfg.opt_io_size = 64;
	CHECK_OK(vfx_model(&f));
	f.m.strict_blk_size = 1;
	CHECK_OK(vfx_driver(&f));
	CHECK_EQ(f.d->block_size, 4096);
	CHECK_EQ(f.d->block_shift, 12);
	CHECK_EQ(f.d->nblocks, 1024);
	CHECK_EQ(f.vb->info.physical_block_exp, 1);
	CHECK_EQ(f.vb->info.min_io_size, 2);
	CHECK_EQ(f.vb->info.opt_io_size, 64);
	CHECK_EQ(f.vb->info.max_discard_sectors, 32768);
	roundtrip(&f, 0, 1, 0, 5);
	roundtrip(&f, 1000, 24, 0, 6);
	roundtrip(&f, 1023, 1, 512, 7); /* last block, unaligned buffer */
	CHECK_EQ(f.m.misaligned_requests, 0);
	CHECK_OK(ustor_block_write_zeroes(f.d, 1000, 3));
	CHECK_OK(ustor_block_discard(f.d, 1003, 21));
	{
		uint64_t bytes;
		uint8_t *disk = vfx_disk(&f, &bytes);
		size_t i;
		int nz = 0;

		for (i = 1000u * 4096u; i < 1003u * 4096u; i++)
			nz |= disk[i];
		CHECK_EQ(nz, 0);
	}
	vfx_finish(&f);
}

static void test_roundtrip(void)
{
	struct vfx f;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	roundtrip(&f, 0, 1, 0, 1);
	roundtrip(&f, 7, 9, 0, 2);	       /* two pages */
	roundtrip(&f, 100, 24, 512, 3);	       /* unaligned start, 4 pages */
	roundtrip(&f, 2047, 1, 4092 - 508, 4); /* last block, odd offset, page-crossing */
	roundtrip(&f, 1, 3, 1, 8);	  /* byte-aligned buffer: virtio has no alignment rule */
	roundtrip(&f, 200, 1024, 100, 9); /* 512 KiB: one chain (126 x 4 KiB) */
	roundtrip(&f, 0, 2048, 0, 10);	  /* the whole disk: several chains */
	CHECK_EQ(f.m.misaligned_requests, 0);
	vfx_finish(&f);
}

/* Queue size: clamped to the device's maximum and rounded down to a power
 * of two; a tiny queue still works (requests wait for descriptors). */
static void test_queue_size(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.mcfg.queue_num_max = 8;
	f.cfg.queue_size = 256;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.vb->info.queue_size, 8);
	CHECK_EQ(f.vb->seg_lim, 6); /* seg_max defaults to 8 - 2 */
	roundtrip(&f, 10, 200, 4, 11);
	vfx_finish(&f);

	vfx_setup(&f);
	f.cfg.queue_size = 6;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.vb->info.queue_size, 4);
	CHECK_EQ(f.vb->seg_lim, f.vb->info.indirect ? 32 : 2);
	roundtrip(&f, 10, 40, 4, 12);
	vfx_finish(&f);

	/* Asked for less than one request needs: raised to 4, as documented. */
	vfx_setup(&f);
	f.cfg.queue_size = 3;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.vb->info.queue_size, 4);
	roundtrip(&f, 10, 8, 4, 13);
	vfx_finish(&f);

	/* A device whose queues cannot hold one request is refused. */
	vfx_setup(&f);
	f.mcfg.queue_num_max = 2;
	CHECK_ST(vfx_start(&f), USTOR_ERR_UNSUPPORTED);
	vfx_finish(&f);
}

/* ---- Flush, write cache, FUA ------------------------------------------- */

static void test_flush(void)
{
	struct vfx f;
	uint8_t *b;
	struct ustor_block_req req;

	/* FLUSH offered, write-back cache: a real flush. */
	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 4096, 0, 1);
	CHECK(f.d->flags & USTOR_BDEV_F_VOLATILE_CACHE);
	CHECK_OK(ustor_block_write(f.d, 0, 8, b));
	CHECK(f.m.unflushed_writes > 0);
	CHECK_OK(ustor_block_flush(f.d));
	CHECK_EQ(f.m.flushes, 1);
	/* FUA on a write-back cache: the write, then a flush. */
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_WRITE;
	req.flags = USTOR_REQ_F_FUA;
	req.lba = 8;
	req.nblocks = 8;
	req.buf = b;
	CHECK_OK(ustor_block_run(f.d, &req));
	CHECK_EQ(f.m.flushes, 2);
	vfx_finish(&f);

	/* CONFIG_WCE says write-through: no volatile cache, no FUA flush. */
	vfx_setup(&f);
	f.mcfg.writeback = 0;
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 4096, 0, 1);
	CHECK_EQ(f.vb->info.writeback, 0);
	CHECK(!(f.d->flags & USTOR_BDEV_F_VOLATILE_CACHE));
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_WRITE;
	req.flags = USTOR_REQ_F_FUA;
	req.nblocks = 8;
	req.buf = b;
	CHECK_OK(ustor_block_run(f.d, &req));
	CHECK_EQ(f.m.flushes, 0);
	CHECK_OK(ustor_block_flush(f.d)); /* still sent: the device has FLUSH */
	CHECK_EQ(f.m.flushes, 1);
	vfx_finish(&f);

	/* No FLUSH: write-through, and flush is a no-op success (5.2.5). */
	vfx_setup(&f);
	f.mcfg.features &= ~(USTOR_VIRTIO_BLK_MODEL_F_FLUSH | USTOR_VIRTIO_BLK_MODEL_F_CONFIG_WCE);
	CHECK_OK(vfx_start(&f));
	CHECK(!(f.d->flags & USTOR_BDEV_F_VOLATILE_CACHE));
	CHECK_OK(ustor_block_flush(f.d));
	CHECK_EQ(f.m.flushes, 0);
	CHECK_EQ(f.m.unsupp_completions, 0);
	vfx_finish(&f);
}

/* ---- Discard and write-zeroes ---------------------------------------- */

static void test_discard_write_zeroes(void)
{
	struct vfx f;
	uint8_t *b;
	uint64_t bytes;
	uint8_t *disk;
	size_t i;
	int nz = 0;

	vfx_setup(&f);
	f.mcfg.max_discard_sectors = 16;
	f.mcfg.max_write_zeroes_sectors = 24;
	CHECK_OK(vfx_start(&f));
	f.m.discard_fill = 0x77;
	CHECK_EQ(f.vb->discard_max_blocks, 16);
	CHECK_EQ(f.vb->wz_max_blocks, 24);
	b = vfx_buf(&f, 64 * 512, 0, 0);
	fx_pattern(b, 64 * 512, 100, 512, 21);
	CHECK_OK(ustor_block_write(f.d, 100, 64, b));
	CHECK_OK(ustor_block_write_zeroes(f.d, 101, 50)); /* 24 + 24 + 2 */
	CHECK_EQ(f.m.write_zeroes, 3);
	disk = vfx_disk(&f, &bytes);
	for (i = 101u * 512u; i < 151u * 512u; i++)
		nz |= disk[i];
	CHECK_EQ(nz, 0);
	CHECK(memcmp(disk + 100 * 512, b, 512) == 0);		      /* block 100 untouched */
	CHECK(memcmp(disk + 151 * 512, b + 51 * 512, 13 * 512) == 0); /* 151.. untouched */
	CHECK_OK(ustor_block_discard(f.d, 300, 40));		      /* 16 + 16 + 8 */
	CHECK_EQ(f.m.discards, 3);
	CHECK_ST(ustor_block_discard(f.d, 2040, 9), USTOR_ERR_OUT_OF_RANGE);
	vfx_finish(&f);

	/* Not offered: UNSUPPORTED before anything reaches the device. */
	vfx_setup(&f);
	f.mcfg.features &=
		~(USTOR_VIRTIO_BLK_MODEL_F_DISCARD | USTOR_VIRTIO_BLK_MODEL_F_WRITE_ZEROES);
	CHECK_OK(vfx_start(&f));
	CHECK(!(f.d->flags & (USTOR_BDEV_F_DISCARD | USTOR_BDEV_F_WRITE_ZEROES)));
	CHECK_ST(ustor_block_discard(f.d, 0, 8), USTOR_ERR_UNSUPPORTED);
	CHECK_ST(ustor_block_write_zeroes(f.d, 0, 8), USTOR_ERR_UNSUPPORTED);
	CHECK_EQ(f.m.requests, 1); /* GET_ID only */
	vfx_finish(&f);

	/* Offered but disabled by the kernel's config. */
	vfx_setup(&f);
	f.cfg.disable_features = USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_DISCARD);
	CHECK_OK(vfx_start(&f));
	CHECK(!(f.d->flags & USTOR_BDEV_F_DISCARD));
	CHECK(f.d->flags & USTOR_BDEV_F_WRITE_ZEROES);
	CHECK_EQ(ustor_virtio_blk_model_features(&f.m) & USTOR_VIRTIO_BLK_MODEL_F_DISCARD, 0);
	vfx_finish(&f);
}

/* ---- Read-only ----------------------------------------------------------- */

static void test_read_only(void)
{
	struct vfx f;
	uint8_t *b;

	vfx_setup(&f);
	f.mcfg.read_only = 1;
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 4096, 0, 3);
	CHECK(f.d->flags & USTOR_BDEV_F_READ_ONLY);
	CHECK(f.vb->info.read_only);
	CHECK_ST(ustor_block_write(f.d, 0, 1, b), USTOR_ERR_READ_ONLY);
	CHECK_ST(ustor_block_write_zeroes(f.d, 0, 1), USTOR_ERR_READ_ONLY);
	CHECK_ST(ustor_block_discard(f.d, 0, 1), USTOR_ERR_READ_ONLY);
	CHECK_OK(ustor_block_read(f.d, 0, 8, b));
	CHECK_EQ(f.m.writes + f.m.ro_rejects, 0);
	vfx_finish(&f);
}

/* ---- seg_max / size_max splitting ------------------------------------- */

static void test_split(void)
{
	struct vfx f;

	/* Two 4 KiB segments per chain: 64 KiB aligned = 8 chains. */
	vfx_setup(&f);
	f.mcfg.seg_max = 2;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.vb->seg_lim, 2);
	CHECK_EQ(f.d->max_blocks, 16);
	roundtrip(&f, 10, 128, 0, 31);
	CHECK_EQ(f.m.writes, 8);
	CHECK_EQ(f.m.reads, 8);
	/* Unaligned: the first window is short, so chains carry less. */
	roundtrip(&f, 200, 16, 512, 32);
	CHECK_EQ(f.m.writes, 8 + 2);
	vfx_finish(&f);

	/* size_max 1 KiB: segments of at most 1 KiB, and a 4 KiB block size
	 * still fits a chain of 4 of them. */
	vfx_setup(&f);
	f.mcfg.size_max = 1024;
	f.mcfg.seg_max = 4;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.vb->seg_shift, 10);
	CHECK_EQ(f.d->max_blocks, 8);
	roundtrip(&f, 0, 40, 0, 33);
	CHECK_EQ(f.m.writes, 5);
	vfx_finish(&f);

	/* seg_max 1 with 4 KiB blocks and an unaligned buffer: no chain can
	 * hold a block, the async submit says NOT_DMA_ABLE and the
	 * synchronous calls bounce through the aligned bounce buffer. */
	vfx_setup(&f);
	f.mcfg.seg_max = 1;
	f.mcfg.blk_size = 4096;
	f.mcfg.capacity_sectors = 4096;
	CHECK_OK(vfx_start(&f));
	roundtrip(&f, 3, 5, 512, 34);
	roundtrip(&f, 30, 5, 0, 35);
	vfx_finish(&f);

	/* A settable cap on one chain. */
	vfx_setup(&f);
	f.cfg.max_transfer_bytes = 8192 + 100;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.d->max_blocks, 16);
	roundtrip(&f, 0, 64, 0, 36);
	CHECK_EQ(f.m.writes, 4);
	vfx_finish(&f);

	/* seg_max x size_max below one block: refused at init. */
	vfx_setup(&f);
	f.mcfg.seg_max = 1;
	f.mcfg.size_max = 1024;
	f.mcfg.blk_size = 4096;
	f.mcfg.capacity_sectors = 4096;
	CHECK_ST(vfx_start(&f), USTOR_ERR_UNSUPPORTED);
	CHECK(ustor_test_hal_log_contains(&f.h, "cannot hold one 4096-byte block"));
	vfx_finish(&f);
}

/* ---- Many requests in flight ------------------------------------------ */

struct async_ctx {
	unsigned done;
	unsigned errors;
	ustor_status last;
};

static void on_done(struct ustor_block_req *req)
{
	struct async_ctx *a = req->user;

	a->done++;
	a->last = req->status;
	if (req->status != USTOR_OK)
		a->errors++;
}

/* More requests than the ring holds, completed newest first. A full ring
 * says BUSY (nothing was issued) and takes the request after a poll; a
 * request that needs more chains than fit goes out in part, the rest waits
 * and is issued from poll, and later requests queue behind it. */
static void test_in_flight(void)
{
	enum { N = 60, BLK = 4 };
	struct vfx f;
	struct ustor_block_req reqs[N];
	struct ustor_block_req big;
	struct async_ctx a = { 0, 0, USTOR_OK };
	uint8_t *w;
	uint8_t *r;
	unsigned i;
	unsigned spins = 0;
	unsigned busy = 0;

	vfx_setup(&f);
	f.mcfg.queue_num_max = 32;
	f.mcfg.seg_max = 10;
	f.cfg.indirect = 0; /* the ring shapes below count direct descriptors */
	CHECK_OK(vfx_start(&f));
	w = vfx_buf(&f, (size_t)N * BLK * 512, 0, 0);
	r = vfx_buf(&f, (size_t)N * BLK * 512, 0, 0xee);
	fx_pattern(w, (size_t)N * BLK * 512, 64, 512, 41);
	f.m.deferred = 1;
	f.m.reorder = 1;
	for (i = 0; i < N; i++) {
		ustor_status st;

		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_WRITE;
		reqs[i].lba = 64u + (uint64_t)i * BLK;
		reqs[i].nblocks = BLK;
		reqs[i].buf = w + (size_t)i * BLK * 512;
		reqs[i].done = on_done;
		reqs[i].user = &a;
		while ((st = ustor_block_submit(f.d, &reqs[i])) == USTOR_ERR_BUSY &&
		       spins++ < 1000) {
			busy++;
			ustor_virtio_blk_model_process(&f.m);
			ustor_block_poll(f.d, 0);
		}
		CHECK_OK(st);
	}
	CHECK(busy > 0);
	while (a.done < N && spins++ < 1000) {
		ustor_virtio_blk_model_process(&f.m);
		ustor_block_poll(f.d, 0);
	}
	CHECK_EQ(a.done, N);
	CHECK_EQ(a.errors, 0);
	CHECK_EQ(f.vb->q[0].vq.num_free, 32);

	/* 10 windows per chain (seg_max): 120 KiB is 3 chains of 12
	 * descriptors, two go out, the third waits; requests behind it queue. */
	a.done = 0;
	memset(&big, 0, sizeof(big));
	big.op = USTOR_BLOCK_READ;
	big.lba = 64;
	big.nblocks = N * BLK;
	big.buf = r;
	big.done = on_done;
	big.user = &a;
	CHECK_OK(ustor_block_submit(f.d, &big));
	CHECK(f.vb->q[0].waiting == &big);
	CHECK_EQ(big.in_flight, 2);
	for (i = 0; i < 4; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_FLUSH;
		reqs[i].done = on_done;
		reqs[i].user = &a;
		CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
	}
	spins = 0;
	while (a.done < 5 && spins++ < 1000) {
		ustor_virtio_blk_model_process(&f.m);
		ustor_block_poll(f.d, 0);
	}
	CHECK_EQ(a.done, 5);
	CHECK_EQ(a.errors, 0);
	CHECK(memcmp(r, w, (size_t)N * BLK * 512) == 0);
	CHECK_EQ(f.m.reads, 3);
	CHECK_EQ(f.vb->q[0].vq.num_free, 32);
	vfx_finish(&f);
}

/* Shutdown with requests outstanding (in flight, waiting, finished but not
 * delivered): each ends once, with SHUT_DOWN unless it had finished. */
static void test_shutdown_outstanding(void)
{
	enum { N = 12 };
	struct vfx f;
	struct ustor_block_req reqs[N];
	struct async_ctx a = { 0, 0, USTOR_OK };
	uint8_t *b;
	unsigned i;

	vfx_setup(&f);
	f.mcfg.queue_num_max = 16;
	f.cfg.indirect = 0; /* the 256-block read fills the ring with direct chains */
	f.mcfg.features &= ~USTOR_VIRTIO_BLK_MODEL_F_FLUSH; /* flushes finish at once */
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 256 * 512, 0, 0);
	f.m.deferred = 1;
	for (i = 0; i < N; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = i == 1 ? USTOR_BLOCK_FLUSH : USTOR_BLOCK_READ;
		reqs[i].lba = i == 0 ? 0 : 256u + i;
		reqs[i].nblocks = i == 0 ? 256 : (i == 1 ? 0 : 1);
		reqs[i].buf = i == 1 ? NULL : (i == 0 ? b : b + i * 512u);
		reqs[i].done = on_done;
		reqs[i].user = &a;
		CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
	}
	CHECK(f.vb->q[0].waiting == &reqs[0]);
	CHECK_OK(ustor_virtio_blk_shutdown(f.vb));
	CHECK_EQ(a.done, N);
	CHECK_EQ(a.errors, N - 1); /* the flush had finished */
	CHECK_ST(reqs[1].status, USTOR_OK);
	for (i = 0; i < N; i++) {
		CHECK_EQ(reqs[i].state, USTOR_REQ_STATE_DONE);
		if (i != 1)
			CHECK_ST(reqs[i].status, USTOR_ERR_SHUT_DOWN);
	}
	CHECK_ST(ustor_block_read(f.d, 0, 1, b), USTOR_ERR_SHUT_DOWN);
	CHECK_ST(ustor_virtio_blk_shutdown(f.vb), USTOR_ERR_SHUT_DOWN);
	CHECK_ST(ustor_virtio_blk_check(f.vb), USTOR_ERR_SHUT_DOWN);
	vfx_finish(&f);
}

/* ---- Fault knobs ----------------------------------------------------------- */

/* The device refuses FEATURES_OK: a clear error, FAILED set, nothing kept. */
static void test_refuse_features(void)
{
	struct vfx f;

	if (cur_transport == USTOR_VIRTIO_BLK_MODEL_MMIO1)
		return; /* legacy devices have no FEATURES_OK */
	vfx_setup(&f);
	CHECK_OK(vfx_model(&f));
	f.m.refuse_features = 1;
	CHECK_ST(vfx_driver(&f), USTOR_ERR_UNSUPPORTED);
	CHECK(ustor_test_hal_log_contains(&f.h, "refused features"));
	CHECK(ustor_virtio_blk_model_status(&f.m) & USTOR_VIRTIO_BLK_MODEL_S_FAILED);
	CHECK_EQ(f.m.features_ok_refused, 1);
	vfx_finish(&f);
}

/* No VERSION_1 on a modern transport: refused with a clear error. */
static void test_no_version_1(void)
{
	struct vfx f;

	if (cur_transport == USTOR_VIRTIO_BLK_MODEL_MMIO1)
		return;
	vfx_setup(&f);
	f.mcfg.features &= ~USTOR_VIRTIO_BLK_MODEL_F_VERSION_1;
	if (vfx_model(&f) == USTOR_OK) {
		CHECK_ST(vfx_driver(&f), USTOR_ERR_UNSUPPORTED);
		CHECK(ustor_test_hal_log_contains(&f.h, "VIRTIO_F_VERSION_1"));
	}
	vfx_finish(&f);
}

/* DEVICE_NEEDS_RESET mid-run with recovery off (cmd_timeout_ms 0; with it
 * on see test_virtio_recover): the waiting request times out, the timeout
 * finds the status, the device is reset and declared unusable. */
static void test_needs_reset(void)
{
	struct vfx f;
	uint8_t *b;

	vfx_setup(&f);
	f.cfg.io_timeout_ms = 50;
	f.cfg.cmd_timeout_ms = 0;
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 4096, 0, 0);
	CHECK_OK(ustor_block_read(f.d, 0, 1, b));
	f.m.needs_reset_after = 0;
	CHECK_ST(ustor_block_read(f.d, 0, 1, b), USTOR_ERR_FATAL);
	CHECK(ustor_test_hal_log_contains(&f.h, "DEVICE_NEEDS_RESET"));
	CHECK(f.d->flags & USTOR_BDEV_F_UNUSABLE);
	CHECK_ST(f.d->unusable_reason, USTOR_ERR_FATAL);
	CHECK_ST(ustor_block_read(f.d, 0, 1, b), USTOR_ERR_FATAL);
	CHECK_ST(ustor_virtio_blk_check(f.vb), USTOR_ERR_FATAL);
	vfx_finish(&f);

	/* Noticed by ustor_virtio_blk_check (the interrupt handler's call):
	 * the requests outstanding end with FATAL at once. */
	vfx_setup(&f);
	f.cfg.cmd_timeout_ms = 0;
	CHECK_OK(vfx_start(&f));
	{
		struct ustor_block_req reqs[3];
		struct async_ctx a = { 0, 0, USTOR_OK };
		unsigned i;

		b = vfx_buf(&f, 3 * 4096, 0, 0);
		f.m.needs_reset_after = 1; /* one more request, then broken */
		f.m.deferred = 1;
		for (i = 0; i < 3; i++) {
			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].op = USTOR_BLOCK_READ;
			reqs[i].lba = i * 8u;
			reqs[i].nblocks = 8;
			reqs[i].buf = b + i * 4096u;
			reqs[i].done = on_done;
			reqs[i].user = &a;
			CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
		}
		CHECK_ST(ustor_virtio_blk_check(f.vb), USTOR_ERR_FATAL);
		CHECK_EQ(a.done, 3);
		CHECK_ST(a.last, USTOR_ERR_FATAL);
		CHECK_EQ(ustor_virtio_blk_model_status(&f.m), 0); /* reset */
	}
	vfx_finish(&f);
}

/* A used element naming a chain never posted: no out-of-bounds access, the
 * request ends with BAD_DEVICE, the device is stopped and unusable. */
static void test_bad_used_id(void)
{
	struct vfx f;
	uint8_t *b;
	struct ustor_block_req req;
	struct async_ctx a = { 0, 0, USTOR_OK };

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 4096, 0, 0);
	f.m.bad_used_id = 1;
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.nblocks = 8;
	req.buf = b;
	req.done = on_done;
	req.user = &a;
	CHECK_OK(ustor_block_submit(f.d, &req));
	ustor_block_poll(f.d, 0);
	CHECK_EQ(a.done, 1);
	CHECK_ST(req.status, USTOR_ERR_BAD_DEVICE);
	CHECK_EQ(f.vb->q[0].bad_used, 1);
	CHECK(ustor_test_hal_log_contains(&f.h, "not a posted chain"));
	CHECK(f.d->flags & USTOR_BDEV_F_UNUSABLE);
	CHECK_ST(ustor_block_read(f.d, 0, 1, b), USTOR_ERR_BAD_DEVICE);
	vfx_finish(&f);
}

/* A used len above what the chain offered: that request fails with
 * BAD_DEVICE (raw detail in dev_status), the device carries on. */
static void test_bad_used_len(void)
{
	struct vfx f;
	uint8_t *b;
	struct ustor_block_req req;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 8192, 0, 0);
	f.m.bad_used_len = 1;
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.lba = 5;
	req.nblocks = 8;
	req.buf = b;
	CHECK_ST(ustor_block_run(f.d, &req), USTOR_ERR_BAD_DEVICE);
	CHECK_EQ(req.dev_status, USTOR_VIRTIO_BLK_RAW_BAD_LEN);
	CHECK_EQ(req.error_lba, 5);
	CHECK_EQ(f.vb->q[0].bad_len, 1);
	CHECK(ustor_test_hal_log_contains(&f.h, "more than it offered"));
	roundtrip(&f, 0, 16, 0, 51);
	vfx_finish(&f);
}

/* IOERR on chosen sectors: reads and writes -> MEDIA, other commands ->
 * DEVICE; raw status and failing LBA kept; the rest of a split request is
 * not issued; neighbours work. */
static void test_ioerr(void)
{
	struct vfx f;
	uint8_t *b;
	struct ustor_block_req req;

	vfx_setup(&f);
	f.mcfg.seg_max = 2; /* 16 blocks per chain */
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 64 * 512, 0, 0);
	f.m.ioerr_sector_first = 40;
	f.m.ioerr_sector_count = 1;
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.lba = 32;
	req.nblocks = 64;
	req.buf = b;
	CHECK_ST(ustor_block_run(f.d, &req), USTOR_ERR_MEDIA);
	CHECK_EQ(req.dev_status, USTOR_VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req.error_lba, 32);
	CHECK_ST(ustor_block_write(f.d, 40, 1, b), USTOR_ERR_MEDIA);
	CHECK_ST(ustor_block_write_zeroes(f.d, 39, 2), USTOR_ERR_DEVICE);
	CHECK_OK(ustor_block_read(f.d, 0, 40, b));
	CHECK_OK(ustor_block_read(f.d, 41, 10, b));
	CHECK_EQ(ustor_virtio_blk_status_to_ustor(USTOR_VIRTIO_BLK_S_UNSUPP, USTOR_BLOCK_READ),
		 USTOR_ERR_UNSUPPORTED);
	CHECK_EQ(ustor_virtio_blk_status_to_ustor(9, USTOR_BLOCK_READ), USTOR_ERR_BAD_DEVICE);
	CHECK(strcmp(ustor_virtio_blk_status_name(USTOR_VIRTIO_BLK_S_IOERR), "IOERR") == 0);
	CHECK(strcmp(ustor_virtio_blk_status_name(77), "invalid") == 0);
	vfx_finish(&f);
}

/* The device never returns chains: the synchronous call times out, the
 * request is abandoned, shutdown still frees everything. */
static void test_never_complete(void)
{
	struct vfx f;
	uint8_t *b;

	vfx_setup(&f);
	f.cfg.io_timeout_ms = 50;
	f.cfg.cmd_timeout_ms = 0; /* recovery off: test_virtio_recover has it on */
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 4096, 0, 0);
	f.m.never_complete = 1;
	CHECK_ST(ustor_block_read(f.d, 0, 8, b), USTOR_ERR_TIMEOUT);
	CHECK(ustor_test_hal_log_contains(&f.h, "timed out"));
	CHECK_ST(ustor_block_flush(f.d), USTOR_ERR_TIMEOUT);
	/* A timed-out bounce retires the bounce buffer. */
	{
		uint8_t *plain = vfx_plain(&f, 512);
		CHECK_ST(ustor_block_read(f.d, 0, 1, plain), USTOR_ERR_TIMEOUT);
		CHECK(f.d->bounce == NULL);
		CHECK_ST(ustor_block_read(f.d, 0, 1, plain), USTOR_ERR_NOT_DMA_ABLE);
	}
	vfx_finish(&f);
}

/* GET_ID never answered at init: init fails with TIMEOUT, nothing leaks. */
static void test_init_timeout(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.cfg.init_timeout_ms = 20;
	CHECK_OK(vfx_model(&f));
	f.m.never_complete = 1;
	CHECK_ST(vfx_driver(&f), USTOR_ERR_TIMEOUT);
	CHECK(ustor_test_hal_log_contains(&f.h, "GET_ID not completed"));
	vfx_finish(&f);
}

/* Every allocation failing in turn: a clean NO_MEMORY, nothing kept. */
static void test_out_of_memory(void)
{
	int n;

	for (n = 0; n < 8; n++) {
		struct vfx f;
		ustor_status st;

		vfx_setup(&f);
		CHECK_OK(vfx_model(&f));
		f.h.fail_alloc_after = n;
		st = vfx_driver(&f);
		if (f.h.alloc_failures != 0)
			CHECK_ST(st, USTOR_ERR_NO_MEMORY);
		else
			CHECK_OK(st);
		vfx_finish(&f);
	}
}

/* Configuration changes: a generation that moves during reads is retried;
 * a resize is picked up by ustor_virtio_blk_check. */
static void test_config_change(void)
{
	struct vfx f;
	uint8_t *b;

	vfx_setup(&f);
	CHECK_OK(vfx_model(&f));
	f.m.config_gen_churn = 20; /* the init's reads must retry */
	CHECK_OK(vfx_driver(&f));
	if (cur_transport != USTOR_VIRTIO_BLK_MODEL_MMIO1) /* legacy: no generation */
		CHECK_EQ(f.m.config_gen_churn, 0);
	f.m.config_gen_churn = 5;
	CHECK_OK(ustor_virtio_blk_model_set_capacity(&f.m, 1024));
	CHECK_OK(ustor_virtio_blk_check(f.vb));
	CHECK_EQ(f.d->nblocks, 1024);
	CHECK_EQ(f.vb->info.capacity_sectors, 1024);
	b = vfx_buf(&f, 512, 0, 0);
	CHECK_ST(ustor_block_read(f.d, 1024, 1, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_OK(ustor_block_read(f.d, 1023, 1, b));
	CHECK(ustor_test_hal_log_contains(&f.h, "capacity changed"));
	/* Grows back; noticed without a call when a request fails. */
	CHECK_OK(ustor_virtio_blk_model_set_capacity(&f.m, 2048));
	CHECK_OK(ustor_virtio_blk_check(f.vb));
	CHECK_EQ(f.d->nblocks, 2048);
	CHECK_OK(ustor_virtio_blk_check(f.vb)); /* nothing new */
	vfx_finish(&f);
}

/* ---- Bad input -------------------------------------------------------------- */

static void test_bad_input(void)
{
	struct vfx f;
	uint8_t *b;
	struct ustor_block_req req;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 8192, 0, 0x42);
	CHECK_ST(ustor_block_write(f.d, 2047, 2, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_write(f.d, 2048, 1, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_write(f.d, ~0ull, 2, b), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_write(f.d, 0, 0, b), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_write(f.d, 0, 1, NULL), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_read(f.d, 0, 1, NULL), USTOR_ERR_INVALID_ARG);
	memset(&req, 0, sizeof(req));
	req.op = 99;
	req.nblocks = 1;
	CHECK_ST(ustor_block_submit(f.d, &req), USTOR_ERR_INVALID_ARG);
	/* An active request cannot be submitted again. */
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.nblocks = 1;
	req.buf = b;
	f.m.deferred = 1;
	CHECK_OK(ustor_block_submit(f.d, &req));
	CHECK_ST(ustor_block_submit(f.d, &req), USTOR_ERR_IN_PROGRESS);
	ustor_virtio_blk_model_process(&f.m);
	CHECK_EQ(ustor_block_poll(f.d, 0), 1);
	CHECK_EQ(req.state, USTOR_REQ_STATE_DONE);
	CHECK_EQ(ustor_block_poll(f.d, 7), 0); /* any queue number means queue 0 */
	f.m.deferred = 0;
	CHECK_EQ(f.m.writes, 0);
	/* API misuse. */
	CHECK_ST(ustor_virtio_blk_init_mmio(NULL, &f.h.hal, (volatile void *)b, NULL),
		 USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_virtio_blk_shutdown(NULL), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_virtio_blk_check(NULL), USTOR_ERR_INVALID_ARG);
	CHECK(ustor_virtio_blk_bdev(NULL) == NULL);
	vfx_finish(&f);
}

/* Buffers the HAL cannot translate: the async submit refuses them whole,
 * the synchronous calls bounce them. */
static void test_not_dma_able(void)
{
	struct vfx f;
	struct ustor_block_req req;
	uint8_t *plain;
	uint8_t *back;
	uint64_t bytes;
	uint8_t *disk;

	vfx_setup(&f);
	f.mcfg.seg_max = 2; /* 8 KiB chains: 40 KiB needs 5 */
	CHECK_OK(vfx_start(&f));
	disk = vfx_disk(&f, &bytes);
	plain = vfx_plain(&f, 40960);
	fx_pattern(plain, 40960, 3, 512, 61);
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_WRITE;
	req.lba = 3;
	req.nblocks = 80;
	req.buf = plain;
	CHECK_ST(ustor_block_submit(f.d, &req), USTOR_ERR_NOT_DMA_ABLE);
	/* Half DMA-able: registered head, unregistered tail. */
	req.buf = vfx_buf(&f, 8192, 0, 1);
	CHECK_ST(ustor_block_submit(f.d, &req), USTOR_ERR_NOT_DMA_ABLE);
	CHECK_EQ(f.m.writes, 0);
	CHECK(disk[3 * 512] == 0);
	CHECK_OK(ustor_block_write(f.d, 3, 80, plain));
	CHECK(memcmp(disk + 3 * 512, plain, 40960) == 0);
	back = vfx_plain(&f, 40960);
	CHECK_OK(ustor_block_read(f.d, 3, 80, back));
	CHECK(memcmp(back, plain, 40960) == 0);
	vfx_finish(&f);

	vfx_setup(&f);
	f.cfg.bounce_bytes = 0;
	CHECK_OK(vfx_start(&f));
	CHECK(f.d->bounce == NULL);
	plain = vfx_plain(&f, 512);
	CHECK_ST(ustor_block_write(f.d, 0, 1, plain), USTOR_ERR_NOT_DMA_ABLE);
	vfx_finish(&f);
}

/* Scattered bus mapping at 512-byte granules is refused per window (the
 * HAL answers per 4 KiB page); bus-contiguous mapping works. */
static void test_scatter(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.h.scatter_granule = 0;
	CHECK_OK(vfx_start(&f));
	roundtrip(&f, 5, 64, 300, 71);
	vfx_finish(&f);
}

/* PCI specifics: Memory Space / Bus Master switched on by the driver, a
 * zero notify_off_multiplier (one doorbell for all queues), a wrong
 * function or BAR. */
static void test_pci_specifics(void)
{
	struct vfx f;

	if (cur_transport != USTOR_VIRTIO_BLK_MODEL_PCI)
		return;
	vfx_setup(&f);
	f.mcfg.notify_off_multiplier = 0;
	CHECK_OK(vfx_start(&f));
	CHECK(ustor_test_hal_log_contains(&f.h, "enabling PCI memory space"));
	roundtrip(&f, 0, 8, 0, 81);
	vfx_finish(&f);

	/* The BAR's size given: structures inside it pass, a BAR said to be
	 * smaller than the structures is refused. */
	vfx_setup(&f);
	f.cfg.bar_bytes[4] = 16384;
	CHECK_OK(vfx_start(&f));
	vfx_finish(&f);
	vfx_setup(&f);
	f.cfg.bar_bytes[4] = 8192;
	CHECK_ST(vfx_start(&f), USTOR_ERR_BAD_DEVICE);
	CHECK(ustor_test_hal_log_contains(&f.h, "past the BAR"));
	vfx_finish(&f);

	/* The BAR holding the structures not mapped: a clear refusal. */
	vfx_setup(&f);
	CHECK_OK(vfx_model(&f));
	{
		volatile void *bars[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
		CHECK_ST(ustor_virtio_blk_init_pci(f.vb, &f.h.hal,
						   ustor_virtio_blk_model_pci_addr(&f.m), bars,
						   &f.cfg),
			 USTOR_ERR_UNSUPPORTED);
		CHECK(ustor_test_hal_log_contains(&f.h, "capabilities missing"));
	}
	vfx_finish(&f);

	/* No PCI config access in the HAL. */
	vfx_setup(&f);
	CHECK_OK(vfx_model(&f));
	{
		volatile void *bars[6] = {
			NULL, NULL, NULL, NULL, ustor_virtio_blk_model_bar(&f.m, 4), NULL
		};
		struct ustor_hal hal = f.h.hal;

		hal.pci_cfg_read32 = NULL;
		CHECK_ST(ustor_virtio_blk_init_pci(
				 f.vb, &hal, ustor_virtio_blk_model_pci_addr(&f.m), bars, &f.cfg),
			 USTOR_ERR_INVALID_ARG);
	}
	vfx_finish(&f);
}

/* The hosted HAL's 8/16-bit MMIO (hal.mmio_read8/16, mmio_write8/16,
 * decoded by the model's PCI window) is used for the PCI common
 * configuration, the ISR byte and the notification; every PCI test runs
 * on it. With those HAL members NULL the driver falls back to the aligned
 * dword holding the field, enough for queue 0. */
static void test_narrow_access(void)
{
	struct vfx f;
	uint64_t notes;

	if (cur_transport != USTOR_VIRTIO_BLK_MODEL_PCI)
		return; /* virtio-mmio registers are all 32-bit */
	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	CHECK(f.h.mmio_narrow_reads > 0);
	CHECK(f.h.mmio_narrow_writes > 0);
	CHECK_EQ(f.vb->q[0].vq.notify16, 1);
	CHECK(f.m.notifications > 0); /* GET_ID */
	notes = f.m.notifications;
	roundtrip(&f, 0, 16, 0, 91);
	CHECK(f.m.notifications >= notes + 2);
	CHECK_OK(ustor_virtio_blk_check(f.vb));
	vfx_finish(&f);
}

static void test_narrow_fallback(void)
{
	struct vfx f;

	if (cur_transport != USTOR_VIRTIO_BLK_MODEL_PCI)
		return;
	vfx_setup(&f);
	f.h.hal.mmio_read8 = NULL;
	f.h.hal.mmio_read16 = NULL;
	f.h.hal.mmio_write8 = NULL;
	f.h.hal.mmio_write16 = NULL;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.vb->q[0].vq.notify16, 0);
	CHECK(f.m.notifications > 0); /* GET_ID */
	roundtrip(&f, 0, 16, 0, 92);
	CHECK_OK(ustor_virtio_blk_check(f.vb));
	CHECK_EQ(f.h.mmio_narrow_reads, 0);
	CHECK_EQ(f.h.mmio_narrow_writes, 0);
	vfx_finish(&f);
}

/* A CPU that is not DMA-coherent: rings, headers and data buffers are
 * cleaned before the device reads them and invalidated after it wrote. */
static unsigned sync_to_dev;
static unsigned sync_from_dev;
static unsigned sync_both;

static void count_sync(void *ctx, const void *virt, size_t len, enum ustor_dma_dir dir)
{
	(void)ctx;
	(void)virt;
	CHECK(len > 0);
	if (dir == USTOR_DMA_TO_DEVICE)
		sync_to_dev++;
	else if (dir == USTOR_DMA_FROM_DEVICE)
		sync_from_dev++;
	else
		sync_both++;
}

static void test_dma_sync(void)
{
	struct vfx f;
	unsigned from_before;

	vfx_setup(&f);
	f.h.hal.dma_sync = count_sync;
	sync_to_dev = sync_from_dev = sync_both = 0;
	CHECK_OK(vfx_start(&f));
	CHECK(f.vb->q[0].vq.sync);
	roundtrip(&f, 3, 16, 0, 95);
	CHECK(sync_to_dev > 0);
	CHECK(sync_both > 0);
	from_before = sync_from_dev;
	CHECK_OK(ustor_block_read(f.d, 0, 8, vfx_buf(&f, 4096, 0, 0)));
	CHECK(sync_from_dev >= from_before + 3); /* used ring, status, data */
	CHECK_OK(ustor_block_discard(f.d, 0, 8));
	vfx_finish(&f);
}

/* Interrupts left on (use_irq): the device sends them, and
 * ustor_virtio_blk_check acknowledges them. */
static void test_irq(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.cfg.use_irq = 1;
	CHECK_OK(vfx_start(&f));
	roundtrip(&f, 0, 8, 0, 97);
	CHECK(f.m.used_notifications > 0);
	CHECK(ustor_virtio_blk_model_isr(&f.m) & 1u);
	CHECK_OK(ustor_virtio_blk_check(f.vb));
	CHECK_EQ(ustor_virtio_blk_model_isr(&f.m), 0);
	vfx_finish(&f);
}

/* MMIO specifics: probing a window, and refusing a non-block device. */
static void test_mmio_specifics(void)
{
	struct vfx f;
	uint32_t id = 0;
	uint32_t ver = 0;

	if (cur_transport == USTOR_VIRTIO_BLK_MODEL_PCI)
		return;
	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	CHECK_OK(ustor_virtio_mmio_probe(&f.h.hal, ustor_virtio_blk_model_mmio_base(&f.m), &id,
					 &ver));
	CHECK_EQ(id, 2);
	CHECK_EQ(ver, cur_transport == USTOR_VIRTIO_BLK_MODEL_MMIO1 ? 1 : 2);
	CHECK_EQ(f.vb->dev.vendor_id, 0x554d4551);
	vfx_finish(&f);
}

/* The block-device conformance suite on this transport. */
static void *conf_buf(void *ctx, size_t len, size_t offset, int fill)
{
	return vfx_buf(ctx, len, offset, fill);
}

static void conf_hold(void *ctx, int on)
{
	struct vfx *f = ctx;

	f->m.deferred = on;
	f->m.reorder = on;
}

static unsigned conf_release(void *ctx)
{
	struct vfx *f = ctx;

	return ustor_virtio_blk_model_process(&f->m);
}

static void run_conformance(uint32_t blk_size, int read_only, uint64_t drop_features)
{
	struct vfx f;
	struct conformance_target t;

	vfx_setup(&f);
	f.mcfg.blk_size = blk_size;
	f.mcfg.capacity_sectors = blk_size == 512 ? 4096 : 8192;
	f.mcfg.read_only = read_only;
	f.mcfg.features &= ~drop_features;
	CHECK_OK(vfx_start(&f));
	memset(&t, 0, sizeof(t));
	t.name = "virtio-blk";
	t.bdev = f.d;
	t.disk = vfx_disk(&f, &t.disk_bytes);
	t.buf = conf_buf;
	t.hold = conf_hold;
	t.release = conf_release;
	t.ctx = &f;
	if (t.bdev != NULL)
		conformance_run(&t);
	vfx_finish(&f);
}

static void test_conformance(void)
{
	run_conformance(512, 0, 0);
	run_conformance(4096, 0, 0);
	run_conformance(512, 1, 0);
	run_conformance(512, 0,
			USTOR_VIRTIO_BLK_MODEL_F_DISCARD | USTOR_VIRTIO_BLK_MODEL_F_WRITE_ZEROES |
				USTOR_VIRTIO_BLK_MODEL_F_FLUSH);
}

/* ---- Ring features: EVENT_IDX, indirect, packed, several queues -------- */

/* One combination of ring features: negotiated exactly as offered and
 * allowed, then the whole conformance suite, with I/O on every queue. */
static void run_mode(int packed, int event_idx, int indirect, uint16_t queues)
{
	struct vfx f;
	struct conformance_target t;
	int modern = cur_transport != USTOR_VIRTIO_BLK_MODEL_MMIO1;
	uint16_t i;

	vfx_setup(&f);
	f.mcfg.capacity_sectors = 4096;
	f.mcfg.num_queues = 4;
	if (packed)
		f.mcfg.features |= USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED;
	f.cfg.packed = (uint8_t)packed;
	f.cfg.event_idx = (uint8_t)event_idx;
	f.cfg.indirect = (uint8_t)indirect;
	f.cfg.num_queues = queues;
	CHECK_OK(vfx_start(&f));
	if (f.d == NULL) {
		vfx_finish(&f);
		return;
	}
	CHECK_EQ(f.vb->info.packed, packed && modern); /* bit 34: modern only */
	CHECK_EQ(f.vb->info.event_idx, event_idx);
	CHECK_EQ(f.vb->info.indirect, indirect);
	CHECK_EQ(f.d->nqueues, queues);
	CHECK_EQ(f.vb->info.num_queues, queues > 1 ? 4 : 1);
	CHECK_EQ(!!(ustor_virtio_blk_model_features(&f.m) & USTOR_VIRTIO_BLK_MODEL_F_MQ),
		 queues > 1);
	memset(&t, 0, sizeof(t));
	t.name = "virtio-blk";
	t.bdev = f.d;
	t.disk = vfx_disk(&f, &t.disk_bytes);
	t.buf = conf_buf;
	t.hold = conf_hold;
	t.release = conf_release;
	t.ctx = &f;
	conformance_run(&t);
	/* Every queue carries I/O of its own (the model answers a queue only
	 * on its own notification, in its own used ring). */
	for (i = 0; i < queues; i++) {
		struct ustor_block_req w;
		struct ustor_block_req r;
		uint8_t *wb = vfx_buf(&f, 16 * 512, 512, 0);
		uint8_t *rb = vfx_buf(&f, 16 * 512, 512, 0xee);
		uint32_t before = f.vb->q[i].vq.notifies;

		fx_pattern(wb, 16 * 512, 100u + 16u * i, 512, 70u + i);
		memset(&w, 0, sizeof(w));
		w.op = USTOR_BLOCK_WRITE;
		w.queue = i;
		w.lba = 100u + 16u * i;
		w.nblocks = 16;
		w.buf = wb;
		CHECK_OK(ustor_block_run(f.d, &w));
		r = w;
		r.op = USTOR_BLOCK_READ;
		r.buf = rb;
		r.state = 0;
		CHECK_OK(ustor_block_run(f.d, &r));
		CHECK(memcmp(wb, rb, 16 * 512) == 0);
		CHECK(f.vb->q[i].vq.notifies > before);
		CHECK_EQ(f.vb->q[i].vq.num_free, f.vb->q[i].vq.size);
	}
	CHECK(f.m.indirect_tables > 0 || !indirect);
	CHECK(f.m.indirect_tables == 0 || indirect);
	CHECK_EQ(f.m.notifications_unneeded, 0);
	vfx_finish(&f);
}

static void test_ring_modes(void)
{
	int packed;
	int ei;
	int ind;

	for (packed = 0; packed < 2; packed++)
		for (ei = 0; ei < 2; ei++)
			for (ind = 0; ind < 2; ind++) {
				run_mode(packed, ei, ind, 1);
				run_mode(packed, ei, ind, 3);
			}
}

/* The config and the build cap num_queues; a device without MQ gives 1. */
static void test_num_queues(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.mcfg.num_queues = 2;
	f.cfg.num_queues = 8; /* more than the device has */
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.d->nqueues, 2);
	/* A request naming a queue past the end goes to queue 0. */
	{
		uint8_t *b = vfx_buf(&f, 512, 0, 0);
		struct ustor_block_req r;

		memset(&r, 0, sizeof(r));
		r.op = USTOR_BLOCK_READ;
		r.queue = 7;
		r.nblocks = 1;
		r.buf = b;
		CHECK_OK(ustor_block_run(f.d, &r));
	}
	vfx_finish(&f);

	vfx_setup(&f);
	f.mcfg.num_queues = 4;
	f.mcfg.features &= ~USTOR_VIRTIO_BLK_MODEL_F_MQ;
	f.cfg.num_queues = 4;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(f.d->nqueues, 1);
	vfx_finish(&f);

	/* num_queues 0 in the configuration space with MQ: refused. */
	vfx_setup(&f);
	f.mcfg.num_queues = 4;
	f.cfg.num_queues = 2;
	f.cfg.disable_features = 0;
	CHECK_OK(vfx_model(&f));
	CHECK_OK(vfx_driver(&f));
	CHECK_EQ(f.d->nqueues, 2);
	vfx_finish(&f);
}

/* USTOR_REQ_F_MORE: no notification until the batch's last request, a
 * kick or a poll; then one for the whole batch. */
static void test_batching(void)
{
	enum { N = 8 };
	struct vfx f;
	struct ustor_block_req reqs[N];
	struct async_ctx a = { 0, 0, USTOR_OK };
	uint8_t *b;
	uint64_t notes;
	unsigned i;
	int pass;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, N * 512, 0, 0);
	for (pass = 0; pass < 3; pass++) {
		notes = f.m.notifications;
		a.done = 0;
		for (i = 0; i < N; i++) {
			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].op = USTOR_BLOCK_READ;
			reqs[i].lba = i;
			reqs[i].nblocks = 1;
			reqs[i].buf = b + i * 512u;
			reqs[i].done = on_done;
			reqs[i].user = &a;
			/* pass 0: the last one ends the batch; 1: kick; 2: poll */
			reqs[i].flags = (pass == 0 && i == N - 1) ? 0 : USTOR_REQ_F_MORE;
			CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
		}
		if (pass == 1) {
			CHECK_EQ(f.m.notifications, notes); /* nothing went to the device */
			ustor_block_kick(f.d, 0);
		}
		if (pass == 2)
			CHECK_EQ(f.m.reads, 8u * 2u);
		ustor_block_poll(f.d, 0);
		ustor_block_poll(f.d, 0);
		CHECK_EQ(f.m.notifications, notes + 1);
		CHECK_EQ(a.done, N);
		CHECK_EQ(a.errors, 0);
	}
	CHECK_EQ(f.m.reads, 8u * 3u);
	vfx_finish(&f);
}

/* EVENT_IDX, notifications: the device's avail_event (split) or event
 * area (packed) is obeyed, across the 16-bit wrap. */
static void test_event_idx_notify(void)
{
	struct vfx f;
	uint8_t *b;
	uint64_t notes;
	unsigned i;

	if (!cur_event_idx)
		return; /* without EVENT_IDX every kick notifies (test_batching) */
	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 512, 0, 0);
	/* Drive the indices close to the 16-bit wrap. */
	for (i = 0; i < 300; i++)
		CHECK_OK(ustor_block_read(f.d, i & 7u, 1, b));
	notes = f.m.notifications;
	CHECK_EQ(notes, 301); /* GET_ID + one per request: the model wants each */
	CHECK_EQ(f.vb->q[0].vq.notifies_saved, 0);
	/* As a device that polls would: ask for the notification only after
	 * 3 more chains. Reads are asynchronous so nothing waits. */
	{
		struct ustor_virtq *vq = &f.vb->q[0].vq;
		struct ustor_block_req r[3];
		struct async_ctx a = { 0, 0, USTOR_OK };

		/* Written as the device would: little-endian, or the CPU's
		 * order on legacy. */
		if (vq->packed) {
			uint16_t pos = (uint16_t)((vq->avail_shadow + 2u) & vq->mask);
			uint16_t wrap = vq->avail_wrap ^ (pos < vq->avail_shadow);

			vq->dev_evt->off_wrap = ustor_cpu_to_le16((uint16_t)(pos | (wrap << 15)));
			vq->dev_evt->flags = ustor_cpu_to_le16(USTOR_PVIRTQ_EVENT_F_DESC);
		} else {
			uint16_t ev = (uint16_t)(vq->avail_shadow + 2u);

			*vq->avail_event = vq->legacy ? ev : ustor_cpu_to_le16(ev);
		}
		for (i = 0; i < 3; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].op = USTOR_BLOCK_READ;
			r[i].lba = i;
			r[i].nblocks = 1;
			r[i].buf = b;
			r[i].done = on_done;
			r[i].user = &a;
			CHECK_OK(ustor_block_submit(f.d, &r[i]));
			/* the first two are not notified; the third is */
			CHECK_EQ(f.m.notifications, notes + (i == 2 ? 1u : 0u));
		}
		CHECK_EQ(vq->notifies_saved, 2);
		ustor_block_poll(f.d, 0);
		CHECK_EQ(a.done, 3);
		CHECK_EQ(f.m.notifications_unneeded, 0);
	}
	vfx_finish(&f);
}

/* Interrupt suppression: off sends none (with or without EVENT_IDX), on
 * sends them, adaptive suppresses at depth and still never loses one. */
static void test_irq_modes(void)
{
	enum { N = 24 };
	struct vfx f;
	struct ustor_block_req reqs[N];
	struct async_ctx a = { 0, 0, USTOR_OK };
	uint8_t *b;
	unsigned i;
	int mode;

	for (mode = 0; mode < 3; mode++) {
		uint64_t irqs;

		vfx_setup(&f);
		f.cfg.use_irq = (uint8_t)mode;
		CHECK_OK(vfx_start(&f));
		b = vfx_buf(&f, N * 512, 0, 0);
		roundtrip(&f, 0, 8, 0, 5);
		irqs = f.m.used_notifications;
		if (mode == USTOR_VIRTIO_BLK_IRQ_OFF)
			CHECK_EQ(irqs, 0);
		else
			CHECK(irqs >= 2);
		/* Deep queue, completions held and released at once. */
		f.m.deferred = 1;
		a.done = 0;
		for (i = 0; i < N; i++) {
			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].op = USTOR_BLOCK_READ;
			reqs[i].lba = i;
			reqs[i].nblocks = 1;
			reqs[i].buf = b + i * 512u;
			reqs[i].done = on_done;
			reqs[i].user = &a;
			CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
		}
		ustor_block_poll(f.d, 0); /* adaptive: depth 24 > 4 */
		irqs = f.m.used_notifications;
		f.m.reorder = 1; /* newest first */
		ustor_virtio_blk_model_process(&f.m);
		ustor_block_poll(f.d, 0);
		CHECK_EQ(a.done, N);
		/* All 24 are posted at once while 24 are in flight: adaptive
		 * mode suppressed the interrupt, except with EVENT_IDX (split,
		 * or packed with indirect tables), where the event index
		 * coalesces it into one. */
		if (mode == USTOR_VIRTIO_BLK_IRQ_OFF)
			CHECK_EQ(f.m.used_notifications, 0);
		else if (mode == USTOR_VIRTIO_BLK_IRQ_ON ||
			 (f.vb->info.event_idx && (!f.vb->info.packed || f.vb->info.indirect)))
			CHECK_EQ(f.m.used_notifications, irqs + 1); /* one for the batch */
		else
			CHECK_EQ(f.m.used_notifications, irqs);
		if (mode == USTOR_VIRTIO_BLK_IRQ_ADAPTIVE && f.vb->info.event_idx &&
		    (!f.vb->info.packed || f.vb->info.indirect))
			CHECK(f.vb->q[0].interrupts_armed > 0);
		f.m.deferred = 0;
		vfx_finish(&f);
	}
}

/* Adaptive mode without EVENT_IDX at depth: the device is told not to
 * interrupt (NO_INTERRUPT / DISABLE) until the depth falls. */
static void test_irq_adaptive_suppress(void)
{
	enum { N = 12 };
	struct vfx f;
	struct ustor_block_req reqs[N];
	struct async_ctx a = { 0, 0, USTOR_OK };
	uint8_t *b;
	unsigned i;
	uint64_t irqs;

	vfx_setup(&f);
	f.cfg.use_irq = USTOR_VIRTIO_BLK_IRQ_ADAPTIVE;
	f.cfg.event_idx = 0;
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, N * 512, 0, 0);
	f.m.deferred = 1;
	for (i = 0; i < N; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].lba = i;
		reqs[i].nblocks = 1;
		reqs[i].buf = b + i * 512u;
		reqs[i].done = on_done;
		reqs[i].user = &a;
		CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
	}
	ustor_block_poll(f.d, 0);
	CHECK_EQ(f.vb->q[0].vq.irq_on, 0);
	CHECK_EQ(f.vb->q[0].interrupts_off, 1);
	irqs = f.m.used_notifications;
	ustor_virtio_blk_model_process(&f.m);
	CHECK_EQ(f.m.used_notifications, irqs); /* suppressed */
	ustor_block_poll(f.d, 0);
	CHECK_EQ(a.done, N);
	CHECK_EQ(f.vb->q[0].vq.irq_on, 1); /* low load again */
	f.m.deferred = 0;
	roundtrip(&f, 0, 1, 0, 3);
	CHECK(f.m.used_notifications > irqs);
	vfx_finish(&f);
}

/* MSI-X over PCI: a configuration vector and one per queue, read back;
 * vectors past the table are refused (NO_VECTOR) and polling still works. */
static void test_msix(void)
{
	struct vfx f;

	if (cur_transport != USTOR_VIRTIO_BLK_MODEL_PCI) {
		vfx_setup(&f);
		f.cfg.msix = 1;
		CHECK_OK(vfx_start(&f));
		CHECK_EQ(ustor_virtio_blk_queue_vector(f.vb, 0), USTOR_VIRTIO_MSI_NO_VECTOR);
		CHECK_EQ(ustor_virtio_blk_config_vector(f.vb), USTOR_VIRTIO_MSI_NO_VECTOR);
		vfx_finish(&f);
		return;
	}
	vfx_setup(&f);
	f.mcfg.num_queues = 2;
	f.cfg.num_queues = 2;
	f.cfg.msix = 1;
	f.cfg.use_irq = USTOR_VIRTIO_BLK_IRQ_ON;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(ustor_virtio_blk_config_vector(f.vb), 0);
	CHECK_EQ(ustor_virtio_blk_queue_vector(f.vb, 0), 1);
	CHECK_EQ(ustor_virtio_blk_queue_vector(f.vb, 1), 2);
	CHECK_EQ(ustor_virtio_blk_queue_vector(f.vb, 2), USTOR_VIRTIO_MSI_NO_VECTOR);
	roundtrip(&f, 0, 8, 0, 9);
	vfx_finish(&f);

	/* The table has 3 entries: base 1 leaves queue 1 (entry 3) refused. */
	vfx_setup(&f);
	f.mcfg.num_queues = 2;
	f.cfg.num_queues = 2;
	f.cfg.msix = 1;
	f.cfg.msix_base = 1;
	CHECK_OK(vfx_start(&f));
	CHECK_EQ(ustor_virtio_blk_config_vector(f.vb), 1);
	CHECK_EQ(ustor_virtio_blk_queue_vector(f.vb, 0), 2);
	CHECK_EQ(ustor_virtio_blk_queue_vector(f.vb, 1), USTOR_VIRTIO_MSI_NO_VECTOR);
	CHECK(ustor_test_hal_log_contains(&f.h, "refused"));
	roundtrip(&f, 0, 8, 0, 10);
	{
		struct ustor_block_req r;
		uint8_t *b = vfx_buf(&f, 512, 0, 0);

		memset(&r, 0, sizeof(r));
		r.op = USTOR_BLOCK_READ;
		r.queue = 1;
		r.nblocks = 1;
		r.buf = b;
		CHECK_OK(ustor_block_run(f.d, &r)); /* polled */
	}
	vfx_finish(&f);
}

/* Per-CPU queues: no HAL lock taken on I/O even though the HAL has one. */
static unsigned lock_calls;
static void count_lock(void *ctx, volatile uint32_t *l)
{
	(void)ctx;
	(void)l;
	lock_calls++;
}

static void test_per_cpu(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.h.hal.lock = count_lock;
	f.h.hal.unlock = count_lock;
	f.mcfg.num_queues = 2;
	f.cfg.num_queues = 2;
	f.cfg.per_cpu = 1;
	CHECK_OK(vfx_start(&f));
	lock_calls = 0;
	roundtrip(&f, 0, 8, 0, 12);
	CHECK_EQ(lock_calls, 0);
	vfx_finish(&f);

	vfx_setup(&f);
	f.h.hal.lock = count_lock;
	f.h.hal.unlock = count_lock;
	CHECK_OK(vfx_start(&f));
	lock_calls = 0;
	roundtrip(&f, 0, 8, 0, 12);
	CHECK(lock_calls > 0); /* shared mode */
	vfx_finish(&f);
}

/* Statistics hooks: each accepted request counted once on its queue when
 * it finishes (errors and timeouts too), depth back to 0. */
static void test_stats_hooks(void)
{
	struct vfx f;
	struct ustor_block_queue_stats mem[2];
	struct ustor_block_stats st;
	struct ustor_block_req r;
	uint8_t *b;
	unsigned i;

	vfx_setup(&f);
	f.mcfg.num_queues = 2;
	f.cfg.num_queues = 2;
	f.cfg.io_timeout_ms = 50;
	CHECK_OK(vfx_start(&f));
	b = vfx_buf(&f, 8 * 512, 0, 0);
	memset(mem, 0, sizeof(mem));
	CHECK_OK(ustor_block_stats_enable(f.d, mem, 2));
	for (i = 0; i < 5; i++) {
		memset(&r, 0, sizeof(r));
		r.op = i < 3 ? USTOR_BLOCK_READ : USTOR_BLOCK_WRITE;
		r.queue = i < 3 ? 0 : 1;
		r.lba = i;
		r.nblocks = 8;
		r.buf = b;
		CHECK_OK(ustor_block_run(f.d, &r));
	}
	f.m.ioerr_sector_first = 100;
	f.m.ioerr_sector_count = 1;
	memset(&r, 0, sizeof(r));
	r.op = USTOR_BLOCK_READ;
	r.queue = 1;
	r.lba = 100;
	r.nblocks = 1;
	r.buf = b;
	CHECK_ST(ustor_block_run(f.d, &r), USTOR_ERR_MEDIA);
	f.m.never_complete = 1;
	memset(&r, 0, sizeof(r));
	r.op = USTOR_BLOCK_READ;
	r.queue = 0;
	r.nblocks = 1;
	r.buf = b;
	CHECK_ST(ustor_block_run(f.d, &r), USTOR_ERR_TIMEOUT);
	CHECK_OK(ustor_block_stats_get(f.d, 0, &st));
	CHECK_EQ(st.read_ops, 3);
	CHECK_EQ(st.write_ops, 0);
	CHECK_EQ(st.timeouts, 1);
	CHECK_EQ(st.depth, 0);
	CHECK_OK(ustor_block_stats_get(f.d, 1, &st));
	CHECK_EQ(st.read_ops, 0);
	CHECK_EQ(st.write_ops, 2);
	CHECK_EQ(st.write_bytes, 2 * 8 * 512);
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.depth, 0);
	CHECK_EQ(st.max_depth, 1);
	f.allow_violations = 1;
	vfx_finish(&f);
}

/* Polling with split EVENT_IDX past the 16-bit index wrap: used_event
 * is kept trailing, so the device never raises an interrupt, and the
 * driver's indices wrap cleanly (70000 chains, 32 in flight). */
static void test_event_idx_wrap(void)
{
	enum { QD = 32, TOTAL = 70000 };
	struct vfx f;
	struct ustor_block_req reqs[QD];
	struct async_ctx a = { 0, 0, USTOR_OK };
	uint8_t *b;
	unsigned i;
	unsigned issued = 0;
	unsigned spins = 0;

	vfx_setup(&f);
	CHECK_OK(vfx_start(&f));
	CHECK(f.vb->info.event_idx);
	b = vfx_buf(&f, QD * 512, 0, 0);
	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < QD; i++) {
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].lba = i;
		reqs[i].nblocks = 1;
		reqs[i].buf = b + i * 512u;
		reqs[i].done = on_done;
		reqs[i].user = &a;
		CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
		issued++;
	}
	while (a.done < TOTAL && spins++ < 4u * TOTAL) {
		ustor_block_poll(f.d, 0);
		for (i = 0; i < QD && issued < TOTAL; i++)
			if (reqs[i].state == USTOR_REQ_STATE_DONE) {
				CHECK_OK(ustor_block_submit(f.d, &reqs[i]));
				issued++;
			}
	}
	CHECK_EQ(a.done, TOTAL);
	CHECK_EQ(a.errors, 0);
	CHECK_EQ(f.m.used_notifications, 0);
	CHECK(f.m.used_suppressed > 0);
	vfx_finish(&f);
}

/* Bad configs are refused before the device is touched. */
static void test_bad_ring_config(void)
{
	struct vfx f;

	vfx_setup(&f);
	f.cfg.indirect = 1;
	f.cfg.indirect_max = 2;
	CHECK_OK(vfx_model(&f));
	CHECK_ST(vfx_driver(&f), USTOR_ERR_INVALID_ARG);
	vfx_finish(&f);
	vfx_setup(&f);
	f.cfg.use_irq = 3;
	CHECK_OK(vfx_model(&f));
	CHECK_ST(vfx_driver(&f), USTOR_ERR_INVALID_ARG);
	vfx_finish(&f);
}

/* ---- Runner ----------------------------------------------------------------- */

struct vtest {
	const char *name;
	void (*fn)(void);
};

#define T(fn)           \
	{               \
#fn, fn \
	}
static const struct vtest tests[] = {
	T(test_init_512),
	T(test_init_4096),
	T(test_roundtrip),
	T(test_queue_size),
	T(test_flush),
	T(test_discard_write_zeroes),
	T(test_read_only),
	T(test_split),
	T(test_in_flight),
	T(test_shutdown_outstanding),
	T(test_refuse_features),
	T(test_no_version_1),
	T(test_needs_reset),
	T(test_bad_used_id),
	T(test_bad_used_len),
	T(test_ioerr),
	T(test_never_complete),
	T(test_init_timeout),
	T(test_out_of_memory),
	T(test_config_change),
	T(test_bad_input),
	T(test_not_dma_able),
	T(test_scatter),
	T(test_pci_specifics),
	T(test_narrow_access),
	T(test_narrow_fallback),
	T(test_dma_sync),
	T(test_irq),
	T(test_mmio_specifics),
	T(test_conformance),
	T(test_ring_modes),
	T(test_num_queues),
	T(test_batching),
	T(test_event_idx_notify),
	T(test_irq_modes),
	T(test_irq_adaptive_suppress),
	T(test_msix),
	T(test_per_cpu),
	T(test_bad_ring_config),
	T(test_stats_hooks),
};

/* Tests that also run on the packed ring. */
static const struct vtest packed_tests[] = {
	T(test_init_512),
	T(test_roundtrip),
	T(test_queue_size),
	T(test_flush),
	T(test_split),
	T(test_in_flight),
	T(test_shutdown_outstanding),
	T(test_needs_reset),
	T(test_bad_used_id),
	T(test_bad_used_len),
	T(test_ioerr),
	T(test_never_complete),
	T(test_scatter),
	T(test_dma_sync),
	T(test_irq),
	T(test_conformance),
	T(test_batching),
	T(test_event_idx_notify),
	T(test_irq_modes),
	T(test_irq_adaptive_suppress),
};

static char run_names[4096][96];
static unsigned run_nnames;

static void run_list(const struct vtest *list, unsigned n, const char *label)
{
	static const char *const tname[] = { "pci", "mmio2", "mmio1" };
	unsigned i;

	for (i = 0; i < n && run_nnames < 4096; i++) {
		char *name = run_names[run_nnames++];

		snprintf(name, 96, "%s [%s%s]", list[i].name, tname[cur_transport], label);
		harness_run(name, list[i].fn);
	}
}

static void run_all(void)
{
	unsigned t;
	unsigned n = sizeof(tests) / sizeof(tests[0]);
	unsigned np = sizeof(packed_tests) / sizeof(packed_tests[0]);

	for (t = 0; t < 3; t++) {
		cur_transport = (enum ustor_virtio_blk_model_transport)t;
		/* The driver's defaults (split, EVENT_IDX, indirect), then
		 * with both off. */
		cur_event_idx = 1;
		cur_indirect = 1;
		run_list(tests, n, "");
		cur_event_idx = 0;
		cur_indirect = 0;
		run_list(tests, n, " plain");
		if (t == USTOR_VIRTIO_BLK_MODEL_MMIO1)
			continue; /* no packed ring on legacy */
		cur_packed = 1;
		cur_event_idx = 1;
		cur_indirect = 1;
		run_list(packed_tests, np, " packed");
		cur_event_idx = 0;
		cur_indirect = 0;
		run_list(packed_tests, np, " packed plain");
		cur_packed = 0;
	}
	cur_event_idx = 1;
	cur_indirect = 1;
}

int main(void)
{
	run_all();
	/* The I/O path again without a HAL lock (a single-CPU kernel). */
	harness_no_lock = 1;
	cur_transport = USTOR_VIRTIO_BLK_MODEL_MMIO2;
	RUN(test_roundtrip);
	RUN(test_in_flight);
	RUN(test_shutdown_outstanding);
	RUN(test_bad_used_id);
	RUN(test_conformance);
	harness_no_lock = 0;
	RUN(test_event_idx_wrap);
	return harness_done();
}
