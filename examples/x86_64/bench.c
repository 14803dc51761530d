/* SPDX-License-Identifier: MIT */
/*
 * bench=fio: fio-like jobs on every disk, first through the kernel's own
 * raw drivers (the ceiling of the rig), then through uStor's asynchronous
 * API, then one ratio line per job. Each job runs a fixed time (bench_ms=,
 * default 2000) with a fixed number of requests in flight (rounds=N
 * repeats raw-then-uStor N times in one boot); every
 * completion callback records the latency (TSC) and resubmits at once with
 * USTOR_REQ_F_MORE, and the loop calls ustor_block_kick after each poll
 * that reaped something, so one doorbell covers a poll's worth of requests.
 *
 * stats=1 switches uStor's statistics on and prints its own figures after
 * each job (the cost of counting shows in the IOPS).
 *
 * Lines (tests/bench/bench-kernel parses them):
 *   FIO <raw|ustor> <dev> <job>: IOPS=.., BW=..MiB/s, clat (usec): min=.., avg=..,
 *       max=.., p50=.., p99=.., p99.9=.., ios=.., errors=.., runtime=..ms
 *   RATIO <dev> <job>: ustor/raw=0.93 (ustor N IOPS, raw M IOPS)
 *   SCALE <dev>: 1 queue pair N IOPS, 2 queue pairs M IOPS (x1.85)
 */
#include "bench.h"
#include "nvme_ctrls.h"
#include "shell_stats.h"
#include "ustor/stats.h"

const struct bench_job bench_jobs[BENCH_NJOBS] = {
	{ "qd1", 4096, 1, 0, 0, 1 },
	{ "qd32", 4096, 32, 0, 0, 1 },
	{ "seq128k", 131072, 8, 0, 1, 1 },
	{ "randrw", 4096, 32, 30, 0, 1 },
	{ "mq", 4096, 32, 0, 0, 2 },
};

static uint32_t opt_ms = 2000;
static uint32_t opt_jobs = (1u << BENCH_NJOBS) - 1u;
static int opt_raw = 1, opt_ustor = 1, opt_smp = 1;
static uint32_t opt_rounds = 1;
static int opt_stats;
static int opt_lockless = 1;
int bench_raw_batch = 1, bench_raw_lazy = 1;

static int word_is(const char *s, const char *end, const char *lit)
{
	size_t n = kstrlen(lit);
	return (size_t)(end - s) == n && memcmp(s, lit, n) == 0;
}

int bench_option(const char *key, const char *kend, const char *val, const char *vend)
{
	uint64_t v = 0;
	const char *p;

	if (word_is(key, kend, "jobs")) {
		opt_jobs = 0;
		while (val < vend) {
			for (p = val; p < vend && *p != ','; p++)
				;
			for (unsigned i = 0; i < BENCH_NJOBS; i++)
				if (word_is(val, p, bench_jobs[i].name))
					opt_jobs |= 1u << i;
			val = p < vend ? p + 1 : p;
		}
		return 1;
	}
	if (!word_is(key, kend, "bench_ms") && !word_is(key, kend, "raw") &&
	    !word_is(key, kend, "ustor") && !word_is(key, kend, "smp") &&
	    !word_is(key, kend, "raw_batch") && !word_is(key, kend, "raw_lazy") &&
	    !word_is(key, kend, "rounds") && !word_is(key, kend, "stats") &&
	    !word_is(key, kend, "lockless"))
		return 0;
	for (p = val; p < vend; p++) {
		if (*p < '0' || *p > '9' || v > 100000000u)
			return 1;
		v = v * 10u + (uint64_t)(*p - '0');
	}
	if (word_is(key, kend, "bench_ms"))
		opt_ms = v < 10u ? 10u : (uint32_t)v;
	else if (word_is(key, kend, "raw"))
		opt_raw = v != 0;
	else if (word_is(key, kend, "ustor"))
		opt_ustor = v != 0;
	else if (word_is(key, kend, "lockless"))
		opt_lockless = v != 0;
	else if (word_is(key, kend, "stats"))
		opt_stats = v != 0;
	else if (word_is(key, kend, "rounds"))
		opt_rounds = v < 1u ? 1u : v > 20u ? 20u : (uint32_t)v;
	else if (word_is(key, kend, "raw_batch"))
		bench_raw_batch = v != 0;
	else if (word_is(key, kend, "raw_lazy"))
		bench_raw_lazy = v != 0;
	else
		opt_smp = v != 0;
	return 1;
}

