/* SPDX-License-Identifier: MIT */
/*
 * The shell's `stats` command: uStor's per-device, per-queue statistics
 * (include/ustor/stats.h), switched on for every disk when the shell starts,
 * in memory of the kernel's own (.bss: the library allocates nothing).
 *
 *   stats [dev] [reset]   figures of every disk (or one): all queues, then
 *                         each queue; `reset` zeroes the counters
 */
#include "nvme_ctrls.h"
#include "shell_stats.h"
#include "ustor/stats.h"

#define STATS_MAX_DEVS 16u
#define STATS_MAX_QUEUES 8u

static struct ustor_block_queue_stats mem[STATS_MAX_DEVS][STATS_MAX_QUEUES];
static struct ustor_block_device *devs[STATS_MAX_DEVS];
static unsigned ndevs;

void stats_enable_all(void)
{
	ndevs = 0;
	for (unsigned i = 0; i < n_ctrls; i++) {
		if (!ctrls[i].up)
			continue;
		for (uint32_t k = 0; k < ustor_nvme_ns_count(&ctrls[i].ctrl) && ndevs < STATS_MAX_DEVS; k++)
			devs[ndevs++] = ustor_nvme_ns_bdev(&ctrls[i].ctrl, k);
	}
	for (unsigned i = 0; i < n_vblks && ndevs < STATS_MAX_DEVS; i++)
		if (vblks[i].up)
			devs[ndevs++] = ustor_virtio_blk_bdev(&vblks[i].vb);
	for (unsigned i = 0; i < ndevs; i++) {
		uint16_t nq = devs[i]->nqueues;
		ustor_status st;

		if (nq == 0 || nq > STATS_MAX_QUEUES)
			nq = STATS_MAX_QUEUES; /* queues beyond count into the last */
		st = ustor_block_stats_enable(devs[i], mem[i], nq);
		if (st != USTOR_OK)
			kprintf("stats: %s: statistics not enabled: %s\n", devs[i]->name,
				ustor_status_name(st));
	}
}

/* Nanoseconds as microseconds with one decimal. */
#define US1(ns) (unsigned long long)((ns) / 1000u), (unsigned long long)((ns) % 1000u / 100u)

static void print_one(const struct ustor_block_device *d, const char *which,
		      const struct ustor_block_stats *s)
{
	/* KiB/s to MB/s (10^6 bytes) with two decimals. */
	uint64_t rmb = s->read_kib_s * 1024u / 10000u, wmb = s->write_kib_s * 1024u / 10000u;

	kprintf("stats %s %s: read %llu ops %llu IOPS %llu.%02llu MB/s, write %llu ops %llu IOPS "
		"%llu.%02llu MB/s, other %llu ops; lat us avg %llu.%llu p50 %llu.%llu p99 %llu.%llu "
		"p99.9 %llu.%llu (min %llu.%llu max %llu.%llu); depth %u (max %u); errors %llu, "
		"timeouts %llu; over %llu ms\n", d->name, which, (unsigned long long)s->read_ops,
		(unsigned long long)s->read_iops, (unsigned long long)(rmb / 100u),
		(unsigned long long)(rmb % 100u), (unsigned long long)s->write_ops,
		(unsigned long long)s->write_iops, (unsigned long long)(wmb / 100u),
		(unsigned long long)(wmb % 100u), (unsigned long long)s->other_ops,
		US1(s->lat_avg_ns), US1(s->lat_p50_ns), US1(s->lat_p99_ns), US1(s->lat_p999_ns),
		US1(s->lat_min_ns), US1(s->lat_max_ns), s->depth, s->max_depth,
		(unsigned long long)s->errors, (unsigned long long)s->timeouts,
		(unsigned long long)(s->elapsed_ns / 1000000u));
}

void stats_show(struct ustor_block_device *d)
{
	struct ustor_block_stats s;
	ustor_status st = ustor_block_stats_get(d, USTOR_STATS_ALL, &s);
	char q[16];

	if (st != USTOR_OK) {
		kprintf("stats %s: %s\n", d->name, ustor_status_name(st));
		return;
	}
	print_one(d, "all", &s);
	for (uint16_t i = 0; i < d->nqueues && i < STATS_MAX_QUEUES; i++) {
		if (ustor_block_stats_get(d, i, &s) != USTOR_OK)
			continue;
		ksnprintf(q, sizeof(q), "queue%u", i);
		print_one(d, q, &s);
	}
}

void cmd_stats(unsigned argc, char *argv[])
{
	int reset = argc >= 2 && kstrlen(argv[argc - 1]) == 5 &&
		    memcmp(argv[argc - 1], "reset", 5) == 0;
	const char *only = argc >= (reset ? 3u : 2u) ? argv[1] : NULL;
	unsigned shown = 0;

	for (unsigned i = 0; i < ndevs; i++) {
		if (only != NULL && (kstrlen(only) != kstrlen(devs[i]->name) ||
				     memcmp(only, devs[i]->name, kstrlen(only)) != 0))
			continue;
		shown++;
		if (reset) {
			ustor_block_stats_reset(devs[i]);
			kprintf("stats %s: reset\n", devs[i]->name);
		} else {
			stats_show(devs[i]);
		}
	}
	if (shown == 0)
		kprintf("stats: no such disk%s%s (`list` names them)\n", only ? " " : "",
			only ? only : "");
}
