/* SPDX-License-Identifier: MIT */
/*
 * Block-device conformance suite: the same checks for every kind of block
 * device the library offers (NVMe namespace, virtio-blk over PCI or MMIO,
 * ...). A new block device joins by filling a conformance_target.
 */
#ifndef USTOR_TEST_CONFORMANCE_H
#define USTOR_TEST_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include "ustor/block.h"

struct conformance_target {
	const char *name;
	struct ustor_block_device *bdev;
	/* The device's backing store as the device model holds it, to check
	 * that data lands where it should (NULL: not checked). */
	uint8_t *disk;
	uint64_t disk_bytes;
	/* A DMA-able buffer of len bytes at `offset` past a page boundary. */
	void *(*buf)(void *ctx, size_t len, size_t offset, int fill);
	/* Optional: hold completions in the device (on != 0) and release them
	 * (returns how many); lets the suite keep many requests in flight. */
	void (*hold)(void *ctx, int on);
	unsigned (*release)(void *ctx);
	/* Optional: like hold, but release completes in submission order
	 * (lets the suite see the order the block layer sent requests in). */
	void (*hold_ordered)(void *ctx, int on);
	void *ctx;
};

/* Run every check on `t`; failures are reported through the harness. */
void conformance_run(const struct conformance_target *t);

#endif
