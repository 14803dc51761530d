/* SPDX-License-Identifier: MIT */
/*
 * NVMe recovery against the model's fault knobs: commands that never
 * complete (Abort honoured / ignored -> reset -> re-submission), fatal
 * status and all-ones registers mid-I/O, the reset limit, retries (bounded,
 * DNR, CRD delay, Namespace Not Ready delay), hostile identify values, a
 * namespace that changes across a reset. Every test counts what was in
 * flight at the fault and what the callers saw: each done callback ran
 * exactly once, with a truthful status, and re-submitted data is correct.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../models/nvme_model_int.h"
#include "../../src/nvme/nvme_internal.h" /* ustor_nvme_free_all */

#define NREQ 16

struct tracker {
	unsigned calls[NREQ];     /* done callbacks per request */
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

/* Recovery settings small enough for quick virtual-time tests. */
static void setup(struct fixture *f)
{
	fx_setup(f);
	f->cfg.cmd_timeout_ms = 1000;
	f->cfg.io_timeout_ms = 30000;
}

/* Poll queue 0 until `want` callbacks ran or `max_ms` of virtual time
 * passed (1 ms per empty poll). */
static void drive(struct fixture *f, struct tracker *t, unsigned want, uint64_t max_ms)
{
	struct ustor_block_device *d = ustor_nvme_ns_bdev(f->ctrl, 0);
	uint64_t end = ustor_test_hal_time(&f->h) + max_ms * 1000000ull;

	while (t->done < want && ustor_test_hal_time(&f->h) < end) {
		if (ustor_block_poll(d, 0) == 0)
			ustor_test_hal_advance(&f->h, 1000000ull);
	}
}

/* Submit n writes of 8 blocks (each its own pattern) at lba i * 8. */
static void submit_writes(struct fixture *f, struct treq *r, struct tracker *t, unsigned n,
			  uint8_t *buf)
{
	struct ustor_block_device *d = ustor_nvme_ns_bdev(f->ctrl, 0);
	unsigned i;

	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].t = t;
		r[i].idx = i;
		fx_pattern(buf + i * 4096u, 4096, i * 8u, 512, 0x5a);
		r[i].req.op = USTOR_BLOCK_WRITE;
		r[i].req.lba = i * 8u;
		r[i].req.nblocks = 8;
		r[i].req.buf = buf + i * 4096u;
		r[i].req.done = on_done;
		r[i].req.user = &r[i];
		CHECK_OK(ustor_block_submit(d, &r[i].req));
	}
}

/* Every callback exactly once, each with `want`; when want is OK the
 * model's disk holds every pattern. */
static void check_all(struct fixture *f, struct tracker *t, unsigned n, ustor_status want)
{
	uint64_t bytes = 0;
	uint8_t *disk = ustor_nvme_model_ns_data(&f->m, 1, &bytes);
	uint8_t expect[4096];
	unsigned i;

	CHECK_EQ(t->done, n);
	for (i = 0; i < n; i++) {
		CHECK_EQ(t->calls[i], 1);
		CHECK_ST(t->status[i], want);
		if (want == USTOR_OK && disk != NULL) {
			fx_pattern(expect, 4096, i * 8u, 512, 0x5a);
			CHECK(memcmp(disk + (size_t)i * 4096u, expect, 4096) == 0);
		}
	}
}

/* A hung read whose Abort works: it completes with Command Abort
 * Requested, is retried, and the caller sees success with its data; no
 * reset. */
