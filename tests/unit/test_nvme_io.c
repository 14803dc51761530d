/* SPDX-License-Identifier: MIT */
/* NVMe I/O through the block layer against the model: data integrity, PRP
 * lists, MDTS splitting, bad input, bounce, fault knobs, queue depth. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct ustor_block_device *bdev0(struct fixture *f)
{
	return ustor_nvme_ns_bdev(f->ctrl, 0);
}

/* Write a pattern with the block API, check the model's RAM, read it back. */
static void roundtrip(struct fixture *f, struct ustor_block_device *d, uint32_t nsid, uint64_t lba,
		      uint32_t n, size_t offset, uint32_t seed)
{
	size_t len = (size_t)n * d->block_size;
	uint8_t *w = fx_buf(f, len, offset, 0);
	uint8_t *r = fx_buf(f, len, offset, 0xee);
	uint64_t bytes = 0;
	uint8_t *disk = ustor_nvme_model_ns_data(&f->m, nsid, &bytes);

	fx_pattern(w, len, lba, d->block_size, seed);
	CHECK_OK(ustor_block_write(d, lba, n, w));
	CHECK(disk != NULL && bytes >= (lba + n) * d->block_size);
	if (disk != NULL)
		CHECK(memcmp(disk + lba * d->block_size, w, len) == 0);
	CHECK_OK(ustor_block_read(d, lba, n, r));
	CHECK(memcmp(r, w, len) == 0);
}

static void test_roundtrip_512(void)
{
	struct fixture f;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	roundtrip(&f, bdev0(&f), 1, 0, 1, 0, 1);
	roundtrip(&f, bdev0(&f), 1, 7, 9, 0, 2);      /* two pages via PRP2 */
	roundtrip(&f, bdev0(&f), 1, 100, 24, 512, 3); /* unaligned start: 4 pages, a PRP list */
	roundtrip(&f, bdev0(&f), 1, 2047, 1, 4092 - 508, 4); /* last block, odd dword offset */
	fx_finish(&f);
}

/* HARDWARE.md 10: 4 KiB LBA format. */
static void test_roundtrip_4k(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.ns[0].lbads = 12;
	f.mcfg.ns[0].nblocks = 512;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(bdev0(&f)->block_size, 4096);
	CHECK_EQ(bdev0(&f)->block_shift, 12);
	roundtrip(&f, bdev0(&f), 1, 0, 1, 0, 5);
	roundtrip(&f, bdev0(&f), 1, 500, 12, 0, 6);
	fx_finish(&f);
}

/* HARDWARE.md 7: requests larger than MDTS are split; MDTS counts in MPSMIN
 * units; a settable cap applies on top. */
static void test_mdts_split(void)
{
	struct fixture f;

	fx_setup(&f);
	f.mcfg.mdts = 1; /* 8 KiB per command */
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->max_transfer, 8192);
	roundtrip(&f, bdev0(&f), 1, 10, 100, 0, 7); /* 50 KiB: 7 commands */
	CHECK_EQ(f.m.io_cmds[0x01], 7);
	CHECK_EQ(f.m.io_cmds[0x02], 7);
	fx_finish(&f);

	fx_setup(&f);
	f.mcfg.mdts = 0; /* unlimited ... */
	f.cfg.max_transfer_bytes = 16384; /* ... but capped */
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->max_transfer, 16384);
	roundtrip(&f, bdev0(&f), 1, 0, 128, 0, 8);
	CHECK_EQ(f.m.io_cmds[0x01], 4);
	fx_finish(&f);

	fx_setup(&f);
	f.mcfg.mdts = 1;
	f.mcfg.mpsmin = 1; /* 2 x 8 KiB pages = 16 KiB */
	f.h.scatter_granule = 8192;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->max_transfer, 16384);
	fx_finish(&f);
}

