/* SPDX-License-Identifier: MIT */
/*
 * The benchmark mode of the example kernel (bench=fio): fio-like jobs on
 * every disk through uStor's asynchronous API (bench.c) and, for the
 * ceiling of the rig, the same jobs through the kernel's own minimal
 * NVMe and virtio-blk drivers (raw_nvme.c, raw_virtio.c). Shared here:
 * the job table, the latency histogram and the fio-style result line.
 */
#ifndef BENCH_H
#define BENCH_H

#include "kernel.h"

/* One job, as in /work/shared/bench/README.md. */
struct bench_job {
	const char *name;      /* qd1, qd32, seq128k, randrw, mq */
	uint32_t bs;           /* bytes per I/O */
	uint32_t qd;           /* requests kept in flight (per CPU for mq) */
	uint32_t write_pct;    /* 0..100: share of writes */
	uint8_t seq;           /* sequential LBAs instead of random */
	uint8_t cpus;          /* CPUs submitting, each on its own queue (mq) */
};

#define BENCH_NJOBS 5
#define BENCH_JOB_MQ 4         /* index of the multi-queue job */
extern const struct bench_job bench_jobs[BENCH_NJOBS];

/* Latency histogram in TSC cycles: values below 32 exact, then 16 linear
 * steps per power of two (6 % resolution). */
#define BENCH_HIST 640u
struct bench_lat {
	uint64_t n, sum, min, max; /* cycles */
	uint32_t hist[BENCH_HIST];
};

static inline unsigned bench_bucket(uint64_t v)
{
	unsigned msb;

	if (v < 32u)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned b = 32u + (msb - 5u) * 16u + (unsigned)((v >> (msb - 4u)) & 15u);
	return b < BENCH_HIST ? b : BENCH_HIST - 1u;
}

static inline void bench_lat_add(struct bench_lat *l, uint64_t cyc)
{
	l->n++;
	l->sum += cyc;
	if (cyc < l->min)
		l->min = cyc;
	if (cyc > l->max)
		l->max = cyc;
	l->hist[bench_bucket(cyc)]++;
}

void bench_lat_reset(struct bench_lat *l);
void bench_lat_merge(struct bench_lat *into, const struct bench_lat *from);

/* What one job did on one disk with one engine. */
struct bench_res {
	uint64_t ios, reads, writes, errors;
	uint64_t cycles;       /* TSC cycles the job ran */
	uint64_t iops;         /* filled by bench_report */
	struct bench_lat lat;
};

/* Print the fio-style line `FIO <engine> <dev> <job>: IOPS=... BW=... clat
 * ...` (engine "ustor" or "raw"), remember the IOPS for the ratio lines. */
void bench_report(const char *engine, const char *dev, const struct bench_job *j,
		  struct bench_res *r);

/* Random 64-bit numbers (xorshift64). */
static inline uint64_t bench_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Run-time settings (bench.c, from the command line). */
uint64_t bench_job_cycles(void);        /* bench_ms in TSC cycles */
int bench_job_selected(unsigned index); /* jobs= includes it */
/* raw_batch=0: one SQ doorbell (virtio: notify) per command instead of per
 * pass; raw_lazy=0: NVMe CQ head doorbell every pass instead of every 32. */
extern int bench_raw_batch, bench_raw_lazy;

/* The raw engines: find the devices themselves (PCI), bring them up with
 * their own few commands, run every selected job, leave the device reset
 * for uStor. */
void raw_nvme_run_all(void);
void raw_virtio_run_all(void);

/* smp.c: the other CPUs. */
unsigned smp_cpus(void);                /* CPUs running (1 until smp_init) */
/* Start every CPU the ACPI MADT lists; returns how many now run. */
unsigned smp_init(void);
/* Run fn(arg) on CPU `cpu` (1..smp_cpus()-1) and return at once. */
void smp_run_on(unsigned cpu, void (*fn)(void *), void *arg);
/* Wait until CPU `cpu` has finished what smp_run_on gave it. */
void smp_wait(unsigned cpu);
/* Index of the calling CPU (0 = the boot CPU), from its per-CPU data. */
uint32_t smp_cpu_index(void);

/* selftest.c calls it on every NVMe config before init: in bench=fio with
 * two CPUs, per-CPU I/O queues without a lock (cfg.lockless_io_queues;
 * lockless=0 keeps the shared, locked mode). */
struct ustor_nvme_config;
void bench_nvme_config(struct ustor_nvme_config *cfg);

/* hal_port.c: when set before bring-up, the HALs get lock/unlock (the
 * shared-queue mode for more than one CPU). */
extern int port_hal_smp;

#endif