static void test_abort_works(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *w, *r;
	uint64_t resets0, t0;

	setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	w = fx_buf(&f, 4096, 0, 0);
	r = fx_buf(&f, 4096, 0, 0);
	fx_pattern(w, 4096, 100, 512, 7);
	CHECK_OK(ustor_block_write(d, 100, 8, w));
	resets0 = f.m.resets;
	f.m.hold_commands = 1;
	f.m.hold_opcode = 0x02;
	t0 = ustor_test_hal_time(&f.h);
	CHECK_OK(ustor_block_read(d, 100, 8, r));
	CHECK(memcmp(r, w, 4096) == 0);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 1000000000ull); /* not before the deadline */
	CHECK(ustor_test_hal_time(&f.h) - t0 < 2000000000ull);
	CHECK_EQ(f.m.commands_held, 1);
	CHECK_EQ(f.m.commands_aborted, 1);
	CHECK_EQ(f.m.admin_cmds[0x08], 1);
	CHECK_EQ(f.m.io_cmds[0x02], 2); /* the held one and the retry */
	CHECK_EQ(f.ctrl->aborts, 1);
	CHECK_EQ(f.m.resets, resets0);
	CHECK_EQ(f.ctrl->resets, 0);
	CHECK(ustor_test_hal_log_contains(&f.h, "abort accepted"));
	fx_finish(&f);
}

/* A hung fast-path read on a busy queue: every poll completes a write, so
 * no poll is ever empty; the CQ wrapping still gives the watchdog its
 * turn, and the read is aborted after its deadline, not much later. */
static void test_hung_read_on_busy_queue(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req rd, wr;
	uint8_t *w, *r;
	uint64_t t0;
	unsigned polls = 0;

	setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	w = fx_buf(&f, 4096, 0, 0);
	r = fx_buf(&f, 4096, 0, 0);
	fx_pattern(w, 4096, 100, 512, 9);
	CHECK_OK(ustor_block_write(d, 100, 8, w));
	f.m.hold_commands = 1;
	f.m.hold_opcode = 0x02;
	memset(&rd, 0, sizeof(rd));
	rd.op = USTOR_BLOCK_READ;
	rd.lba = 100;
	rd.nblocks = 8;
	rd.buf = r;
	CHECK_OK(ustor_block_submit(d, &rd));
	t0 = ustor_test_hal_time(&f.h);
	while (rd.state != USTOR_REQ_STATE_DONE && polls < 100000) {
		memset(&wr, 0, sizeof(wr));
		wr.op = USTOR_BLOCK_WRITE;
		wr.lba = 200;
		wr.nblocks = 8;
		wr.buf = w;
		CHECK_OK(ustor_block_submit(d, &wr));
		CHECK(ustor_block_poll(d, 0) != 0); /* never an empty poll */
		while (wr.state != USTOR_REQ_STATE_DONE)
			CHECK(ustor_block_poll(d, 0) != 0);
		CHECK_ST(wr.status, USTOR_OK);
		ustor_test_hal_advance(&f.h, 1000000ull);
		polls++;
	}
	CHECK(rd.state == USTOR_REQ_STATE_DONE);
	CHECK_ST(rd.status, USTOR_OK);
	CHECK(memcmp(r, w, 4096) == 0);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 1000000000ull); /* not before the deadline */
	/* 1.25 deadlines plus the gap between wraps (depth polls of 1 ms). */
	CHECK(ustor_test_hal_time(&f.h) - t0 <
	      1250000000ull + (uint64_t)f.ctrl->io[0].ring.depth * 1000000ull);
	CHECK_EQ(f.m.commands_aborted, 1);
	CHECK_EQ(f.ctrl->resets, 0);
	fx_finish(&f);
}

/* A fast-path command the watchdog saw in flight (ONE_AGED, stamped with
 * the epoch before the tick) that then completes normally: the caller
 * gets its data, nothing is aborted. */