/* HARDWARE.md 6: a PRP list that fills a page chains through its last entry. */
static void test_prp_list_chaining(void)
{
	struct fixture f;
	uint32_t nblocks = (4u << 20) / 512 + 8; /* > 4 MiB: three list pages */

	fx_setup(&f);
	f.mcfg.mdts = 0;
	f.mcfg.ns[0].nblocks = 16384; /* 8 MiB */
	f.cfg.max_transfer_bytes = 8u << 20;
	f.cfg.io_queue_depth = 4;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->io[0].prp_area_bytes, 5 * 4096); /* 2048 entries, chained */
	roundtrip(&f, bdev0(&f), 1, 16, nblocks, 2048, 9);
	CHECK_EQ(f.m.io_cmds[0x01], 1); /* one command, chained list */
	fx_finish(&f);
}

static void test_bad_input(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;
	uint64_t bytes;
	uint8_t *disk;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	buf = fx_buf(&f, 8192, 0, 0x42);
	disk = ustor_nvme_model_ns_data(&f.m, 1, &bytes);
	CHECK_ST(ustor_block_write(d, 2047, 2, buf), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_write(d, 2048, 1, buf), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_write(d, ~0ull, 2, buf), USTOR_ERR_OUT_OF_RANGE); /* wraps */
	CHECK_ST(ustor_block_write(d, 0, 0, buf), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_write(d, 0, 1, NULL), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_read(d, 0, 1, NULL), USTOR_ERR_INVALID_ARG);
	CHECK_ST(ustor_block_discard(d, 2040, 9), USTOR_ERR_OUT_OF_RANGE);
	CHECK_ST(ustor_block_write(NULL, 0, 1, buf), USTOR_ERR_INVALID_ARG);
	{
		struct ustor_block_req req;
		memset(&req, 0, sizeof(req));
		req.op = 99;
		req.nblocks = 1;
		CHECK_ST(ustor_block_submit(d, &req), USTOR_ERR_INVALID_ARG);
	}
	/* A read-only device refuses writes, discards and zeroes; reads work. */
	d->flags |= USTOR_BDEV_F_READ_ONLY;
	CHECK_ST(ustor_block_write(d, 0, 1, buf), USTOR_ERR_READ_ONLY);
	CHECK_ST(ustor_block_write_zeroes(d, 0, 1), USTOR_ERR_READ_ONLY);
	CHECK_OK(ustor_block_read(d, 0, 1, buf));
	d->flags &= ~(uint32_t)USTOR_BDEV_F_READ_ONLY;
	/* Nothing reached the disk. */
	CHECK_EQ(f.m.io_cmds[0x01] + f.m.io_cmds[0x08] + f.m.io_cmds[0x09], 0);
	CHECK(disk[0] == 0 && disk[bytes - 1] == 0);
	fx_finish(&f);
}

/* A buffer the HAL cannot translate: the asynchronous submit refuses it
 * whole; the synchronous calls bounce it; with no bounce buffer they refuse. */
static void test_not_dma_able(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req req;
	uint8_t *plain;
	uint8_t *back;
	uint64_t bytes;
	uint8_t *disk;

	fx_setup(&f);
	f.mcfg.mdts = 1; /* 8 KiB commands: a 40 KiB request needs 5 */
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	disk = ustor_nvme_model_ns_data(&f.m, 1, &bytes);
	plain = fx_plain(&f, 40960);
	fx_pattern(plain, 40960, 3, 512, 11);
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_WRITE;
	req.lba = 3;
	req.nblocks = 80;
	req.buf = plain;
	CHECK_ST(ustor_block_submit(d, &req), USTOR_ERR_NOT_DMA_ABLE);
	CHECK_EQ(f.m.io_cmds[0x01], 0);
	CHECK(disk[3 * 512] == 0);
	/* Half DMA-able: a registered buffer whose tail is not registered. */
	{
		uint8_t *half = fx_buf(&f, 8192, 0, 1);
		req.buf = half; /* 40 KiB from an 8 KiB (+4 KiB slack) mapping */
		CHECK_ST(ustor_block_submit(d, &req), USTOR_ERR_NOT_DMA_ABLE);
		CHECK_EQ(f.m.io_cmds[0x01], 0);
	}
	/* Synchronous: bounced through the 64 KiB bounce buffer. */
	CHECK_OK(ustor_block_write(d, 3, 80, plain));
	CHECK(memcmp(disk + 3 * 512, plain, 40960) == 0);
	back = fx_plain(&f, 40960);
	CHECK_OK(ustor_block_read(d, 3, 80, back));
	CHECK(memcmp(back, plain, 40960) == 0);
	fx_finish(&f);

	fx_setup(&f);
	f.cfg.bounce_bytes = 0;
	CHECK_OK(fx_start(&f));
	plain = fx_plain(&f, 512);
	CHECK_ST(ustor_block_write(bdev0(&f), 0, 1, plain), USTOR_ERR_NOT_DMA_ABLE);
	CHECK_EQ(f.m.io_cmds[0x01], 0);
	fx_finish(&f);
}

