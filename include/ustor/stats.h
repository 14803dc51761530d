/* SPDX-License-Identifier: MIT */
/*
 * uStor statistics: per device and per queue counts, throughput and a
 * latency histogram of fixed size (no floating point, no allocation: the
 * kernel hands over the memory). Off until ustor_block_stats_enable.
 */
#ifndef USTOR_STATS_H
#define USTOR_STATS_H

#include <stdint.h>

#include "block.h"

/* Latency histogram buckets, in units of 1024 ns: one bucket per unit below
 * 8 units, then log2 steps split in 8 linear sub-steps, so a percentile is
 * exact to 12.5 %; up to 2^28 units (about 275 s), longer ones count in the
 * last bucket. */
#define USTOR_STATS_BUCKETS 208

/* Queue index meaning "every queue of the device" (ustor_block_stats_get). */
#define USTOR_STATS_ALL 0xffffu

/* Raw counters of one queue of one device (kernel-provided memory). The
 * driver updates them under the queue's lock; ops and bytes count requests
 * that finished OK, errors and timeouts the others, latencies all of them. */
struct ustor_block_queue_stats {
	uint64_t ops[3];        /* read, write, other (flush, discard, zeroes) */
	uint64_t bytes[2];      /* read, write */
	uint64_t errors;        /* finished with a status other than OK or TIMEOUT */
	uint64_t timeouts;      /* finished with USTOR_ERR_TIMEOUT */
	uint64_t lat_sum_ns;    /* of every finished request */
	uint64_t lat_min_ns;
	uint64_t lat_max_ns;
	uint32_t depth;         /* requests in flight now */
	uint32_t max_depth;
	uint32_t hist[USTOR_STATS_BUCKETS];
	uint64_t since_ns;      /* hal->now_ns when counting began */
};

/* Figures derived from the counters (integers: rates per second). */
struct ustor_block_stats {
	uint64_t read_ops, write_ops, other_ops;
	uint64_t read_bytes, write_bytes;
	uint64_t read_iops, write_iops;       /* over elapsed_ns */
	uint64_t read_kib_s, write_kib_s;
	uint64_t errors, timeouts;
	uint64_t elapsed_ns;
	uint64_t lat_min_ns, lat_avg_ns, lat_max_ns;
	uint64_t lat_p50_ns, lat_p99_ns, lat_p999_ns; /* bucket upper bounds, capped at lat_max_ns */
	uint32_t depth, max_depth;            /* USTOR_STATS_ALL: sums over the queues */
};

/* Start counting on `bdev` into `mem` (nqueues entries, one per queue;
 * queues beyond count into the last; uStor zeroes it). mem = NULL switches
 * statistics off. Call it (and reset) while no other CPU submits to bdev. */
ustor_status ustor_block_stats_enable(struct ustor_block_device *bdev,
				      struct ustor_block_queue_stats *mem, uint16_t nqueues);

/* Figures of one queue, or of all (USTOR_STATS_ALL); NOT_READY when off,
 * INVALID_ARG for a queue beyond the nqueues given to enable. Reads the
 * counters without locks: with I/O running on other CPUs the figures may
 * be off by the requests finishing meanwhile. */
ustor_status ustor_block_stats_get(struct ustor_block_device *bdev, uint16_t queue,
				   struct ustor_block_stats *out);

/* Zero every counter and restart the clock (the depth of requests still
 * in flight is kept). */
void ustor_block_stats_reset(struct ustor_block_device *bdev);

#endif