static void test_aged_fast_command_completes(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req rd;
	struct ustor_nvme_queue *q;
	uint8_t *w, *r;
	uint16_t epoch;
	unsigned i, aged = 0;

	setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	q = &f.ctrl->io[0];
	w = fx_buf(&f, 4096, 0, 0);
	r = fx_buf(&f, 4096, 0, 0);
	fx_pattern(w, 4096, 300, 512, 3);
	CHECK_OK(ustor_block_write(d, 300, 8, w));
	memset(&rd, 0, sizeof(rd));
	rd.op = USTOR_BLOCK_READ;
	rd.lba = 300;
	rd.nblocks = 8;
	rd.buf = r;
	CHECK_OK(ustor_block_submit(d, &rd));
	/* In flight (its completion not yet reaped) when an epoch ends. */
	ustor_test_hal_advance(&f.h, 2000000000ull);
	epoch = q->wd_epoch;
	ustor_nvme_watchdog(f.ctrl, q);
	CHECK_EQ(q->wd_epoch, (uint16_t)(epoch + 1u));
	for (i = 0; i + 1u < q->ring.depth; i++) {
		if (q->slots[i].kind == USTOR_NVME_SLOT_ONE_AGED) {
			aged++;
			CHECK_EQ(q->slots[i].stamp, epoch); /* the epoch it was issued in */
		}
		CHECK(q->slots[i].kind != USTOR_NVME_SLOT_ONE);
	}
	CHECK_EQ(aged, 1);
	while (rd.state != USTOR_REQ_STATE_DONE)
		CHECK(ustor_block_poll(d, 0) != 0);
	CHECK_ST(rd.status, USTOR_OK);
	CHECK(memcmp(r, w, 4096) == 0);
	CHECK_EQ(f.m.commands_aborted, 0);
	CHECK_EQ(f.ctrl->aborts, 0);
	CHECK_EQ(q->nfree + 1u, q->ring.depth);
	fx_finish(&f);
}

/* Four of sixteen writes hang and their Aborts are ignored: a reset, the
 * four re-submitted, every write on disk, every callback once with OK. */
static void test_abort_ignored_reset_resubmits(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;

	setup(&f);
	CHECK_OK(fx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = 4;
	f.m.abort_ignored = 1;
	submit_writes(&f, r, &t, NREQ, buf);
	CHECK_EQ(f.m.commands_held, 4); /* in flight at the fault */
	drive(&f, &t, NREQ, 10000);
	check_all(&f, &t, NREQ, USTOR_OK);
	CHECK_EQ(f.ctrl->aborts, 4);
	CHECK_EQ(f.m.commands_aborted, 0);
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK_EQ(f.m.held_dropped_by_reset, 4);
	CHECK_EQ(f.ctrl->requeued, 4);
	CHECK_EQ(f.m.io_cmds[0x01], NREQ + 4);
	/* Queues restored with the same depth; I/O goes on. */
	CHECK_EQ(f.ctrl->io[0].ring.depth, f.ctrl->io_depth);
	CHECK(ustor_test_hal_log_contains(&f.h, "resetting the controller"));
	CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 8, buf));
	fx_finish(&f);
}

/* Two I/O queues: a reset re-creates both with the same depth, and the
 * request hung on the second queue is re-submitted there. */
static void test_reset_restores_all_queues(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *w, *r;

	setup(&f);
	f.cfg.io_queues = 2;
	f.cfg.io_queue_depth = 64;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.ctrl->nio, 2);
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	w = fx_buf(&f, 4096, 0, 0);
	r = fx_buf(&f, 4096, 0, 0);
	fx_pattern(w, 4096, 300, 512, 3);
	f.m.hold_commands = 1;
	f.m.hold_qid = 2;
	f.m.abort_ignored = 1;
	{
		struct ustor_block_req req;

		memset(&req, 0, sizeof(req));
		req.op = USTOR_BLOCK_WRITE;
		req.queue = 1;
		req.lba = 300;
		req.nblocks = 8;
		req.buf = w;
		CHECK_OK(ustor_block_run(d, &req));
	}
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK_EQ(f.m.held_dropped_by_reset, 1);
	CHECK_EQ(ustor_nvme_mdl_io_queue_count(&f.m), 4);
	CHECK_EQ(f.ctrl->io[0].ring.depth, 64);
	CHECK_EQ(f.ctrl->io[1].ring.depth, 64);
	CHECK_OK(ustor_block_read(d, 300, 8, r));
	CHECK(memcmp(r, w, 4096) == 0);
	fx_finish(&f);
}

/* With shadow doorbells: a reset sets Doorbell Buffer Config up again and
 * the re-submitted writes go through the shadow page. */