uint64_t bench_job_cycles(void)
{
	return time_tsc_hz() / 1000u * opt_ms;
}

int bench_job_selected(unsigned index)
{
	return index < BENCH_NJOBS && (opt_jobs >> index & 1u) != 0;
}

/* ---- Histogram, reporting ------------------------------------------------------- */

void bench_lat_reset(struct bench_lat *l)
{
	memset(l, 0, sizeof(*l));
	l->min = ~0ull;
}

void bench_lat_merge(struct bench_lat *into, const struct bench_lat *from)
{
	into->n += from->n;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	for (unsigned i = 0; i < BENCH_HIST; i++)
		into->hist[i] += from->hist[i];
}

/* Middle of bucket b, in cycles. */
static uint64_t bucket_mid(unsigned b)
{
	if (b < 32u)
		return b;
	unsigned k = b - 32u, msb = 5u + k / 16u;
	uint64_t width = 1ull << (msb - 4u);
	return (16u + k % 16u) * width + width / 2u;
}

/* permille: 500 = p50, 990 = p99, 999 = p99.9. */
static uint64_t percentile(const struct bench_lat *l, uint64_t per_mille_x10)
{
	uint64_t want = (l->n * per_mille_x10 + 9999u) / 10000u, seen = 0;

	for (unsigned b = 0; b < BENCH_HIST; b++) {
		seen += l->hist[b];
		if (seen >= want && seen != 0)
			return bucket_mid(b);
	}
	return l->max;
}

/* Cycles to tenths of a microsecond. */
static uint64_t cyc_to_us10(uint64_t cyc)
{
	uint64_t mhz = time_tsc_hz() / 1000000u;
	return mhz ? cyc * 10u / mhz : 0;
}

#define MAX_RESULTS 32
static struct {
	char dev[16];
	uint8_t job;
	uint64_t iops[2]; /* raw, ustor */
	uint8_t have[2];
} results[MAX_RESULTS];
static unsigned n_results;

static int same_name(const char *a, const char *b)
{
	size_t n = kstrlen(a);
	return n == kstrlen(b) && memcmp(a, b, n) == 0;
}

static void remember(const char *engine, const char *dev, const struct bench_job *j, uint64_t iops)
{
	unsigned job = (unsigned)(j - bench_jobs), e = engine[0] == 'r' ? 0u : 1u, i;

	for (i = 0; i < n_results; i++)
		if (results[i].job == job && same_name(results[i].dev, dev))
			break;
	if (i == n_results) {
		if (n_results == MAX_RESULTS)
			return;
		n_results++;
		memset(results[i].dev, 0, sizeof(results[i].dev));
		memcpy(results[i].dev, dev, kstrlen(dev) < 15 ? kstrlen(dev) : 15);
		results[i].job = (uint8_t)job;
	}
	results[i].iops[e] = iops;
	results[i].have[e] = 1;
}

#define US10(x) (unsigned long long)((x) / 10u), (unsigned long long)((x) % 10u)

void bench_report(const char *engine, const char *dev, const struct bench_job *j,
		  struct bench_res *r)
{
	const struct bench_lat *l = &r->lat;
	uint64_t hz = time_tsc_hz();
	uint64_t iops = r->cycles ? r->ios * hz / r->cycles : 0;
	uint64_t kib_s = iops * (j->bs / 1024u);
	uint64_t mib10 = kib_s * 10u / 1024u;
	uint64_t avg = l->n ? l->sum / l->n : 0;

	r->iops = iops;
	kprintf("FIO %s %s %s: IOPS=%llu, BW=%llu.%lluMiB/s, clat (usec): min=%llu.%llu, "
		"avg=%llu.%llu, max=%llu.%llu, p50=%llu.%llu, p99=%llu.%llu, p99.9=%llu.%llu, "
		"ios=%llu, reads=%llu, writes=%llu, errors=%llu, runtime=%llums, qd=%u, bs=%u\n",
		engine, dev, j->name, (unsigned long long)iops, US10(mib10),
		US10(cyc_to_us10(l->n ? l->min : 0)), US10(cyc_to_us10(avg)),
		US10(cyc_to_us10(l->max)), US10(cyc_to_us10(percentile(l, 5000))),
		US10(cyc_to_us10(percentile(l, 9900))), US10(cyc_to_us10(percentile(l, 9990))),
		(unsigned long long)r->ios, (unsigned long long)r->reads,
		(unsigned long long)r->writes, (unsigned long long)r->errors,
		(unsigned long long)(r->cycles * 1000u / (hz ? hz : 1)), j->qd * j->cpus, j->bs);
	remember(engine, dev, j, iops);
}

