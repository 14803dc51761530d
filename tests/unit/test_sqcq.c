/* SPDX-License-Identifier: MIT */
/* The generic ring on its own: a fake doorbell window records what the ring
 * writes, and the test plays the device by writing CQ entries. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ustor/endian.h"
#include "ustor/sqcq.h"

struct fake_db {
	uint32_t last[64];
	unsigned writes;
	uint32_t last_off;
};

static uint32_t fake_rd(void *dev, uint32_t off)
{
	(void)dev;
	(void)off;
	return 0;
}

static void fake_wr(void *dev, uint32_t off, uint32_t val)
{
	struct fake_db *d = dev;
	d->writes++;
	d->last_off = off;
	if (off >= 0x1000 && (off - 0x1000) / 4 < 64)
		d->last[(off - 0x1000) / 4] = val;
}

/* The device posts a completion at slot `i` with phase `p`. */
static void post(struct ustor_sqcq *q, unsigned i, uint16_t cid, uint16_t sqhd, unsigned p,
		 uint16_t status)
{
	volatile struct ustor_nvme_cqe *c = &q->cq[i];
	c->dw0 = ustor_cpu_to_le32(0x1000u + cid);
	c->sqhd = ustor_cpu_to_le16(sqhd);
	c->sqid = ustor_cpu_to_le16(q->qid);
	c->cid = ustor_cpu_to_le16(cid);
	c->status = ustor_cpu_to_le16((uint16_t)((status << 1) | p));
}

static void test_push_ring_wrap(void)
{
	struct ustor_test_hal h;
	struct fake_db db;
	struct ustor_sqcq q;
	struct ustor_nvme_sqe sqe;
	struct ustor_nvme_cqe cqe = { 0, 0, 0, 0, 0, 0 };
	void *regs = malloc(0x2000);
	unsigned i;
	const uint8_t *raw;

	memset(&db, 0, sizeof(db));
	ustor_test_hal_init(&h);
	ustor_test_hal_attach_mmio(&h, regs, 0x2000, &db, fake_rd, fake_wr);
	/* Queue 1, stride 4 << 1 = 8 bytes: SQ1 doorbell at 0x1010, CQ1 at 0x1018.
	 * Depth 5 is not a power of two on purpose. */
	CHECK_OK(ustor_sqcq_init(&q, &h.hal, regs, 1, 5, 1, 4096));
	CHECK(q.sq_bus != (uintptr_t)q.sq); /* bus addresses differ from pointers */

	memset(&sqe, 0, sizeof(sqe));
	for (i = 0; i < 4; i++) {
		sqe.cdw0 = 0x02u | (i << 16);
		sqe.prp1 = 0x1122334455667788ull;
		CHECK_OK(ustor_sqcq_push(&q, &sqe));
	}
	CHECK(ustor_sqcq_full(&q));
	CHECK_ST(ustor_sqcq_push(&q, &sqe), USTOR_ERR_BUSY);
	CHECK_EQ(db.writes, 0); /* nothing rung yet: one doorbell per batch */
	ustor_sqcq_ring_sq(&q);
	CHECK_EQ(db.writes, 1);
	CHECK_EQ(db.last_off, 0x1010);
	CHECK_EQ(db.last[4], 4);
	ustor_sqcq_ring_sq(&q); /* nothing new: no second write */
	CHECK_EQ(db.writes, 1);
	/* Wire format is little-endian whatever the CPU. */
	raw = q.sq + 64;
	CHECK(raw[0] == 0x02 && raw[2] == 0x01 && raw[24] == 0x88 && raw[31] == 0x11);

	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 0);
	post(&q, 0, 0, 2, 1, 0);
	post(&q, 1, 1, 4, 1, 0x281); /* media error status with phase */
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
	CHECK_EQ(cqe.cid, 0);
	CHECK_EQ(cqe.dw0, 0x1000);
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
	CHECK_EQ(cqe.status, 0x281);
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 0);
	CHECK(h.rmb_count >= 2);
	ustor_sqcq_ring_cq(&q, 0); /* depth 5: a doorbell per completion */
	CHECK_EQ(db.last_off, 0x1018);
	CHECK_EQ(db.last[6], 2);
	CHECK(!ustor_sqcq_full(&q)); /* device reported head 4 */

	/* Fill the CQ past its end: the phase flips on wrap. */
	post(&q, 2, 2, 4, 1, 0);
	post(&q, 3, 3, 4, 1, 0);
	post(&q, 4, 4, 4, 1, 0);
	post(&q, 0, 5, 4, 0, 0); /* second lap: phase 0 means new */
	for (i = 0; i < 4; i++)
		CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
	CHECK_EQ(cqe.cid, 5);
	CHECK_EQ(q.cq_phase, 0);
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 0); /* slot 1 still has old phase 1 */

	/* A hostile SQ head is counted, never used as an index. */
	post(&q, 1, 6, 999, 0, 0);
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
	CHECK_EQ(q.bad_sqhd, 1);
	CHECK(q.sq_head < q.depth);

	ustor_sqcq_fini(&q);
	CHECK_EQ(ustor_test_hal_live_allocs(&h), 0);
	ustor_test_hal_detach_mmio(&h, regs);
	ustor_test_hal_fini(&h);
	free(regs);
}

