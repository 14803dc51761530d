/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what the virtio-blk device says about itself.
 *
 * Mode A (first byte even): virtio-mmio against the fake device in
 * fake_vmmio.h. The input sets the Version (1 or 2), DeviceID, the offered
 * feature bits (all 64; VIRTIO_F_RING_PACKED is held back until the
 * driver has a packed ring the fake can follow), QueueNumMax (any 32-bit
 * value), a configuration generation that may change on every read, and
 * the device configuration space: capacity, size_max, seg_max, blk_size,
 * topology, writeback, discard and write-zeroes limits, num_queues, all of
 * it. The device then completes every request properly, and the rest of
 * the input drives synchronous reads, writes, flushes, discards and
 * write-zeroes at any LBA.
 *
 * Mode B (first byte odd): virtio-pci against the virtio-blk model, with
 * the input flipping bytes of PCI configuration space as the driver reads
 * it: the capability pointer and list (cfg_type, BAR, offset, length,
 * notify_off_multiplier), IDs, the MSI-X capability. BAR4's real size is
 * given to the driver (bar_bytes), so a capability that points past it
 * must be refused; an access outside the window aborts in the HAL.
 *
 * Invariants beyond "no crash, no hang, nothing written outside a buffer":
 * the driver accepts only offered features; every chain has its data in
 * whole 512-byte sectors within the capacity the device reported, in
 * blk_size units when BLK_SIZE was accepted, with at most seg_max data
 * descriptors (SEG_MAX accepted, seg_max >= 1) of at most size_max bytes
 * (SIZE_MAX accepted, size_max >= 512); a read or write past the block
 * device's end is refused; bring-up that fails, and shutdown, leave no DMA
 * memory allocated.
 */
#include <string.h>

#include "fake_vmmio.h"
#include "fuzz_common.h"
#include "ustor/block.h"
#include "ustor/virtio_blk.h"
#include "virtio_blk_model.h"

#define VC_BUF (256u * 1024u)

struct vc {
	struct ustor_test_hal h;
	struct fvm d;
	struct ustor_virtio_blk_model m;
	struct ustor_virtio_blk vb;
	struct fuzz_in in;
	uint8_t *buf;
	/* Capacity chains are checked against: the device's, unless the
	 * driver did not take a resize (then no check). */
	uint64_t cap_check;
	/* Mode B: XOR masks over PCI configuration space. */
	uint8_t pci_xor[256];
	uint32_t (*model_pci_rd)(void *dev, uint32_t pci_addr, uint16_t off);
};

static struct vc *vc_cur;

static uint32_t vc_cfg32(const struct fvm *d, uint32_t off)
{
	return (uint32_t)d->config[off] | ((uint32_t)d->config[off + 1] << 8) |
	       ((uint32_t)d->config[off + 2] << 16) | ((uint32_t)d->config[off + 3] << 24);
}

static uint64_t vc_cfg64(const struct fvm *d, uint32_t off)
{
	return (uint64_t)vc_cfg32(d, off) | ((uint64_t)vc_cfg32(d, off + 4) << 32);
}

/* Every chain the driver makes available, against the limits it was told. */
static void vc_on_chain(struct fvm *d, struct fvm_chain *c)
{
	uint64_t f = d->driver_features;
	uint64_t cap = ((struct vc *)d->user)->cap_check;

	FUZZ_ASSERT((f & ~d->features) == 0);
	if (c->type != 0 && c->type != 1)
		return;
	FUZZ_ASSERT(c->data_bytes % 512u == 0);
	FUZZ_ASSERT(c->data_bytes != 0);
	FUZZ_ASSERT(c->sector <= cap && c->data_bytes / 512u <= cap - c->sector);
	if (f & (1ull << 2)) { /* SEG_MAX */
		uint32_t seg_max = vc_cfg32(d, 12);

		if (seg_max >= 1)
			FUZZ_ASSERT(c->ndata <= seg_max);
	}
	if (f & (1ull << 1)) { /* SIZE_MAX */
		uint32_t size_max = vc_cfg32(d, 8);

		if (size_max >= 512u)
			FUZZ_ASSERT(c->max_data_desc <= size_max);
	}
	if (f & (1ull << 6)) { /* BLK_SIZE */
		uint32_t bs = vc_cfg32(d, 20);

		if (bs >= 512u && bs <= 65536u && (bs & (bs - 1u)) == 0) {
			FUZZ_ASSERT(c->sector % (bs / 512u) == 0);
			FUZZ_ASSERT(c->data_bytes % bs == 0);
		}
	}
}