static void test_reset_with_shadow_doorbells(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;

	setup(&f);
	f.cfg.shadow_doorbells = 1;
	CHECK_OK(fx_start(&f));
	CHECK_EQ(f.m.dbbuf_configs, 1);
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = 3;
	f.m.abort_ignored = 1;
	submit_writes(&f, r, &t, NREQ, buf);
	drive(&f, &t, NREQ, 10000);
	check_all(&f, &t, NREQ, USTOR_OK);
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK_EQ(f.m.dbbuf_configs, 2);
	CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 8, buf));
	fx_finish(&f);
}

/* CSTS.CFS while 16 writes are held: one CSTS read on the poll path sees
 * it, the reset re-submits all 16 and they succeed. */
static void test_fatal_mid_io(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;
	uint64_t csts_reads;

	setup(&f);
	CHECK_OK(fx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = NREQ;
	submit_writes(&f, r, &t, NREQ, buf);
	CHECK_EQ(f.m.commands_held, NREQ);
	f.m.fatal_after = 0; /* CFS at the next CSTS read */
	csts_reads = f.h.mmio_reads;
	drive(&f, &t, NREQ, 10000);
	check_all(&f, &t, NREQ, USTOR_OK);
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK_EQ(f.ctrl->requeued, NREQ);
	CHECK_EQ(f.ctrl->aborts, 0); /* CFS is seen before any deadline */
	CHECK(f.h.mmio_reads > csts_reads);
	CHECK(ustor_test_hal_log_contains(&f.h, "CSTS.CFS"));
	fx_finish(&f);
}

/* Registers read all-ones (surprise removal) with 8 writes held: every
 * caller gets DEVICE_GONE once; new I/O is refused with it. */
static void test_all_ones_mid_io(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	struct ustor_block_device *d;
	uint8_t *buf;

	setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = 8;
	submit_writes(&f, r, &t, 8, buf);
	f.m.frozen = 1; /* gone */
	drive(&f, &t, 8, 10000);
	check_all(&f, &t, 8, USTOR_ERR_DEVICE_GONE);
	CHECK_EQ(f.ctrl->resets, 0);
	CHECK_ST(ustor_block_read(d, 0, 1, buf), USTOR_ERR_DEVICE_GONE);
	CHECK(ustor_test_hal_log_contains(&f.h, "device gone"));
	/* It answers again (re-inserted): shutdown stops it and frees all. */
	f.m.frozen = 0;
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_DEVICE_GONE);
	fx_finish(&f);
}

/* Every command hangs and Aborts are ignored: one reset (the limit),
 * then the controller is failed and all callers see FATAL once. */
static void test_reset_limit(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	uint8_t *buf;

	setup(&f);
	f.cfg.max_resets = 1;
	CHECK_OK(fx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = 1000;
	f.m.abort_ignored = 1;
	submit_writes(&f, r, &t, 6, buf);
	drive(&f, &t, 6, 20000);
	check_all(&f, &t, 6, USTOR_ERR_FATAL);
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK_EQ(f.m.commands_held, 12); /* 6, then the 6 re-submitted */
	CHECK(ustor_test_hal_log_contains(&f.h, "giving up"));
	CHECK_ST(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 1, buf), USTOR_ERR_FATAL);
	f.m.hold_commands = 0;
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_FATAL);
	fx_finish(&f);
}

/* max_resets 0: a hung command fails the controller at once. */
static void test_no_resets_allowed(void)
{
	struct fixture f;
	uint8_t *buf;

	setup(&f);
	f.cfg.max_resets = 0;
	CHECK_OK(fx_start(&f));
	buf = fx_buf(&f, 4096, 0, 0);
	f.m.hold_commands = 1;
	f.m.abort_ignored = 1;
	CHECK_ST(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 1, buf), USTOR_ERR_FATAL);
	CHECK_EQ(f.ctrl->resets, 0);
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_FATAL);
	fx_finish(&f);
}

/* Transient status (DNR clear): retried io_retries times, then failed
 * with the status and LBA; DNR set: never retried. */