static void print_ratios(void)
{
	for (unsigned i = 0; i < n_results; i++) {
		if (!results[i].have[0] || !results[i].have[1] || results[i].iops[0] == 0)
			continue;
		uint64_t pct = results[i].iops[1] * 100u / results[i].iops[0];
		kprintf("RATIO %s %s: ustor/raw=%llu.%02llu (ustor %llu IOPS, raw %llu IOPS)\n",
			results[i].dev, bench_jobs[results[i].job].name,
			(unsigned long long)(pct / 100u), (unsigned long long)(pct % 100u),
			(unsigned long long)results[i].iops[1], (unsigned long long)results[i].iops[0]);
	}
	for (unsigned i = 0; i < n_results; i++) {
		if (results[i].job != BENCH_JOB_MQ)
			continue;
		for (unsigned e = 0; e < 2; e++) {
			for (unsigned k = 0; k < n_results; k++) {
				if (results[k].job != 1 || !results[k].have[e] || !results[i].have[e] ||
				    !same_name(results[k].dev, results[i].dev) ||
				    results[k].iops[e] == 0)
					continue;
				uint64_t x = results[i].iops[e] * 100u / results[k].iops[e];
				kprintf("SCALE %s %s: 1 queue pair %llu IOPS, 2 queue pairs (2 CPUs) %llu "
					"IOPS (x%llu.%02llu)\n", e ? "ustor" : "raw", results[i].dev,
					(unsigned long long)results[k].iops[e],
					(unsigned long long)results[i].iops[e],
					(unsigned long long)(x / 100u), (unsigned long long)(x % 100u));
			}
		}
	}
}

/* ---- The uStor engine ------------------------------------------------------------ */

#define MAX_QD 32u
#define MAX_CPUS 2u

struct ujob;
struct uslot {
	struct ustor_block_req req;
	uint64_t t0;
	struct ujob *jc;
};

struct ujob {
	struct ustor_block_device *d;
	const struct bench_job *j;
	uint16_t queue;
	uint32_t per;            /* blocks per I/O */
	uint64_t range;          /* I/O-sized slots on the disk */
	uint64_t next;           /* next sequential LBA */
	uint64_t rnd;
	uint64_t end;            /* TSC when the job stops submitting */
	uint32_t inflight;
	uint32_t nretry;         /* requests refused with USTOR_ERR_BUSY, to resubmit */
	struct uslot *retry[MAX_QD];
	struct bench_res res;
	struct uslot slots[MAX_QD];
	uint8_t *buf;
};

static struct ujob ujobs[MAX_CPUS];

static void uprep(struct ujob *jc, struct uslot *s)
{
	uint64_t r = bench_rand(&jc->rnd);
	struct ustor_block_req *q = &s->req;

	if (jc->j->seq) {
		q->lba = jc->next;
		jc->next += jc->per;
		if (jc->next + jc->per > jc->d->nblocks)
			jc->next = 0;
	} else {
		q->lba = ((r >> 32) * jc->range >> 32) * jc->per;
	}
	q->op = jc->j->write_pct != 0 && ((r & 0xffffu) * 100u >> 16) < jc->j->write_pct
		? USTOR_BLOCK_WRITE : USTOR_BLOCK_READ;
}

static void udone(struct ustor_block_req *req)
{
	struct uslot *s = req->user;
	struct ujob *jc = s->jc;
	uint64_t now = rdtsc();

	if (__builtin_expect(req->status != USTOR_OK, 0))
		jc->res.errors++;
	/* Counted when finished within the run time, as the raw engines do. */
	if (__builtin_expect(now < jc->end, 1)) {
		bench_lat_add(&jc->res.lat, now - s->t0);
		jc->res.ios++;
		if (req->op == USTOR_BLOCK_WRITE)
			jc->res.writes++;
		else
			jc->res.reads++;
		uprep(jc, s);
		req->flags = USTOR_REQ_F_MORE;
		s->t0 = now;
		ustor_status st = ustor_block_submit(jc->d, req);
		if (st == USTOR_OK)
			return;
		if (st == USTOR_ERR_BUSY && jc->nretry < MAX_QD) {
			jc->retry[jc->nretry++] = s; /* queue full: again after the next poll */
			return;
		}
		jc->res.errors++;
	}
	jc->inflight--;
}