static void vc_io(struct vc *x, struct ustor_block_device *b)
{
	unsigned steps;

	for (steps = 0; steps < 48 && fuzz_more(&x->in); steps++) {
		uint8_t op = fuzz_u8(&x->in);
		uint32_t most = VC_BUF >> b->block_shift;
		uint32_t nb = 1u + fuzz_u16(&x->in) % (most != 0 ? most : 1u);
		uint64_t lba = (fuzz_u8(&x->in) & 1u) ? fuzz_u64(&x->in)
						      : (b->nblocks > nb ? b->nblocks - nb : 0) +
								(fuzz_u8(&x->in) % 3u);
		ustor_status st;

		if ((op & 0x70u) == 0x70u && x->d.token != NULL && !x->d.gen_churn) {
			/* A resize: new capacity, configuration change interrupt,
			 * and the driver told to look (as its interrupt handler
			 * would). Later chains must respect the new capacity. */
			uint64_t cap = fuzz_u64(&x->in) >> (fuzz_u8(&x->in) % 64u);
			uint32_t k;

			for (k = 0; k < 8u; k++)
				x->d.config[k] = (uint8_t)(cap >> (8 * k));
			x->d.config_gen++;
			x->d.isr |= 2u;
			(void)ustor_virtio_blk_check(&x->vb);
			x->cap_check = x->vb.info.capacity_sectors == cap ? cap : ~0ull;
			continue;
		}
		switch (op % 6u) {
		case 0:
		case 1:
			st = ustor_block_read(b, lba, nb, x->buf);
			break;
		case 2:
			st = ustor_block_write(b, lba, nb, x->buf);
			break;
		case 3:
			st = ustor_block_flush(b);
			break;
		case 4:
			st = ustor_block_discard(b, lba, nb);
			break;
		default:
			st = ustor_block_write_zeroes(b, lba, nb);
			break;
		}
		if (op % 6u != 3 && (lba + nb > b->nblocks || lba + nb < lba))
			FUZZ_ASSERT(st != USTOR_OK);
		if (op & 0x80u)
			(void)ustor_virtio_blk_check(&x->vb);
	}
}

static void vc_finish_driver(struct vc *x, ustor_status init_st)
{
	if (getenv("FUZZ_DEBUG") != NULL)
		fprintf(stderr, "init: %s\n%s", ustor_status_name(init_st),
			ustor_test_hal_log_text(&x->h));
	if (init_st == USTOR_OK) {
		FUZZ_ASSERT(x->vb.bdev.block_size >= 512u && x->vb.bdev.block_size <= 65536u &&
			    (x->vb.bdev.block_size & (x->vb.bdev.block_size - 1u)) == 0);
		FUZZ_ASSERT((1u << x->vb.bdev.block_shift) == x->vb.bdev.block_size);
		FUZZ_ASSERT(memchr(x->vb.bdev.serial, 0, sizeof(x->vb.bdev.serial)) != NULL);
		vc_io(x, ustor_virtio_blk_bdev(&x->vb));
		if (ustor_virtio_blk_shutdown(&x->vb) == USTOR_OK)
			FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	}
}

static void vc_mode_mmio(struct vc *x)
{
	struct ustor_virtio_blk_config cfg;
	uint8_t flags = fuzz_u8(&x->in);
	uint32_t i;
	ustor_status st;

	fvm_attach(&x->d, &x->h);
	x->d.on_chain = vc_on_chain;
	x->d.user = x;
	x->d.auto_complete = 1;
	x->d.version = (flags & 1u) ? 1 : 2;
	if (flags & 2u)
		x->d.device_id = fuzz_u8(&x->in);
	x->d.gen_churn = (flags & 4u) != 0;
	x->d.features = fuzz_u64(&x->in) & ~(1ull << 34); /* no RING_PACKED yet */
	x->d.queue_num_max = (flags & 8u) ? fuzz_u32(&x->in) : (uint32_t)1u << (fuzz_u8(&x->in) % 12u);
	/* Configuration: a sane base (1 MiB, 512-byte blocks), then fields
	 * from the input. */
	x->d.config[1] = 0x08;
	for (i = 0; i < 64u && fuzz_more(&x->in); i++) {
		uint8_t sel = fuzz_u8(&x->in);

		if (sel == 0xff)
			break;
		if (sel < 0x40) /* one byte */
			x->d.config[sel] = fuzz_u8(&x->in);
		else { /* one dword at a field boundary */
				uint32_t off = 4u * (sel % 16u);
				uint32_t v = fuzz_u32(&x->in);

				x->d.config[off] = (uint8_t)v;
				x->d.config[off + 1] = (uint8_t)(v >> 8);
				x->d.config[off + 2] = (uint8_t)(v >> 16);
				x->d.config[off + 3] = (uint8_t)(v >> 24);
		}
	}
	ustor_virtio_blk_config_default(&cfg);
	cfg.init_timeout_ms = 50;
	cfg.io_timeout_ms = 50;
	cfg.queue_size = (flags & 0x10u) ? fuzz_u16(&x->in) : 256u;
	if (flags & 0x20u)
		cfg.max_transfer_bytes = fuzz_u32(&x->in);
	x->cap_check = vc_cfg64(&x->d, 0);
	st = ustor_virtio_blk_init_mmio(&x->vb, &x->h.hal, x->d.token, &cfg);
	if (st != USTOR_OK && x->d.status != 0 && (x->d.status & 0x80u) == 0)
		FUZZ_ASSERT(!"failed bring-up left the device running");
	if (st != USTOR_OK && x->d.status == 0)
		FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	vc_finish_driver(x, st);
	fvm_detach(&x->d);
}