static void test_retries_bounded_and_dnr(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	struct ustor_block_req req;
	uint8_t *buf;

	setup(&f);
	f.cfg.io_retries = 3;
	f.mcfg.mdts = 1; /* 8 KiB per command: a 32 KiB read is 4 chunks */
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 32768, 0, 0);
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = 1, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x06, 0), .count = -1 };
	CHECK_ST(ustor_block_read(d, 0, 1, buf), USTOR_ERR_DEVICE);
	CHECK_EQ(f.m.io_cmds[0x02], 4);
	f.m.inject[0].count = 3; /* three failures, the fourth try succeeds */
	CHECK_OK(ustor_block_read(d, 0, 1, buf));
	CHECK_EQ(f.m.io_cmds[0x02], 8);
	/* DNR: never retried. The second chunk of four (16 blocks each) gets
	 * a media error while the first hangs and is aborted and retried: the
	 * request fails with MEDIA and the failing chunk's first LBA. */
	memset(&req, 0, sizeof(req));
	req.op = USTOR_BLOCK_READ;
	req.lba = 200;
	req.nblocks = 64;
	req.buf = buf;
	f.m.hold_commands = 1;
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = 1, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(2, 0x81, 1), .count = 1 };
	{
		uint64_t before = f.m.io_cmds[0x02];

		CHECK_ST(ustor_block_run(d, &req), USTOR_ERR_MEDIA);
		CHECK_EQ(req.error_lba, 216);
		CHECK_EQ(USTOR_NVME_STATUS_DNR(req.nvme_status), 1);
		CHECK_EQ(USTOR_NVME_STATUS_SC(req.nvme_status), 0x81);
		CHECK_EQ(f.m.io_cmds[0x02] - before, 5); /* 4 chunks + the aborted one again */
		CHECK_EQ(f.m.commands_aborted, 1);
	}
	fx_finish(&f);
}

/* CRD = 1 with CRDT1 = 5 (500 ms): the retry waits 500 ms of virtual
 * time, no more than a poll gap later. */
static void test_crd_delay(void)
{
	struct fixture f;
	struct treq r[1];
	struct tracker t;
	uint8_t *buf;
	uint64_t t0;

	setup(&f);
	CHECK_OK(fx_start(&f));
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, 4096, 0, 0);
	f.m.crdt[0] = 5;
	/* Identify is read at init: reset to pick CRDT up (also exercises
	 * the explicit reset API with nothing in flight). */
	CHECK_OK(ustor_nvme_ctrl_reset(f.ctrl));
	CHECK_EQ(f.ctrl->info.crdt[0], 5);
	/* CRD is status bits 12:11; in the CQE's DW3 upper half, 13:12. */
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = 1, .opcode = 0x01,
		.status = (uint16_t)(USTOR_NVME_MODEL_STATUS(0, 0x06, 0) | 0x1000u), .count = 1 };
	t0 = ustor_test_hal_time(&f.h);
	submit_writes(&f, r, &t, 1, buf);
	CHECK_EQ(f.m.io_cmds[0x01], 1);
	drive(&f, &t, 1, 400);
	CHECK_EQ(f.m.io_cmds[0x01], 1); /* not retried within 400 ms */
	CHECK_EQ(t.done, 0);
	drive(&f, &t, 1, 1000);
	check_all(&f, &t, 1, USTOR_OK);
	CHECK_EQ(f.m.io_cmds[0x01], 2);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 500000000ull);
	CHECK(ustor_test_hal_time(&f.h) - t0 < 600000000ull);
	CHECK_EQ(f.ctrl->retries_delayed, 1);
	fx_finish(&f);
}

/* Namespace Not Ready (DNR clear, no CRD): retried after
 * not_ready_delay_ms, not at once. */
static void test_not_ready_delay(void)
{
	struct fixture f;
	uint8_t *buf;
	uint64_t t0;

	setup(&f);
	f.cfg.not_ready_delay_ms = 300;
	CHECK_OK(fx_start(&f));
	buf = fx_buf(&f, 4096, 0, 0);
	f.m.inject[0] = (struct ustor_nvme_model_inject){ .qid = 1, .opcode = 0x02,
		.status = USTOR_NVME_MODEL_STATUS(0, 0x82, 0), .count = 2 };
	t0 = ustor_test_hal_time(&f.h);
	CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 1, buf));
	CHECK_EQ(f.m.io_cmds[0x02], 3);
	CHECK(ustor_test_hal_time(&f.h) - t0 >= 600000000ull);
	CHECK_EQ(f.ctrl->retries_delayed, 2);
	fx_finish(&f);
}

