/* SPDX-License-Identifier: MIT */
/*
 * The raw NVMe engine of bench=fio: the ceiling of the rig. No uStor code:
 * its own controller bring-up in a dozen register writes and four admin
 * commands (Identify Namespace 1, Set Features Number of Queues, Create
 * I/O CQ and SQ per CPU), then per job a bare polling loop over one queue
 * pair with pre-built submission entries (only the LBA, opcode and command
 * id change), one SQ tail doorbell per pass over the completion queue
 * (batched), and the CQ head doorbell written lazily, every RAW_CQ_LAZY
 * completions (legal while RAW_CQ_LAZY + the queue depth stay below the
 * CQ size: the controller never sees the queue full).
 *
 * Trusts the device more than uStor does (it is a measuring tool for the
 * QEMU rig, not a driver): command ids are still range-checked.
 */
#include "bench.h"
#include "nvme_ctrls.h"

#define RAW_QS 256u          /* entries per I/O SQ and CQ */
#define RAW_ADMIN_QS 16u
#define RAW_CQ_LAZY 32u      /* completions between CQ head doorbell writes */
#define RAW_MAX_QD 32u
#define RAW_MAX_Q 2u

struct raw_slot {
	uint32_t sqe[16];    /* pre-built submission entry */
	uint64_t t0;
	uint8_t *buf;
	uint64_t *prp;       /* PRP list page (transfers over 8 KiB) */
};

struct raw_q {
	uint16_t qid;
	uint32_t *sq;        /* RAW_QS x 64 bytes */
	volatile uint32_t *cq; /* RAW_QS x 16 bytes */
	volatile uint32_t *db_sq, *db_cq;
	uint16_t sq_tail, cq_head;
	uint32_t phase;
	struct raw_slot slots[RAW_MAX_QD];
	/* the job */
	const struct bench_job *j;
	uint32_t per, lbads;
	uint64_t range, next, rnd, nsze;
	struct bench_res res;
	uint32_t inflight;
};

struct raw_ctrl {
	volatile uint8_t *bar;
	uint32_t dstrd;
	uint32_t *asq;
	volatile uint32_t *acq;
	uint16_t a_tail, a_head;
	uint32_t a_phase;
	uint8_t *page;       /* identify data */
	uint64_t nsze;
	uint32_t lbads;
	struct raw_q q[RAW_MAX_Q];
	unsigned nq;
};

static struct raw_ctrl rc;

static inline uint32_t rd32(uint32_t off)
{
	return *(volatile uint32_t *)(rc.bar + off);
}
static inline void wr32(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(rc.bar + off) = v;
}
static inline void mmio_w(volatile uint32_t *p, uint32_t v)
{
	__asm__ __volatile__("" : : : "memory");
	*p = v;
}
static inline volatile uint32_t *doorbell(uint32_t idx)
{
	return (volatile uint32_t *)(rc.bar + 0x1000u + idx * (4u << rc.dstrd));
}

static int wait_rdy(uint32_t want, uint32_t ms)
{
	uint64_t end = time_now_ns() + (uint64_t)ms * 1000000u;

	while ((rd32(0x1c) & 1u) != want) {
		if (rd32(0x1c) == 0xffffffffu || time_now_ns() > end)
			return -1;
		cpu_relax();
	}
	return 0;
}

/* One admin command; returns the status field (0 = success) or -1 on timeout. */
static int admin(uint8_t opc, uint32_t nsid, uint64_t prp1, uint32_t c10, uint32_t c11)
{
	uint32_t *e = rc.asq + rc.a_tail * 16u;
	uint64_t end = time_now_ns() + 2000000000ull;

	memset(e, 0, 64);
	e[0] = opc | (uint32_t)rc.a_tail << 16;
	e[1] = nsid;
	e[6] = (uint32_t)prp1;
	e[7] = (uint32_t)(prp1 >> 32);
	e[10] = c10;
	e[11] = c11;
	rc.a_tail = (uint16_t)((rc.a_tail + 1u) % RAW_ADMIN_QS);
	mmio_w(doorbell(0), rc.a_tail);
	for (;;) {
		volatile uint32_t *c = rc.acq + rc.a_head * 4u;
		uint32_t dw3 = c[3];

		if ((dw3 >> 16 & 1u) == rc.a_phase) {
			if (++rc.a_head == RAW_ADMIN_QS) {
				rc.a_head = 0;
				rc.a_phase ^= 1u;
			}
			mmio_w(doorbell(1), rc.a_head);
			return (int)(dw3 >> 17);
		}
		if (time_now_ns() > end)
			return -1;
	}
}