static uint32_t vc_pci_rd(void *dev, uint32_t pci_addr, uint16_t off)
{
	struct vc *x = vc_cur;
	uint32_t v = x->model_pci_rd(dev, pci_addr, off);
	uint32_t i;

	for (i = 0; i < 4u && off + i < 256u; i++)
		v ^= (uint32_t)x->pci_xor[off + i] << (8 * i);
	return v;
}

static void vc_mode_pci(struct vc *x)
{
	struct ustor_virtio_blk_model_cfg mcfg;
	struct ustor_virtio_blk_config cfg;
	volatile void *bars[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
	uint8_t n = fuzz_u8(&x->in);
	unsigned i;
	ustor_status st;

	ustor_virtio_blk_model_cfg_default(&mcfg);
	mcfg.transport = USTOR_VIRTIO_BLK_MODEL_PCI;
	if (ustor_virtio_blk_model_init(&x->m, &x->h, &mcfg) != USTOR_OK)
		abort();
	for (i = 0; i < 1u + n % 16u; i++) {
		uint8_t off = fuzz_u8(&x->in);

		/* Mostly the capability area and the pointer to it. */
		if (off < 0xc0)
			off = (uint8_t)(0x34u + off % 0xccu);
		x->pci_xor[off] ^= fuzz_u8(&x->in);
	}
	x->model_pci_rd = x->h.pci_rd;
	x->h.pci_rd = vc_pci_rd;
	bars[4] = ustor_virtio_blk_model_bar(&x->m, 4);
	ustor_virtio_blk_config_default(&cfg);
	cfg.init_timeout_ms = 50;
	cfg.io_timeout_ms = 50;
	cfg.bar_bytes[4] = 16384;
	st = ustor_virtio_blk_init_pci(&x->vb, &x->h.hal, ustor_virtio_blk_model_pci_addr(&x->m),
				       bars, &cfg);
	if (st != USTOR_OK && ustor_virtio_blk_model_status(&x->m) == 0)
		FUZZ_ASSERT(ustor_test_hal_live_allocs(&x->h) == 0);
	vc_finish_driver(x, st);
	x->h.pci_rd = x->model_pci_rd;
	ustor_virtio_blk_model_fini(&x->m);
}

static int vc_one(const uint8_t *data, size_t size)
{
	struct vc *x = calloc(1, sizeof(*x));
	uint8_t mode;

	if (x == NULL)
		abort();
	vc_cur = x;
	x->in.p = data;
	x->in.n = size;
	mode = fuzz_u8(&x->in);
	ustor_test_hal_init(&x->h);
	if (mode & 2u) {
		x->h.hal.lock = NULL;
		x->h.hal.unlock = NULL;
	}
	x->buf = calloc(1, VC_BUF);
	if (x->buf == NULL || ustor_test_hal_register(&x->h, x->buf, VC_BUF) != USTOR_OK)
		abort();
	if (mode & 1u)
		vc_mode_pci(x);
	else
		vc_mode_mmio(x);
	ustor_test_hal_unregister(&x->h, x->buf);
	free(x->buf);
	ustor_test_hal_fini(&x->h);
	vc_cur = NULL;
	free(x);
	return 0;
}

FUZZ_ENTRY(vc_one)