/* A namespace shrinks across a reset: it becomes unusable with
 * NO_NAMESPACE; the request in flight to it fails with that, clearly. */
static void test_namespace_changed_across_reset(void)
{
	struct fixture f;
	struct treq r[2];
	struct tracker t;
	struct ustor_block_device *d;
	uint8_t *buf;

	setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, 2 * 4096u, 0, 0);
	f.m.hold_commands = 2;
	f.m.abort_ignored = 1;
	submit_writes(&f, r, &t, 2, buf);
	f.m.priv->ns[0].nblocks = 1024; /* was 2048 */
	drive(&f, &t, 2, 10000);
	check_all(&f, &t, 2, USTOR_ERR_NO_NAMESPACE);
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK(d->flags & USTOR_BDEV_F_UNUSABLE);
	CHECK_ST(d->unusable_reason, USTOR_ERR_NO_NAMESPACE);
	CHECK_ST(ustor_block_read(d, 0, 1, buf), USTOR_ERR_NO_NAMESPACE);
	CHECK(ustor_test_hal_log_contains(&f.h, "changed size or format"));
	f.m.priv->ns[0].nblocks = 2048;
	fx_finish(&f);
}

/* An admin command that never completes: TIMEOUT to its caller, and the
 * next I/O poll resets the controller, so the admin slot is not lost. */
static void test_admin_timeout_then_reset(void)
{
	struct fixture f;
	struct ustor_nvme_smart_info s;
	uint8_t *buf;

	setup(&f);
	CHECK_OK(fx_start(&f));
	buf = fx_buf(&f, 4096, 0, 0);
	f.m.drop_completions = 1;
	f.m.drop_qid = 0;
	CHECK_ST(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s), USTOR_ERR_TIMEOUT);
	CHECK_EQ(f.ctrl->admin.nfree + 2u, f.ctrl->admin.ring.depth); /* one abandoned */
	CHECK_EQ(ustor_block_poll(ustor_nvme_ns_bdev(f.ctrl, 0), 0), 0); /* an empty poll */
	CHECK_EQ(f.ctrl->resets, 1);
	CHECK_OK(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 1, buf));
	CHECK_EQ(f.ctrl->admin.nfree + 1u, f.ctrl->admin.ring.depth);
	CHECK_OK(ustor_nvme_get_smart(f.ctrl, 0xffffffffu, &s));
	fx_finish(&f);
}

/* Hostile Identify Controller values: MDTS far beyond 32 bits and NN
 * 0xFFFFFFFF are bounded (transfer cap, scan bound), never trusted. */
static void test_hostile_identify(void)
{
	struct fixture f;

	setup(&f);
	f.mcfg.mdts = 255;
	f.mcfg.nn = 0xfffffffeu;
	f.mcfg.vs = 0x00010000u; /* 1.0: the 1..NN probe, bounded */
	CHECK_OK(fx_start(&f));
	CHECK(f.ctrl->max_transfer <= 16u * 1024u * 1024u);
	CHECK_EQ(ustor_nvme_ns_count(f.ctrl), 1);
	CHECK(f.m.admin_cmds[0x06] <= 1024u + 2u);
	fx_finish(&f);
}

/* Identify Namespace values that would index past the format table or
 * overflow a shift: the namespace is skipped with a clear log line, the
 * controller comes up, nothing is read out of bounds (ASan). */
static void test_hostile_identify_ns(void)
{
	int kind;

	for (kind = 1; kind <= 4; kind++) {
		struct fixture f;

		setup(&f);
		f.mcfg.num_ns = 2;
		f.mcfg.ns[1] = f.mcfg.ns[0];
		f.mcfg.ns[1].nsid = 2;
		CHECK_OK(ustor_nvme_model_init(&f.m, &f.h, &f.mcfg));
		f.model_up = 1;
		f.m.hostile_id_ns = kind;
		CHECK_OK(ustor_nvme_ctrl_init(f.ctrl, &f.h.hal, ustor_nvme_model_regs(&f.m), &f.cfg));
		CHECK_EQ(ustor_nvme_ns_count(f.ctrl), 0);
		CHECK(ustor_test_hal_log_contains(&f.h, "identify data is invalid"));
		fx_finish(&f);
	}
}