static void test_flush_zeroes_discard(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint64_t bytes;
	uint8_t *disk;
	uint8_t *buf;
	size_t i;
	int nonzero = 0;

	fx_setup(&f);
	f.mcfg.ns[0].nblocks = 200000; /* zeroes must split at 65536 blocks */
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	disk = ustor_nvme_model_ns_data(&f.m, 1, &bytes);
	CHECK(d->flags & USTOR_BDEV_F_DISCARD);
	CHECK(d->flags & USTOR_BDEV_F_WRITE_ZEROES);
	CHECK(d->flags & USTOR_BDEV_F_VOLATILE_CACHE);
	memset(disk, 0xab, bytes);
	CHECK_OK(ustor_block_flush(d));
	CHECK_EQ(f.m.io_cmds[0x00], 1);
	CHECK_OK(ustor_block_write_zeroes(d, 10, 150000));
	CHECK_EQ(f.m.io_cmds[0x08], 3);
	for (i = 10 * 512; i < 150010 * 512; i++)
		nonzero |= disk[i];
	CHECK_EQ(nonzero, 0);
	CHECK(disk[9 * 512] == 0xab && disk[150010 * 512] == 0xab);
	CHECK_OK(ustor_block_discard(d, 160000, 100));
	CHECK_EQ(f.m.io_cmds[0x09], 1);
	buf = fx_buf(&f, 512, 0, 0x11);
	CHECK_OK(ustor_block_read(d, 160000, 1, buf));
	CHECK(buf[0] == 0); /* the model deallocates to zeroes */
	CHECK(disk[159999 * 512] == 0xab && disk[160100 * 512] == 0xab);
	fx_finish(&f);

	/* ONCS without DSM and Write Zeroes: a clear "not supported", and no
	 * command is sent. */
	fx_setup(&f);
	f.mcfg.oncs = 0;
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	CHECK_ST(ustor_block_discard(d, 0, 1), USTOR_ERR_UNSUPPORTED);
	CHECK_ST(ustor_block_write_zeroes(d, 0, 1), USTOR_ERR_UNSUPPORTED);
	CHECK_EQ(f.m.io_cmds[0x08] + f.m.io_cmds[0x09], 0);
	fx_finish(&f);
}

/* Errors: decoded status, failing LBA, DNR honoured, transient retried. */
static void test_io_errors(void)
{
	struct fixture f;
	struct ustor_block_req req;
	struct ustor_block_device *d;
	uint8_t *buf;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	buf = fx_buf(&f, 4096, 0, 0);
	/* Media error with DNR: no retry. */
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = -1, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(2, 0x81, 1), .count = 1 };
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.lba = 40;
	req.nblocks = 8;
	req.buf = buf;
	CHECK_ST(ustor_block_run(d, &req), USTOR_ERR_MEDIA);
	CHECK_EQ(USTOR_NVME_STATUS_SCT(req.nvme_status), 2);
	CHECK_EQ(USTOR_NVME_STATUS_SC(req.nvme_status), 0x81);
	CHECK_EQ(USTOR_NVME_STATUS_DNR(req.nvme_status), 1);
	CHECK_EQ(req.error_lba, 40);
	CHECK(strcmp(ustor_nvme_status_name(req.nvme_status), "Unrecovered Read Error") == 0);
	CHECK_EQ(f.m.io_cmds[0x02], 1);

	/* Transient error without DNR: retried (2 retries by default). */
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = -1, .opcode = 0x01,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x06, 0), .count = 2 };
	CHECK_OK(ustor_block_write(d, 0, 1, buf));
	CHECK_EQ(f.m.io_cmds[0x01], 3);
	/* ... but only a bounded number of times. */
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = -1, .opcode = 0x01,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x06, 0), .count = -1 };
	CHECK_ST(ustor_block_write(d, 0, 1, buf), USTOR_ERR_DEVICE);
	CHECK_EQ(f.m.io_cmds[0x01], 6);
	f.m.inject[0].count = 0;
	fx_finish(&f);
}