static void raw_disable(void)
{
	wr32(0x14, 0);
	wait_rdy(0, 5000);
}

static const char *raw_bring_up(const struct pci_nvme *p, unsigned nq)
{
	uint32_t cmd, cap_lo, cap_hi;
	int st;

	if (p->bar0 == 0 || p->bar0_io || mm_map_uncached(p->bar0, p->bar0_size) != 0)
		return "BAR0 unusable";
	memset(&rc, 0, sizeof(rc));
	rc.bar = (volatile uint8_t *)(uintptr_t)p->bar0;
	cmd = pci_cfg_read32(p->bdf, 0x04);
	pci_cfg_write32(p->bdf, 0x04, (cmd & 0xffffu) | 0x6u); /* memory space, bus master */
	cap_lo = rd32(0);
	cap_hi = rd32(4);
	rc.dstrd = cap_hi & 0xfu;
	if ((cap_lo & 0xffffu) + 1u < RAW_QS)
		return "MQES too small";
	raw_disable();
	rc.asq = page_alloc(4096, 4096);
	rc.acq = page_alloc(4096, 4096);
	rc.page = page_alloc(4096, 4096);
	if (rc.asq == NULL || rc.acq == NULL || rc.page == NULL)
		return "out of memory";
	rc.a_phase = 1;
	wr32(0x24, (RAW_ADMIN_QS - 1u) << 16 | (RAW_ADMIN_QS - 1u));
	wr32(0x28, (uint32_t)(uintptr_t)rc.asq);
	wr32(0x2c, 0);
	wr32(0x30, (uint32_t)(uintptr_t)rc.acq);
	wr32(0x34, 0);
	wr32(0x14, 1u | 6u << 16 | 4u << 20); /* EN, IOSQES 64, IOCQES 16, MPS 4 KiB, NVM */
	if (wait_rdy(1, 5000) != 0)
		return "CSTS.RDY never set";
	if (admin(0x06, 1, (uintptr_t)rc.page, 0, 0) != 0)
		return "Identify Namespace 1 failed";
	memcpy(&rc.nsze, rc.page, 8);
	rc.lbads = rc.page[128 + 4u * (rc.page[26] & 0xfu) + 2u];
	if (rc.nsze == 0 || rc.lbads < 9 || rc.lbads > 12)
		return "namespace 1 unusable";
	if (admin(0x09, 0, 0, 0x07, (nq - 1u) << 16 | (nq - 1u)) != 0)
		return "Set Features Number of Queues failed";
	for (unsigned i = 0; i < nq; i++) {
		struct raw_q *q = &rc.q[i];

		q->qid = (uint16_t)(i + 1u);
		q->sq = page_alloc(RAW_QS * 64u, 4096);
		q->cq = page_alloc(RAW_QS * 16u, 4096);
		if (q->sq == NULL || q->cq == NULL)
			return "out of memory";
		q->phase = 1;
		q->db_sq = doorbell(2u * q->qid);
		q->db_cq = doorbell(2u * q->qid + 1u);
		if (admin(0x05, 0, (uintptr_t)q->cq, (RAW_QS - 1u) << 16 | q->qid, 1) != 0)
			return "Create I/O CQ failed";
		if (admin(0x01, 0, (uintptr_t)q->sq, (RAW_QS - 1u) << 16 | q->qid,
			  (uint32_t)q->qid << 16 | 1u) != 0)
			return "Create I/O SQ failed";
		for (unsigned s = 0; s < RAW_MAX_QD; s++) {
			q->slots[s].prp = page_alloc(4096, 4096);
			if (q->slots[s].prp == NULL)
				return "out of memory";
		}
	}
	rc.nq = nq;
	(void)st;
	return NULL;
}