/* Completions with an SQ head outside the queue: counted, never used as
 * an index; I/O goes on. A completion id that names no command: counted
 * and dropped (the recovery then re-submits the real command). */
static void test_hostile_completions(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *buf;

	setup(&f);
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	buf = fx_buf(&f, 4096, 0, 0);
	f.m.bad_sqhd = 3;
	CHECK_OK(ustor_block_read(d, 0, 8, buf));
	CHECK_OK(ustor_block_write(d, 0, 8, buf));
	CHECK_OK(ustor_block_read(d, 0, 8, buf));
	CHECK_EQ(f.ctrl->io[0].ring.bad_sqhd, 3);
	f.m.wrong_cid = 1;
	CHECK_OK(ustor_block_read(d, 0, 8, buf));
	CHECK_EQ(f.ctrl->io[0].bad_cqe, 1);
	CHECK_EQ(f.ctrl->resets, 1);
	fx_finish(&f);
}

/* A synchronous call whose bound runs out before recovery could finish
 * (every command hangs, Aborts ignored): TIMEOUT to the caller, the bounce
 * buffer retired; the next poll resets the controller, which stops the
 * device using that memory, so the bounce buffer comes back and I/O goes
 * on. */
static void test_cancel_then_reset(void)
{
	struct fixture f;
	struct ustor_block_device *d;
	uint8_t *plain;
	uint64_t resets;

	setup(&f);
	f.cfg.io_timeout_ms = 3000; /* cmd_timeout_ms becomes 1000 */
	f.cfg.max_resets = 10;
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	plain = fx_plain(&f, 512);
	f.m.hold_commands = 100;
	f.m.abort_ignored = 1;
	CHECK_ST(ustor_block_read(d, 0, 1, plain), USTOR_ERR_TIMEOUT);
	CHECK(d->bounce == NULL);
	CHECK(ustor_test_hal_log_contains(&f.h, "bounce buffer retired"));
	resets = f.ctrl->resets;
	CHECK(resets >= 1);
	f.m.hold_commands = 0;
	CHECK_EQ(ustor_block_poll(d, 0), 0);
	CHECK_EQ(f.ctrl->resets, resets + 1);
	CHECK(d->bounce != NULL);
	CHECK_OK(ustor_block_read(d, 0, 1, plain));
	fx_finish(&f);
}

/* The controller fails (max_resets 0) while the block layer still holds
 * requests (USTOR_REQ_F_WAIT on a full queue) that no poll sent: shutdown
 * of the FAILED controller ends them too, each once, with FATAL, instead
 * of leaving them ACTIVE with no callback (fuzz finding, regress/nvme_cqe/
 * active-after-shutdown). */
static void test_fail_then_shutdown_ends_held(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	struct ustor_block_device *d;
	uint8_t *buf;
	unsigned i;

	setup(&f);
	f.cfg.max_resets = 0;
	f.cfg.io_queue_depth = 4; /* 3 commands in flight, the rest held */
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = 1000;
	for (i = 0; i < 6; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].t = &t;
		r[i].idx = i;
		r[i].req.op = USTOR_BLOCK_WRITE;
		r[i].req.lba = i * 8u;
		r[i].req.nblocks = 8;
		r[i].req.buf = buf + i * 4096u;
		r[i].req.flags = USTOR_REQ_F_WAIT;
		r[i].req.done = on_done;
		r[i].req.user = &r[i];
		CHECK_OK(ustor_block_submit(d, &r[i].req));
	}
	CHECK_EQ(f.m.commands_held, 3);
	CHECK_ST(ustor_nvme_ctrl_reset(f.ctrl), USTOR_ERR_FATAL);
	CHECK_EQ(t.done, 3); /* the driver's own ended when it failed */
	f.m.hold_commands = 0;
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_FATAL);
	check_all(&f, &t, 6, USTOR_ERR_FATAL);
	for (i = 0; i < 6; i++)
		CHECK(r[i].req.state != USTOR_REQ_STATE_ACTIVE);
	fx_finish(&f);
}