/* With recovery off (cmd_timeout_ms 0), a command that never completes
 * ends in a timeout; the queue still works. Recovery: test_nvme_recover. */
static void test_io_timeout(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;
	uint64_t t0;

	fx_setup(&f);
	f.cfg.io_timeout_ms = 3000;
	f.cfg.cmd_timeout_ms = 0;
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	buf = fx_buf(&f, 512, 0, 9);
	f.m.drop_completions = 1;
	f.m.drop_qid = 1;
	t0 = ustor_test_hal_time(&f.h);
	CHECK_ST(ustor_block_read(d, 0, 1, buf), USTOR_ERR_TIMEOUT);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 3000000000ull);
	CHECK(ustor_test_hal_time(&f.h) - t0 < 4000000000ull);
	CHECK(ustor_test_hal_log_contains(&f.h, "timed out"));
	CHECK(ustor_test_hal_log_contains(&f.h, "CSTS="));
	CHECK_OK(ustor_block_write(d, 0, 1, buf));
	CHECK_OK(ustor_block_read(d, 0, 1, buf));

	/* Wrong command id: the completion is ignored and counted. */
	f.m.wrong_cid = 1;
	CHECK_ST(ustor_block_read(d, 0, 1, buf), USTOR_ERR_TIMEOUT);
	CHECK_EQ(f.ctrl->io[0].bad_cqe, 1);
	CHECK_OK(ustor_block_read(d, 0, 1, buf));

	/* Fatal status while I/O is outstanding. */
	f.m.fatal_after = 0;
	CHECK_ST(ustor_block_read(d, 0, 1, buf), USTOR_ERR_FATAL);
	(void)ustor_nvme_ctrl_shutdown(f.ctrl);
	ustor_nvme_model_clear_violations(&f.m);
	fx_finish(&f);
}

struct async_ctx {
	unsigned done;
	unsigned errors;
};

static void on_done(struct ustor_block_req *req)
{
	struct async_ctx *c = req->user;
	c->done++;
	if (req->status != USTOR_OK)
		c->errors++;
}

/* 32 requests in flight, completions posted out of order by the model. */
static void test_async_qd32_reordered(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req reqs[32];
	struct async_ctx c = { 0, 0 };
	uint8_t *bufs[32];
	unsigned i;
	unsigned spins = 0;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	f.m.deferred = 1;
	f.m.reorder = 1;
	for (i = 0; i < 32; i++) {
		bufs[i] = fx_buf(&f, 4096, 0, 0);
		fx_pattern(bufs[i], 4096, i * 8u, 512, 21);
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_WRITE;
		reqs[i].lba = i * 8u;
		reqs[i].nblocks = 8;
		reqs[i].buf = bufs[i];
		reqs[i].done = on_done;
		reqs[i].user = &c;
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	}
	CHECK_ST(ustor_block_submit(d, &reqs[0]), USTOR_ERR_IN_PROGRESS);
	CHECK_EQ(f.m.io_cmds[0x01], 32);
	CHECK_EQ(ustor_block_poll(d, 0), 0); /* nothing posted yet */
	while (c.done < 32 && spins++ < 100) {
		ustor_nvme_model_process(&f.m);
		ustor_block_poll(d, 0);
	}
	CHECK_EQ(c.done, 32);
	CHECK_EQ(c.errors, 0);
	f.m.deferred = 0;
	{
		uint64_t bytes;
		uint8_t *disk = ustor_nvme_model_ns_data(&f.m, 1, &bytes);
		for (i = 0; i < 32; i++)
			CHECK(memcmp(disk + (size_t)i * 4096, bufs[i], 4096) == 0);
	}
	fx_finish(&f);
}