static inline void put(struct raw_q *q, unsigned s)
{
	struct raw_slot *sl = &q->slots[s];
	uint64_t r = bench_rand(&q->rnd), lba;

	if (q->j->seq) {
		lba = q->next;
		q->next += q->per;
		if (q->next + q->per > q->nsze)
			q->next = 0;
	} else {
		lba = ((r >> 32) * q->range >> 32) * q->per;
	}
	sl->sqe[0] = (q->j->write_pct != 0 && ((r & 0xffffu) * 100u >> 16) < q->j->write_pct ? 0x01u
		      : 0x02u) | s << 16;
	sl->sqe[10] = (uint32_t)lba;
	sl->sqe[11] = (uint32_t)(lba >> 32);
	memcpy(q->sq + q->sq_tail * 16u, sl->sqe, 64);
	q->sq_tail = (uint16_t)(q->sq_tail + 1u == RAW_QS ? 0 : q->sq_tail + 1u);
}

static void raw_job_run(void *arg)
{
	struct raw_q *q = arg;
	uint32_t qd = q->j->qd, unacked = 0;
	uint64_t start = rdtsc(), end = start + bench_job_cycles(), give_up;

	give_up = end + time_tsc_hz() * 10u;
	for (unsigned s = 0; s < qd; s++) {
		q->slots[s].t0 = rdtsc();
		put(q, s);
	}
	q->inflight = qd;
	mmio_w(q->db_sq, q->sq_tail);
	while (q->inflight != 0) {
		unsigned subs = 0;
		uint64_t now = rdtsc();

		for (;;) {
			volatile uint32_t *c = q->cq + q->cq_head * 4u;
			uint32_t dw3 = c[3];

			if ((dw3 >> 16 & 1u) != q->phase)
				break;
			unsigned s = dw3 & 0xffffu;
			if (++q->cq_head == RAW_QS) {
				q->cq_head = 0;
				q->phase ^= 1u;
			}
			unacked++;
			if (s >= qd) {
				q->res.errors++;
				continue;
			}
			now = rdtsc();
			if ((dw3 >> 17) != 0)
				q->res.errors++;
			if (now < end) {
				bench_lat_add(&q->res.lat, now - q->slots[s].t0);
				q->res.ios++;
				if ((q->slots[s].sqe[0] & 0xffu) == 0x01u)
					q->res.writes++;
				else
					q->res.reads++;
				q->slots[s].t0 = now;
				put(q, s);
				subs++;
				if (!bench_raw_batch)
					mmio_w(q->db_sq, q->sq_tail);
			} else {
				q->inflight--;
			}
		}
		if (subs != 0 && bench_raw_batch)
			mmio_w(q->db_sq, q->sq_tail);
		if (unacked >= (bench_raw_lazy ? RAW_CQ_LAZY : 1u) || (q->inflight == 0 && unacked != 0)) {
			mmio_w(q->db_cq, q->cq_head);
			unacked = 0;
		}
		if (now > give_up)
			break;
	}
	q->res.cycles = end - start;
}