/* The device vanishes (all-ones) with 3 commands in flight and 3
 * requests held by the block layer, and nothing polled: shutdown cannot
 * stop it (memory kept) but still ends all 6, each once, with
 * DEVICE_GONE. */
static void test_shutdown_of_gone_device_ends_all(void)
{
	struct fixture f;
	struct treq r[NREQ];
	struct tracker t;
	struct ustor_block_device *d;
	uint8_t *buf;
	unsigned i;

	setup(&f);
	f.cfg.io_queue_depth = 4;
	f.cfg.shutdown_timeout_ms = 100;
	CHECK_OK(fx_start(&f));
	d = ustor_nvme_ns_bdev(f.ctrl, 0);
	memset(&t, 0, sizeof(t));
	buf = fx_buf(&f, NREQ * 4096u, 0, 0);
	f.m.hold_commands = 1000;
	for (i = 0; i < 6; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].t = &t;
		r[i].idx = i;
		r[i].req.op = USTOR_BLOCK_WRITE;
		r[i].req.lba = i * 8u;
		r[i].req.nblocks = 8;
		r[i].req.buf = buf + i * 4096u;
		r[i].req.flags = USTOR_REQ_F_WAIT;
		r[i].req.done = on_done;
		r[i].req.user = &r[i];
		CHECK_OK(ustor_block_submit(d, &r[i].req));
	}
	CHECK_EQ(f.m.commands_held, 3);
	f.m.frozen = 1;
	CHECK_ST(ustor_nvme_ctrl_shutdown(f.ctrl), USTOR_ERR_DEVICE_GONE);
	check_all(&f, &t, 6, USTOR_ERR_DEVICE_GONE);
	CHECK(ustor_test_hal_log_contains(&f.h, "memory kept"));
	/* The test owns the "device" too: free what the driver had to keep. */
	f.m.frozen = 0;
	ustor_nvme_free_all(f.ctrl);
	fx_finish(&f);
}

/* Recovery off (cmd_timeout_ms 0): no watchdog, no reset, no abort. */
static void test_recovery_off(void)
{
	struct fixture f;
	uint8_t *buf;

	setup(&f);
	f.cfg.cmd_timeout_ms = 0;
	f.cfg.io_timeout_ms = 2000;
	CHECK_OK(fx_start(&f));
	buf = fx_buf(&f, 4096, 0, 0);
	f.m.hold_commands = 1;
	CHECK_ST(ustor_block_read(ustor_nvme_ns_bdev(f.ctrl, 0), 0, 1, buf), USTOR_ERR_TIMEOUT);
	CHECK_EQ(f.ctrl->aborts, 0);
	CHECK_EQ(f.ctrl->resets, 0);
	fx_finish(&f);
}

static void run_all(void)
{
	RUN(test_abort_works);
	RUN(test_hung_read_on_busy_queue);
	RUN(test_aged_fast_command_completes);
	RUN(test_abort_ignored_reset_resubmits);
	RUN(test_reset_restores_all_queues);
	RUN(test_reset_with_shadow_doorbells);
	RUN(test_fatal_mid_io);
	RUN(test_all_ones_mid_io);
	RUN(test_reset_limit);
	RUN(test_no_resets_allowed);
	RUN(test_retries_bounded_and_dnr);
	RUN(test_crd_delay);
	RUN(test_not_ready_delay);
	RUN(test_namespace_changed_across_reset);
	RUN(test_admin_timeout_then_reset);
	RUN(test_hostile_identify);
	RUN(test_hostile_identify_ns);
	RUN(test_hostile_completions);
	RUN(test_cancel_then_reset);
	RUN(test_fail_then_shutdown_ends_held);
	RUN(test_shutdown_of_gone_device_ends_all);
	RUN(test_recovery_off);
}

int main(void)
{
	run_all();
	harness_no_lock = 1;
	run_all();
	return harness_done();
}
