/* SPDX-License-Identifier: MIT */
/*
 * Host benchmark driver for virtio-blk: 4 KiB polled reads at a given queue
 * depth on the virtio-blk model (virtio-pci, no HAL lock), for callgrind to
 * count library instructions per I/O (tests/bench/bench_vblk_host.sh).
 *
 *   bench_vblk_host <qd 1..64> <ios> [ring: split | plain | packed]
 *
 * split: the driver's defaults (EVENT_IDX, indirect); plain: both off;
 * packed: the packed ring with the defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustor/virtio_blk.h"
#include "virtio_blk_model.h"

static unsigned done;

static void on_done(struct ustor_block_req *r)
{
	(void)r;
	done++;
}

int main(int argc, char **argv)
{
	static struct ustor_test_hal h;
	static struct ustor_virtio_blk_model m;
	static struct ustor_virtio_blk vb;
	struct ustor_virtio_blk_model_cfg mc;
	struct ustor_virtio_blk_config c;
	struct ustor_block_req reqs[64];
	volatile void *bars[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
	const char *ring = argc > 3 ? argv[3] : "split";
	unsigned qd = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	struct ustor_block_device *d;
	uint8_t *buf;
	unsigned issued = 0;
	unsigned i;

	if (qd < 1 || qd > 64)
		return 64;
	ustor_test_hal_init(&h);
	h.hal.lock = NULL;
	h.hal.unlock = NULL;
	h.hal.dma_sync = NULL;
	ustor_virtio_blk_model_cfg_default(&mc);
	mc.transport = USTOR_VIRTIO_BLK_MODEL_PCI;
	ustor_virtio_blk_config_default(&c);
	if (strcmp(ring, "packed") == 0) {
		mc.features |= USTOR_VIRTIO_BLK_MODEL_F_RING_PACKED;
	} else if (strcmp(ring, "plain") == 0) {
		c.event_idx = 0;
		c.indirect = 0;
	}
	if (ustor_virtio_blk_model_init(&m, &h, &mc) != USTOR_OK)
		return 1;
	bars[4] = ustor_virtio_blk_model_bar(&m, 4);
	if (ustor_virtio_blk_init_pci(&vb, &h.hal, ustor_virtio_blk_model_pci_addr(&m), bars, &c) !=
	    USTOR_OK)
		return 2;
	if (posix_memalign((void **)&buf, 4096, 4096u * 64u) != 0 ||
	    ustor_test_hal_register(&h, buf, 4096u * 64u) != USTOR_OK)
		return 3;
	d = ustor_virtio_blk_bdev(&vb);
	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < qd; i++) {
		reqs[i].op = USTOR_BLOCK_READ;
		reqs[i].nblocks = 8;
		reqs[i].lba = 8u * i;
		reqs[i].buf = buf + 4096u * i;
		reqs[i].done = on_done;
		if (ustor_block_submit(d, &reqs[i]) != USTOR_OK)
			return 4;
		issued++;
	}
	while (done < n) {
		ustor_block_poll(d, 0);
		for (i = 0; i < qd && issued < n; i++)
			if (reqs[i].state == USTOR_REQ_STATE_DONE) {
				if (ustor_block_submit(d, &reqs[i]) != USTOR_OK)
					return 5;
				issued++;
			}
	}
	printf("done %u\n", done);
	ustor_virtio_blk_shutdown(&vb);
	ustor_virtio_blk_model_fini(&m);
	free(buf);
	return 0;
}