/* The CQ doorbell is written once a quarter of the ring was consumed, or
 * when forced; never for nothing. */
static void test_cq_doorbell_batching(void)
{
	struct ustor_test_hal h;
	struct fake_db db;
	struct ustor_sqcq q;
	struct ustor_nvme_cqe cqe = { 0, 0, 0, 0, 0, 0 };
	void *regs = malloc(0x2000);
	unsigned i;

	memset(&db, 0, sizeof(db));
	ustor_test_hal_init(&h);
	ustor_test_hal_attach_mmio(&h, regs, 0x2000, &db, fake_rd, fake_wr);
	CHECK_OK(ustor_sqcq_init(&q, &h.hal, regs, 0, 16, 0, 4096));
	CHECK_EQ(q.cq_db_every, 4);
	for (i = 0; i < 3; i++) {
		post(&q, i, (uint16_t)i, 0, 1, 0);
		CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
		ustor_sqcq_ring_cq(&q, 0);
	}
	CHECK_EQ(db.writes, 0);
	post(&q, 3, 3, 0, 1, 0);
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
	ustor_sqcq_ring_cq(&q, 0);
	CHECK_EQ(db.writes, 1);
	CHECK_EQ(db.last[1], 4); /* CQ 0 head doorbell at 0x1004 */
	post(&q, 4, 4, 0, 1, 0);
	CHECK_EQ(ustor_sqcq_reap(&q, &cqe), 1);
	ustor_sqcq_ring_cq(&q, 1);
	CHECK_EQ(db.writes, 2);
	ustor_sqcq_ring_cq(&q, 1); /* nothing new: no write */
	CHECK_EQ(db.writes, 2);
	ustor_sqcq_fini(&q);
	ustor_test_hal_detach_mmio(&h, regs);
	ustor_test_hal_fini(&h);
	free(regs);
}

static void test_init_nomem(void)
{
	struct ustor_test_hal h;
	struct ustor_sqcq q;
	void *regs = malloc(0x2000);

	ustor_test_hal_init(&h);
	h.fail_alloc_after = 1; /* SQ succeeds, CQ fails */
	CHECK_ST(ustor_sqcq_init(&q, &h.hal, regs, 0, 8, 0, 4096), USTOR_ERR_NO_MEMORY);
	CHECK_EQ(ustor_test_hal_live_allocs(&h), 0);
	CHECK_ST(ustor_sqcq_init(&q, &h.hal, regs, 0, 1, 0, 4096), USTOR_ERR_INVALID_ARG);
	ustor_test_hal_fini(&h);
	free(regs);
}

/* The shadow doorbell EventIdx test: ring when the move from old to now
 * passes evt (evt in [old, now)), wrap-safe at 16 bits. */
static void test_need_event(void)
{
	CHECK(ustor_sqcq_need_event(0, 1, 0));          /* device waits at 0: 0 -> 1 passes it */
	CHECK(!ustor_sqcq_need_event(0, 2, 1));         /* already told past 0 */
	CHECK(ustor_sqcq_need_event(5, 8, 3));          /* 3 -> 8 passes 5 */
	CHECK(ustor_sqcq_need_event(7, 8, 3));          /* evt = now - 1: passes */
	CHECK(!ustor_sqcq_need_event(8, 8, 3));         /* evt = now: not yet */
	CHECK(!ustor_sqcq_need_event(2, 8, 3));         /* evt before old: told already */
	CHECK(ustor_sqcq_need_event(0xffff, 2, 0xfffe)); /* across the wrap */
	CHECK(ustor_sqcq_need_event(0, 2, 0xfffe));
	CHECK(!ustor_sqcq_need_event(0xfffd, 2, 0xfffe));
	CHECK(!ustor_sqcq_need_event(3, 3, 3));         /* no move, no doorbell */
}

int main(void)
{
	RUN(test_need_event);
	RUN(test_push_ring_wrap);
	RUN(test_cq_doorbell_batching);
	RUN(test_init_nomem);
	return harness_done();
}