struct chain_ctx {
	struct ustor_block_device *d;
	unsigned left;
	unsigned done;
};

static void on_done_resubmit(struct ustor_block_req *req)
{
	struct chain_ctx *c = req->user;

	c->done++;
	if (req->status == USTOR_OK && c->left > 0) {
		c->left--;
		req->lba = (req->lba + 8u) % 2000u;
		if (ustor_block_submit(c->d, req) != USTOR_OK)
			c->left = 0;
	}
}

/* The completion callback runs outside the queue lock and may submit again
 * (the hosted HAL aborts on a recursive lock). */
static void test_resubmit_from_callback(void)
{
	struct fixture f;
	struct ustor_block_req req;
	struct chain_ctx c;
	unsigned spins = 0;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	c.d = bdev0(&f);
	c.left = 9;
	c.done = 0;
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.nblocks = 8;
	req.buf = fx_buf(&f, 4096, 0, 0);
	req.done = on_done_resubmit;
	req.user = &c;
	CHECK_OK(ustor_block_submit(c.d, &req));
	while (c.done < 10 && spins++ < 1000)
		ustor_block_poll(c.d, 0);
	CHECK_EQ(c.done, 10);
	CHECK_EQ(f.m.io_cmds[0x02], 10);
	if (!harness_no_lock)
		CHECK(f.h.lock_count > 0 && f.h.lock_count == f.h.unlock_count);
	fx_finish(&f);
}

struct reentry_ctx {
	struct fixture *f;
	unsigned done;
	unsigned nested;
	int shut;
};

/* A callback that polls again (nested) and, at the third completion, shuts
 * the controller down from inside the poll. */
static void on_done_reenter(struct ustor_block_req *req)
{
	struct reentry_ctx *c = req->user;
	struct ustor_block_device *d = ustor_nvme_ns_bdev(c->f->ctrl, 0);

	c->done++;
	if (d != NULL)
		c->nested += ustor_block_poll(d, 0);
	if (c->done + c->nested >= 3 && !c->shut) {
		c->shut = 1;
		CHECK_OK(ustor_nvme_ctrl_shutdown(c->f->ctrl));
	}
}

static void test_reentrant_callbacks(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req reqs[6];
	struct reentry_ctx c = { &f, 0, 0, 0 };
	uint8_t *buf;
	unsigned i;
	unsigned spins = 0;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	buf = fx_buf(&f, 6 * 512, 0, 0);
	f.m.deferred = 1;
	for (i = 0; i < 6; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].lba = i;
		reqs[i].nblocks = 1;
		reqs[i].buf = buf + i * 512u;
		reqs[i].done = on_done_reenter;
		reqs[i].user = &c;
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	}
	ustor_nvme_model_process(&f.m);
	while (!c.shut && spins++ < 10)
		ustor_block_poll(d, 0);
	CHECK(c.shut);
	/* Every request ended exactly once: completed, or ended by shutdown. */
	CHECK_EQ(c.done, 6);
	for (i = 0; i < 6; i++)
		CHECK_EQ(reqs[i].state, USTOR_REQ_STATE_DONE);
	ustor_block_poll(d, 0); /* after shutdown: nothing, no crash */
	CHECK_EQ(c.done, 6);
	ustor_nvme_model_clear_violations(&f.m);
	fx_finish(&f);
}

/* A small queue: async submit says BUSY when full; a large request that
 * needs more commands than slots waits inside the driver and completes. */