/* Resubmit what the queue refused as full; a request refused again waits
 * for the next round. */
static void uretry(struct ujob *jc)
{
	uint32_t n = jc->nretry;

	jc->nretry = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct uslot *s = jc->retry[i];
		ustor_status st;

		if (rdtsc() >= jc->end) {
			jc->inflight--;
			continue;
		}
		s->req.flags = 0;
		s->t0 = rdtsc();
		st = ustor_block_submit(jc->d, &s->req);
		if (st == USTOR_ERR_BUSY) {
			jc->retry[jc->nretry++] = s;
		} else if (st != USTOR_OK) {
			jc->res.errors++;
			jc->inflight--;
		}
	}
}

static void ujob_run(void *arg)
{
	struct ujob *jc = arg;
	struct ustor_block_device *d = jc->d;
	uint16_t q = jc->queue;
	uint64_t start, stop;

	start = rdtsc();
	jc->end = start + bench_job_cycles();
	for (uint32_t i = 0; i < jc->j->qd; i++) {
		struct uslot *s = &jc->slots[i];

		uprep(jc, s);
		s->req.flags = i + 1 < jc->j->qd ? USTOR_REQ_F_MORE : 0;
		s->t0 = rdtsc();
		ustor_status st = ustor_block_submit(d, &s->req);
		if (st == USTOR_OK) {
			jc->inflight++;
		} else if (st == USTOR_ERR_BUSY) {
			jc->inflight++;
			jc->retry[jc->nretry++] = s;
		} else {
			jc->res.errors++;
		}
	}
	ustor_block_kick(d, q);
	while (jc->inflight != 0) {
		if (ustor_block_poll(d, q) != 0)
			ustor_block_kick(d, q);
		if (__builtin_expect(jc->nretry != 0, 0)) {
			uretry(jc);
			ustor_block_kick(d, q);
		}
		if (rdtsc() > jc->end + time_tsc_hz() * 10u)
			break; /* a request that never completes: give up after 10 s */
	}
	stop = rdtsc();
	jc->res.cycles = (stop < jc->end ? stop : jc->end) - start;
}

static void ujob_prepare(struct ujob *jc, struct ustor_block_device *d, const struct bench_job *j,
			 uint16_t queue, uint8_t *buf)
{
	memset(jc, 0, sizeof(*jc));
	jc->d = d;
	jc->j = j;
	jc->queue = queue;
	jc->per = j->bs >> d->block_shift ? j->bs >> d->block_shift : 1u;
	jc->range = d->nblocks / jc->per;
	if (jc->range > 0xffffffffull)
		jc->range = 0xffffffffull;
	jc->rnd = 0x9e3779b97f4a7c15ull ^ rdtsc() ^ ((uint64_t)queue << 40);
	jc->buf = buf;
	bench_lat_reset(&jc->res.lat);
	for (uint32_t i = 0; i < j->qd && i < MAX_QD; i++) {
		struct uslot *s = &jc->slots[i];

		s->jc = jc;
		s->req.nblocks = jc->per;
		s->req.queue = queue;
		s->req.buf = buf + (size_t)i * j->bs;
		s->req.done = udone;
		s->req.user = s;
	}
}

static unsigned ustor_job(struct ustor_block_device *d, const struct bench_job *j, uint8_t *bufs)
{
	unsigned cpus = j->cpus;
	struct bench_res total;

	if (cpus > smp_cpus() || cpus > d->nqueues) {
		kprintf("bench: %s %s skipped: needs %u CPUs and queue pairs (have %u CPUs, %u "
			"queues)\n", d->name, j->name, cpus, smp_cpus(), d->nqueues);
		return 0;
	}
	for (unsigned c = 0; c < cpus; c++)
		ujob_prepare(&ujobs[c], d, j, (uint16_t)c, bufs + (size_t)c * MAX_QD * 4096u);
	for (unsigned c = 1; c < cpus; c++)
		smp_run_on(c, ujob_run, &ujobs[c]);
	ujob_run(&ujobs[0]);
	for (unsigned c = 1; c < cpus; c++)
		smp_wait(c);
	memset(&total, 0, sizeof(total));
	bench_lat_reset(&total.lat);
	for (unsigned c = 0; c < cpus; c++) {
		struct bench_res *r = &ujobs[c].res;

		total.ios += r->ios;
		total.reads += r->reads;
		total.writes += r->writes;
		total.errors += r->errors;
		if (r->cycles > total.cycles)
			total.cycles = r->cycles;
		bench_lat_merge(&total.lat, &r->lat);
		if (ujobs[c].inflight != 0)
			kprintf("bench: %s %s: %u requests never completed\n", d->name, j->name,
				ujobs[c].inflight);
	}
	bench_report("ustor", d->name, j, &total);
	return total.errors != 0 || ujobs[0].inflight != 0;
}