static void raw_job_prepare(struct raw_q *q, const struct bench_job *j, uint8_t *bufs)
{
	q->j = j;
	memset(&q->res, 0, sizeof(q->res));
	bench_lat_reset(&q->res.lat);
	q->per = j->bs >> rc.lbads;
	q->nsze = rc.nsze;
	q->range = rc.nsze / q->per;
	if (q->range > 0xffffffffull)
		q->range = 0xffffffffull;
	q->next = 0;
	q->rnd = 0x2545f4914f6cdd1dull ^ rdtsc() ^ ((uint64_t)q->qid << 48);
	for (unsigned s = 0; s < j->qd; s++) {
		struct raw_slot *sl = &q->slots[s];
		uint64_t b = (uintptr_t)(bufs + (size_t)s * j->bs);
		uint32_t pages = j->bs / 4096u;

		sl->buf = bufs + (size_t)s * j->bs;
		memset(sl->sqe, 0, 64);
		sl->sqe[1] = 1; /* nsid */
		sl->sqe[6] = (uint32_t)b;
		sl->sqe[7] = (uint32_t)(b >> 32);
		if (pages == 2) {
			sl->sqe[8] = (uint32_t)(b + 4096u);
			sl->sqe[9] = (uint32_t)((b + 4096u) >> 32);
		} else if (pages > 2) {
			for (uint32_t k = 1; k < pages; k++)
				sl->prp[k - 1] = b + 4096u * k;
			sl->sqe[8] = (uint32_t)(uintptr_t)sl->prp;
			sl->sqe[9] = 0;
		}
		sl->sqe[12] = q->per - 1u;
	}
}

static void raw_job(const char *dev, const struct bench_job *j, uint8_t *bufs)
{
	struct bench_res total;

	if (j->cpus > smp_cpus() || j->cpus > rc.nq) {
		kprintf("bench: raw %s %s skipped: needs %u CPUs\n", dev, j->name, j->cpus);
		return;
	}
	for (unsigned c = 0; c < j->cpus; c++)
		raw_job_prepare(&rc.q[c], j, bufs + (size_t)c * RAW_MAX_QD * 4096u);
	for (unsigned c = 1; c < j->cpus; c++)
		smp_run_on(c, raw_job_run, &rc.q[c]);
	raw_job_run(&rc.q[0]);
	for (unsigned c = 1; c < j->cpus; c++)
		smp_wait(c);
	memset(&total, 0, sizeof(total));
	bench_lat_reset(&total.lat);
	for (unsigned c = 0; c < j->cpus; c++) {
		struct bench_res *r = &rc.q[c].res;

		total.ios += r->ios;
		total.reads += r->reads;
		total.writes += r->writes;
		total.errors += r->errors;
		if (r->cycles > total.cycles)
			total.cycles = r->cycles;
		bench_lat_merge(&total.lat, &r->lat);
	}
	bench_report("raw", dev, j, &total);
}

void raw_nvme_run_all(void)
{
	struct pci_nvme found[MAX_CTRLS];
	unsigned n = pci_find_nvme(found, MAX_CTRLS);
	uint8_t *bufs = page_alloc(1u << 20, 4096);

	if (bufs == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		char dev[16];
		unsigned nq = smp_cpus() > 1 ? 2u : 1u;
		const char *why;

		ksnprintf(dev, sizeof(dev), "nvme%un1", i);
		why = raw_bring_up(&found[i], nq);
		if (why != NULL) {
			kprintf("bench: raw %s: %s\n", dev, why);
		} else {
			for (unsigned k = 0; k < BENCH_NJOBS; k++)
				if (bench_job_selected(k) && bench_jobs[k].bs >> rc.lbads != 0)
					raw_job(dev, &bench_jobs[k], bufs);
		}
		if (rc.bar != NULL)
			raw_disable();
		/* Free only after the reset: the controller no longer touches them. */
		for (unsigned k = 0; k < RAW_MAX_Q; k++) {
			if (rc.q[k].sq != NULL)
				page_free(rc.q[k].sq, RAW_QS * 64u);
			if (rc.q[k].cq != NULL)
				page_free((void *)(uintptr_t)rc.q[k].cq, RAW_QS * 16u);
			for (unsigned s = 0; s < RAW_MAX_QD; s++)
				if (rc.q[k].slots[s].prp != NULL)
					page_free(rc.q[k].slots[s].prp, 4096);
		}
		if (rc.asq != NULL)
			page_free(rc.asq, 4096);
		if (rc.acq != NULL)
			page_free((void *)(uintptr_t)rc.acq, 4096);
		if (rc.page != NULL)
			page_free(rc.page, 4096);
		memset(&rc, 0, sizeof(rc));
	}
	page_free(bufs, 1u << 20);
}