static void test_queue_full(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req reqs[4];
	struct async_ctx c = { 0, 0 };
	uint8_t *buf;
	unsigned i;
	unsigned spins = 0;

	fx_setup(&f);
	f.mcfg.mdts = 1; /* 8 KiB commands */
	f.cfg.io_queue_depth = 4; /* 3 commands in flight */
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	f.m.deferred = 1;
	buf = fx_buf(&f, 65536, 0, 0);
	for (i = 0; i < 4; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].lba = i;
		reqs[i].nblocks = 1;
		reqs[i].buf = buf + i * 512;
		reqs[i].done = on_done;
		reqs[i].user = &c;
	}
	for (i = 0; i < 3; i++)
		CHECK_OK(ustor_block_submit(d, &reqs[i]));
	CHECK_ST(ustor_block_submit(d, &reqs[3]), USTOR_ERR_BUSY);
	CHECK_EQ(reqs[3].state, USTOR_REQ_STATE_IDLE);
	while (c.done < 3 && spins++ < 100) {
		ustor_nvme_model_process(&f.m);
		ustor_block_poll(d, 0);
	}
	CHECK_EQ(c.done, 3);
	f.m.deferred = 0;
	/* 64 KiB = 8 commands through 3 slots. */
	fx_pattern(buf, 65536, 0, 512, 5);
	CHECK_OK(ustor_block_write(d, 0, 128, buf));
	CHECK_EQ(f.m.io_cmds[0x01], 8);
	{
		uint64_t bytes;
		uint8_t *disk = ustor_nvme_model_ns_data(&f.m, 1, &bytes);
		CHECK(memcmp(disk, buf, 65536) == 0);
	}
	fx_finish(&f);
}

/* Shutdown with requests in flight and waiting: every one ends with
 * USTOR_ERR_SHUT_DOWN and its callback runs; none is left ACTIVE. */
static void test_shutdown_fails_outstanding(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req reqs[5];
	struct async_ctx c = { 0, 0 };
	struct ustor_nvme_smart_info s;
	uint8_t *buf;
	unsigned i;

	fx_setup(&f);
	f.cfg.io_queue_depth = 4; /* 3 slots: the 4th and 5th requests wait */
	f.mcfg.mdts = 1;
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	f.m.deferred = 1; /* nothing completes */
	buf = fx_buf(&f, 65536, 0, 0);
	for (i = 0; i < 5; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].lba = i * 32u;
		reqs[i].nblocks = i < 2 ? 1 : 32; /* the last ones need several commands */
		reqs[i].buf = buf + i * 8192u;
		reqs[i].done = on_done;
		reqs[i].user = &c;
	}
	CHECK_OK(ustor_block_submit(d, &reqs[0]));
	CHECK_OK(ustor_block_submit(d, &reqs[1]));
	CHECK_OK(ustor_block_submit(d, &reqs[2])); /* one chunk issued, the rest waits */
	CHECK_OK(ustor_nvme_ctrl_shutdown(f.ctrl));
	CHECK_EQ(c.done, 3);
	CHECK_EQ(c.errors, 3);
	for (i = 0; i < 3; i++) {
		CHECK_ST(reqs[i].status, USTOR_ERR_SHUT_DOWN);
		CHECK_EQ(reqs[i].state, USTOR_REQ_STATE_DONE);
	}
	/* After shutdown: clear errors, no access to freed memory. */
	CHECK_ST(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s), USTOR_ERR_SHUT_DOWN);
	CHECK_ST(ustor_block_submit(d, &reqs[3]), USTOR_ERR_SHUT_DOWN);
	ustor_nvme_model_clear_violations(&f.m);
	fx_finish(&f);
}

/* A request reaped by a synchronous passthrough wait, then cancelled by
 * its timed-out owner: cancel reports that it completed, and its callback
 * never runs afterwards. */