/* Statistics memory for every disk (stats=1 on the command line in the
 * shell; here only to show that uStor counted the same I/Os). */
static unsigned ustor_all(void)
{
	struct ustor_block_device *devs[MAX_CTRLS + MAX_VBLKS];
	unsigned ndev = 0, fails = 0;
	/* 128 KiB x 8 = 1 MiB is the largest job; mq needs 2 x 32 x 4 KiB. */
	uint8_t *bufs = page_alloc(1u << 20, PAGE_SIZE);

	if (bufs == NULL) {
		kprintf("bench: no memory for buffers\n");
		return 1;
	}
	for (unsigned i = 0; i < n_ctrls; i++)
		if (ctrls[i].up && ustor_nvme_ns_count(&ctrls[i].ctrl) > 0)
			devs[ndev++] = ustor_nvme_ns_bdev(&ctrls[i].ctrl, 0);
	for (unsigned i = 0; i < n_vblks; i++)
		if (vblks[i].up)
			devs[ndev++] = ustor_virtio_blk_bdev(&vblks[i].vb);
	for (unsigned k = 0; k < ndev; k++)
		for (unsigned i = 0; i < BENCH_NJOBS; i++)
			if (bench_job_selected(i)) {
				if (opt_stats)
					ustor_block_stats_reset(devs[k]);
				fails += ustor_job(devs[k], &bench_jobs[i], bufs);
				if (opt_stats)
					stats_show(devs[k]); /* what uStor itself counted */
			}
	page_free(bufs, 1u << 20);
	return fails;
}

void bench_nvme_config(struct ustor_nvme_config *cfg)
{
	/* CPU c only ever uses queue c (ujob_prepare), as the option asks. */
	if (kopt.bench_fio && smp_cpus() > 1 && opt_lockless)
		cfg->lockless_io_queues = 1;
}

unsigned bench_run(void)
{
	unsigned fails = 0;

	kprintf("bench: jobs of %u ms, TSC %llu MHz, raw=%d (batched doorbells %d, lazy CQ head %d) "
		"ustor=%d\n", opt_ms, (unsigned long long)(time_tsc_hz() / 1000000u), opt_raw,
		bench_raw_batch, bench_raw_lazy, opt_ustor);
	if (opt_smp)
		smp_init();
	kprintf("bench: %u CPU(s), %u round(s), NVMe I/O queues %s\n", smp_cpus(), opt_rounds,
		smp_cpus() < 2 ? "unlocked (one CPU)" : opt_lockless ? "per CPU, lock-free"
							   : "shared, locked");
	if (kopt.queues == 0)
		kopt.queues = smp_cpus() > 1 ? 2 : 1; /* a queue pair per CPU */
	port_hal_smp = smp_cpus() > 1;
	/* Raw, then uStor, then the ratios of this round: with rounds=N the
	 * two engines alternate, so a slow spell of the host hits both. */
	for (uint32_t round = 0; round < opt_rounds; round++) {
		n_results = 0;
		if (opt_raw) {
			raw_nvme_run_all();
			raw_virtio_run_all();
		}
		if (opt_ustor) {
			selftest_bring_up();
			if (opt_stats)
				stats_enable_all();
			fails += ustor_all();
			selftest_shutdown();
		}
		print_ratios();
	}
	kprintf("BENCH-DONE fails=%u\n", fails);
	/* The test contract's summary too (init and shutdown lines were
	 * reported), so tests/qemu/selftest can judge a benchmark boot. */
	report("bench", "jobs", fails != 0 ? FAIL : PASS, "%u job(s) with errors or requests that "
	       "never completed", fails);
	return selftest_done();
}