static void test_cancel_after_hidden_completion(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req req;
	struct async_ctx c = { 0, 0 };
	struct ustor_nvme_cmd cmd;
	struct ustor_nvme_cpl cpl;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	d = bdev0(&f);
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.nblocks = 1;
	req.buf = fx_buf(&f, 512, 0, 0);
	req.done = on_done;
	req.user = &c;
	CHECK_OK(ustor_block_submit(d, &req));
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = USTOR_NVME_CMD_FLUSH;
	cmd.nsid = 1;
	CHECK_OK(ustor_nvme_io_passthrough(f.ctrl, 0, &cmd, NULL, 0, &cpl));
	CHECK_OK(d->ops->cancel(d, &req));
	CHECK_EQ(req.state, USTOR_REQ_STATE_DONE);
	ustor_block_poll(d, 0);
	CHECK_EQ(c.done, 0);
	fx_finish(&f);
}

/* Success with the More bit set is success: no retry, no error recorded. */
static void test_success_with_more_bit(void)
{
	struct fixture f;
	struct ustor_block_req req;

	fx_setup(&f);
	CHECK_OK(fx_start(&f));
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = -1, .opcode = 0x01,
		.status = 0x4000u /* M, SCT 0, SC 0 */, .count = 1 };
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_WRITE;
	req.nblocks = 1;
	req.buf = fx_buf(&f, 512, 0, 0);
	CHECK_OK(ustor_block_run(bdev0(&f), &req));
	CHECK_EQ(req.nvme_status, 0);
	CHECK_EQ(f.m.io_cmds[0x01], 1);
	fx_finish(&f);
}

/* Several I/O queues, each usable. */
static void test_multiple_queues(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req req;
	uint8_t *buf;
	uint16_t q;

	fx_setup(&f);
	f.cfg.io_queues = 3;
	f.mcfg.max_io_queues = 2; /* the controller grants fewer */
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->nio, 2);
	d = bdev0(&f);
	CHECK_EQ(d->nqueues, 2);
	buf = fx_buf(&f, 512, 0, 0x33);
	for (q = 0; q < 3; q++) {
		memset(&req, 0, sizeof(req));
		req.op = USTOR_BLOCK_WRITE;
		req.queue = q; /* 2 is out of range: falls back to queue 0 */
		req.lba = q;
		req.nblocks = 1;
		req.buf = buf;
		CHECK_OK(ustor_block_run(d, &req));
	}
	CHECK_EQ(f.m.io_cmds[0x01], 3);
	fx_finish(&f);
}

/* Bus addresses differ from CPU addresses, and buffers are scattered in
 * bus space page by page (HARDWARE.md 9): data must still land right. */
static void test_scattered_bus_addresses(void)
{
	struct fixture f;

	fx_setup(&f);
	f.h.scatter_granule = 4096;
	CHECK_OK(fx_start(&f));
	roundtrip(&f, bdev0(&f), 1, 64, 200, 1024, 31);
	CHECK(f.h.virt_to_bus_calls > 25 * 2);
	fx_finish(&f);
}

static void run_all(void)
{
	RUN(test_roundtrip_512);
	RUN(test_roundtrip_4k);
	RUN(test_mdts_split);
	RUN(test_prp_list_chaining);
	RUN(test_bad_input);
	RUN(test_not_dma_able);
	RUN(test_flush_zeroes_discard);
	RUN(test_io_errors);
	RUN(test_io_timeout);
	RUN(test_async_qd32_reordered);
	RUN(test_resubmit_from_callback);
	RUN(test_reentrant_callbacks);
	RUN(test_queue_full);
	RUN(test_multiple_queues);
	RUN(test_shutdown_fails_outstanding);
	RUN(test_cancel_after_hidden_completion);
	RUN(test_success_with_more_bit);
	RUN(test_scattered_bus_addresses);
}

int main(void)
{
	run_all();
	/* Again on a HAL without a lock: the single-CPU fast paths. */
	harness_no_lock = 1;
	run_all();
	/* And with shadow doorbells (Doorbell Buffer Config), both ways. */
	harness_shadow_db = 1;
	run_all();
	harness_no_lock = 0;
	run_all();
	return harness_done();
}
