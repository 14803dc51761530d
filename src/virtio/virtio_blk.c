/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk bring-up, configuration and shutdown (VIRTIO 1.2 section 5.2).
 * Every wait is bounded on the HAL clock; a failure after the device saw
 * the driver sets FAILED, resets it and frees what was taken (unless the
 * reset does not finish: the device may still write that memory).
 */
#include "virtio_internal.h"

/* Features the driver always uses (and so accepts when offered); MQ,
 * EVENT_IDX, INDIRECT_DESC and RING_PACKED are added when the config allows
 * them. GEOMETRY, LIFETIME, SECURE_ERASE, ZONED are not used and so never
 * accepted. ACCESS_PLATFORM: every address the driver gives the
 * device comes from the HAL's bus translation, which is what the feature
 * asks for; ORDER_PLATFORM: the HAL's barriers are platform barriers. */
#define USTOR_VBLK_WANTED                                     \
	(USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_SIZE_MAX) |     \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_SEG_MAX) |      \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_RO) |           \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_BLK_SIZE) |     \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_FLUSH) |        \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_TOPOLOGY) |     \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_CONFIG_WCE) |   \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_DISCARD) |      \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_WRITE_ZEROES) | \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_ACCESS_PLATFORM) |  \
	 USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_ORDER_PLATFORM))

/* Attempts at a configuration snapshot whose generation did not move. */
#define USTOR_VBLK_CONFIG_TRIES 32u

/* The largest window one data descriptor covers: a HAL page (virt_to_bus
 * is asked per 4 KiB page). */
#define USTOR_VBLK_PAGE_SHIFT 12u

void ustor_virtio_blk_config_default(struct ustor_virtio_blk_config *cfg)
{
	ustor_memset(cfg, 0, sizeof(*cfg));
	cfg->queue_size = 256;
	cfg->io_timeout_ms = 30000;
	cfg->init_timeout_ms = 5000;
	cfg->bounce_bytes = 64u * 1024u;
	cfg->event_idx = 1;
	cfg->indirect = 1;
	cfg->packed = 1;
	cfg->num_queues = 1;
	cfg->indirect_max = 34;
	cfg->adaptive_depth = 4;
	cfg->cmd_timeout_ms = 10000;
	cfg->max_resets = 3;
	cfg->reset_window_ms = 60000;
}

/* Ring features the config allows. */
static uint64_t ustor_vblk_wanted(const struct ustor_virtio_blk_config *cfg)
{
	uint64_t w = USTOR_VBLK_WANTED;

	if (cfg->event_idx)
		w |= USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_EVENT_IDX);
	if (cfg->indirect)
		w |= USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_INDIRECT_DESC);
	if (cfg->packed)
		w |= USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_RING_PACKED);
	if (cfg->num_queues > 1)
		w |= USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_MQ);
	return w & ~cfg->disable_features;
}

const char *ustor_virtio_blk_status_name(uint8_t status)
{
	switch (status) {
	case USTOR_VIRTIO_BLK_S_OK:
		return "OK";
	case USTOR_VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case USTOR_VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	default:
		return "invalid";
	}
}

ustor_status ustor_virtio_blk_status_to_ustor(uint8_t status, uint8_t op)
{
	switch (status) {
	case USTOR_VIRTIO_BLK_S_OK:
		return USTOR_OK;
	case USTOR_VIRTIO_BLK_S_IOERR:
		return (op == USTOR_BLOCK_READ || op == USTOR_BLOCK_WRITE) ? USTOR_ERR_MEDIA :
									     USTOR_ERR_DEVICE;
	case USTOR_VIRTIO_BLK_S_UNSUPP:
		return USTOR_ERR_UNSUPPORTED;
	default:
		return USTOR_ERR_BAD_DEVICE;
	}
}

static int ustor_vblk_has(const struct ustor_virtio_blk *vb, int bit)
{
	return (vb->dev.features & USTOR_VIRTIO_FBIT(bit)) != 0;
}

static uint32_t ustor_vblk_rd(struct ustor_virtio_blk *vb, uint32_t off, uint32_t width)
{
	return (uint32_t)ustor_virtio_config_read(&vb->dev, off, width);
}

/*
 * One consistent read of the fields the driver uses: repeated while the
 * configuration generation moves (4.1.4.3.1); a legacy device has no
 * generation, so there the 64-bit capacity is read until two reads agree
 * (2.5.1 legacy note).
 */
static ustor_status ustor_vblk_read_config(struct ustor_virtio_blk *vb,
					   struct ustor_virtio_blk_info *inf)
{
	struct ustor_virtio_dev *dev = &vb->dev;
	uint32_t tries;

	for (tries = 0; tries < USTOR_VBLK_CONFIG_TRIES; tries++) {
		uint32_t gen = dev->ops->config_generation(dev);

		inf->capacity_sectors =
			ustor_virtio_config_read(dev, USTOR_VIRTIO_BLK_CFG_CAPACITY, 8);
		inf->blk_size = ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_BLK_SIZE) ?
					ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_BLK_SIZE, 4) :
					512u;
		if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_SIZE_MAX))
			inf->size_max = ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_SIZE_MAX, 4);
		if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_SEG_MAX))
			inf->seg_max = ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_SEG_MAX, 4);
		if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_TOPOLOGY)) {
			inf->physical_block_exp =
				(uint8_t)ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_PHYS_EXP, 1);
			inf->alignment_offset =
				(uint8_t)ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_ALIGN_OFF, 1);
			inf->min_io_size =
				(uint16_t)ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_MIN_IO, 2);
			inf->opt_io_size = ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_OPT_IO, 4);
		}
		/* The cache mode (5.2.5): CONFIG_WCE shows it; otherwise FLUSH
		 * means a write-back cache and its absence none (a device
		 * without FLUSH cannot be flushed anyway). */
		if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_FLUSH))
			inf->writeback =
				ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_CONFIG_WCE) ?
					(uint8_t)(ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_WRITEBACK,
								1) != 0) :
					1u;
		else
			inf->writeback = 0;
		inf->num_queues = ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_MQ) ?
					  (uint16_t)ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_NUM_QUEUES, 2) :
					  1u;
		if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_DISCARD)) {
			inf->max_discard_sectors =
				ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4);
			inf->max_discard_seg =
				ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4);
			inf->discard_sector_alignment =
				ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_DISCARD_ALIGN, 4);
		}
		if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_WRITE_ZEROES)) {
			inf->max_write_zeroes_sectors =
				ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4);
			inf->max_write_zeroes_seg =
				ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_MAX_WZ_SEG, 4);
			inf->write_zeroes_may_unmap =
				(uint8_t)(ustor_vblk_rd(vb, USTOR_VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1) !=
					  0);
		}
		if (dev->legacy) {
			if (ustor_virtio_config_read(dev, USTOR_VIRTIO_BLK_CFG_CAPACITY, 8) ==
			    inf->capacity_sectors)
				return USTOR_OK;
		} else {
			uint32_t gen2 = dev->ops->config_generation(dev);

			if (gen2 == gen) {
				vb->config_gen = gen;
				return USTOR_OK;
			}
		}
	}
	ustor_virtio_log_status(dev, "device configuration keeps changing while read");
	return USTOR_ERR_BAD_DEVICE;
}

ustor_status ustor_vblk_read_capacity(struct ustor_virtio_blk *vb, uint64_t *out_sectors)
{
	struct ustor_virtio_dev *dev = &vb->dev;
	uint32_t tries;

	for (tries = 0; tries < USTOR_VBLK_CONFIG_TRIES; tries++) {
		uint32_t gen = dev->ops->config_generation(dev);
		uint64_t cap = ustor_virtio_config_read(dev, USTOR_VIRTIO_BLK_CFG_CAPACITY, 8);

		if (dev->legacy ?
			    ustor_virtio_config_read(dev, USTOR_VIRTIO_BLK_CFG_CAPACITY, 8) == cap :
			    dev->ops->config_generation(dev) == gen) {
			vb->config_gen = gen;
			*out_sectors = cap;
			return USTOR_OK;
		}
	}
	return USTOR_ERR_BAD_DEVICE;
}

static uint32_t ustor_vblk_log2(uint32_t v)
{
	uint32_t s = 0;

	while ((v >> s) > 1u)
		s++;
	return s;
}

/* Check what the device said and derive the I/O limits from it. */
static ustor_status ustor_vblk_limits(struct ustor_virtio_blk *vb)
{
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_blk_info *inf = &vb->info;
	uint32_t shift;
	uint32_t seg_lim;
	uint32_t window;
	uint32_t bytes;

	/* blk_size is the logical block the disk is addressed in; the
	 * protocol still counts 512-byte sectors (HARDWARE.md item 10). */
	if (inf->blk_size < 512u || inf->blk_size > 65536u ||
	    (inf->blk_size & (inf->blk_size - 1u)) != 0) {
		USTOR_ERR(hal, "%s: invalid blk_size %u (a power of two 512..65536 expected)",
			  vb->bdev.name, inf->blk_size);
		return USTOR_ERR_BAD_DEVICE;
	}
	shift = ustor_vblk_log2(inf->blk_size);
	if (shift < USTOR_VIRTIO_BLK_SECTOR_SHIFT || shift > 16u)
		return USTOR_ERR_BAD_DEVICE; /* not reached: checked above */
	vb->sector_shift = (uint8_t)(shift - USTOR_VIRTIO_BLK_SECTOR_SHIFT);
	vb->bdev.block_size = inf->blk_size;
	vb->bdev.block_shift = (uint8_t)shift;
	vb->bdev.nblocks = ustor_virtio_shr64(inf->capacity_sectors, vb->sector_shift);

	/* One data descriptor covers at most a 4 KiB-aligned window of the
	 * buffer (one HAL translation), or less when size_max says so. */
	window = 1u << USTOR_VBLK_PAGE_SHIFT;
	if (inf->size_max != 0 && inf->size_max < window) {
		if (inf->size_max < 512u) {
			USTOR_ERR(hal, "%s: size_max %u is below one sector", vb->bdev.name,
				  inf->size_max);
			return USTOR_ERR_UNSUPPORTED;
		}
		window = 1u << ustor_vblk_log2(inf->size_max);
	}
	vb->seg_shift = (uint8_t)ustor_vblk_log2(window);
	/* Windows that are contiguous on the bus share one descriptor, up to
	 * size_max when the device has one. */
	vb->desc_max = inf->size_max != 0 && inf->size_max > window ? inf->size_max : window;
	if (inf->size_max == 0)
		vb->desc_max = 0xffffffffu;
	/* Header and status take two descriptors of the ring; seg_max 0 is
	 * read as 1, as Linux does. */
	seg_lim = vb->q[0].vq.ind != NULL ? (uint32_t)vb->q[0].vq.ind_max - 2u :
					    (uint32_t)vb->q[0].vq.size - 2u;
	if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_SEG_MAX)) {
		uint32_t sm = inf->seg_max != 0 ? inf->seg_max : 1u;
		if (sm < seg_lim)
			seg_lim = sm;
	}
	vb->seg_lim = seg_lim;
	bytes = seg_lim * window; /* <= 32766 x 4096: no overflow */
	if (vb->cfg.max_transfer_bytes != 0 && vb->cfg.max_transfer_bytes < bytes)
		bytes = vb->cfg.max_transfer_bytes;
	bytes &= ~(inf->blk_size - 1u);
	if (bytes == 0) {
		USTOR_ERR(
			hal,
			"%s: a chain of %u segments of %u bytes (seg_max %u, size_max %u, cap %u) "
			"cannot hold one %u-byte block",
			vb->bdev.name, seg_lim, window, inf->seg_max, inf->size_max,
			vb->cfg.max_transfer_bytes, inf->blk_size);
		return USTOR_ERR_UNSUPPORTED;
	}
	vb->max_chain_bytes = bytes;
	vb->bdev.max_blocks = bytes >> shift;

	vb->bdev.flags = 0;
	if (inf->read_only)
		vb->bdev.flags |= USTOR_BDEV_F_READ_ONLY;
	if (inf->writeback)
		vb->bdev.flags |= USTOR_BDEV_F_VOLATILE_CACHE;
	/* Discard and write-zeroes: one range per request, at most the
	 * device's sector limit (0 = none stated), in whole blocks. */
	if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_DISCARD)) {
		uint32_t max = inf->max_discard_sectors != 0 ? inf->max_discard_sectors :
							       0xffffffffu;

		vb->discard_max_blocks = max >> vb->sector_shift;
		if (vb->discard_max_blocks != 0)
			vb->bdev.flags |= USTOR_BDEV_F_DISCARD;
		else
			USTOR_WARN(hal,
				   "%s: max_discard_sectors %u is below one block: discard off",
				   vb->bdev.name, inf->max_discard_sectors);
	}
	if (ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_WRITE_ZEROES)) {
		uint32_t max = inf->max_write_zeroes_sectors != 0 ? inf->max_write_zeroes_sectors :
								    0xffffffffu;

		vb->wz_max_blocks = max >> vb->sector_shift;
		if (vb->wz_max_blocks != 0)
			vb->bdev.flags |= USTOR_BDEV_F_WRITE_ZEROES;
		else
			USTOR_WARN(
				hal,
				"%s: max_write_zeroes_sectors %u is below one block: write-zeroes off",
				vb->bdev.name, inf->max_write_zeroes_sectors);
	}
	return USTOR_OK;
}

static void ustor_vblk_queue_free(struct ustor_virtio_blk *vb, struct ustor_virtio_blk_queue *q)
{
	const struct ustor_hal *hal = vb->hal;

	if (q->hdrs != NULL)
		hal->dma_free(hal->ctx, q->hdrs, q->hdrs_bytes);
	if (q->slots != NULL)
		hal->dma_free(hal->ctx, q->slots, q->slots_bytes);
	ustor_virtq_fini(&q->vq);
	ustor_memset(q, 0, sizeof(*q));
}

void ustor_vblk_queues_free(struct ustor_virtio_blk *vb)
{
	uint32_t i;

	for (i = 0; i < USTOR_VIRTIO_BLK_MAX_QUEUES; i++)
		ustor_vblk_queue_free(vb, &vb->q[i]);
	vb->nq = 0;
}

static void ustor_vblk_free_all(struct ustor_virtio_blk *vb)
{
	const struct ustor_hal *hal = vb->hal;

	ustor_vblk_queues_free(vb);
	if (vb->bounce != NULL)
		hal->dma_free(hal->ctx, vb->bounce, vb->bounce_bytes);
	vb->bounce = NULL;
	vb->bounce_bytes = 0;
	vb->bdev.bounce = NULL;
	vb->bdev.bounce_len = 0;
}

/* Queue `index`: size, virtqueue, chain slots and header records. */
static ustor_status ustor_vblk_queue_init(struct ustor_virtio_blk *vb, uint16_t index)
{
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_blk_queue *q = &vb->q[index];
	uint32_t max = vb->dev.ops->queue_max(&vb->dev, index);
	uint32_t size = vb->cfg.queue_size;
	struct ustor_virtq_opts o;
	ustor_bus_addr ignored;
	ustor_status st;

	if (index == 0)
		vb->info.queue_max = (uint16_t)(max > 0xffffu ? 0xffffu : max);
	if (max == 0) {
		if (index == 0)
			ustor_virtio_log_status(&vb->dev,
						"request queue 0 does not exist (or is in use)");
		return USTOR_ERR_BAD_DEVICE;
	}
	if (size > max)
		size = max;
	if (size > USTOR_VIRTIO_MAX_QUEUE_SIZE)
		size = USTOR_VIRTIO_MAX_QUEUE_SIZE;
	size = size == 0 ? 0 : 1u << ustor_vblk_log2(size); /* a power of two (2.7) */
	if (size < 4u && max >= 4u)
		size = 4u; /* a request needs up to 3 descriptors; ask for room for one */
	if (size < 4u || (index != 0 && size != vb->info.queue_size)) {
		USTOR_ERR(hal, "%s: queue %u of %u entries (device maximum %u) cannot hold a request",
			  vb->bdev.name, (unsigned)index, size, max);
		return USTOR_ERR_UNSUPPORTED;
	}
	ustor_memset(&o, 0, sizeof(o));
	o.size = (uint16_t)size;
	o.packed = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_F_RING_PACKED);
	o.event_idx = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_F_EVENT_IDX);
	o.ind_max = ustor_vblk_has(vb, USTOR_VIRTIO_F_INDIRECT_DESC) ? vb->cfg.indirect_max : 0;
	o.no_interrupt = vb->cfg.use_irq == USTOR_VIRTIO_BLK_IRQ_OFF;
	o.msix_vector = vb->cfg.msix ? (uint16_t)(vb->cfg.msix_base + 1u + index) :
				       USTOR_VIRTIO_MSI_NO_VECTOR;
	st = ustor_virtq_init(&q->vq, &vb->dev, index, &o);
	if (st != USTOR_OK)
		return st;
	q->index = index;
	q->irq_mode = vb->cfg.use_irq;
	q->irq_work = q->irq_mode != USTOR_VIRTIO_BLK_IRQ_OFF;
	q->ev_trail = !q->irq_work && o.event_idx && !o.packed;
	q->slots_bytes = size * (uint32_t)sizeof(struct ustor_virtio_blk_slot);
	q->slots = (struct ustor_virtio_blk_slot *)hal->dma_alloc(hal->ctx, q->slots_bytes, 16,
								  &ignored);
	q->hdrs_bytes = size << USTOR_VBLK_REC_SHIFT;
	q->hdrs = (uint8_t *)hal->dma_alloc(hal->ctx, q->hdrs_bytes, USTOR_VBLK_REC_BYTES,
					    &q->hdrs_bus);
	if (q->slots == NULL || q->hdrs == NULL)
		return USTOR_ERR_NO_MEMORY;
	q->locked = hal->lock != NULL && hal->unlock != NULL && !vb->cfg.per_cpu;
	if (index == 0)
		vb->info.queue_size = (uint16_t)size;
	return USTOR_OK;
}

ustor_status ustor_vblk_queues_init(struct ustor_virtio_blk *vb)
{
	const struct ustor_hal *hal = vb->hal;
	uint32_t want = vb->cfg.num_queues == 0 ? 1u : vb->cfg.num_queues;
	uint32_t i;
	ustor_status st;

	/* num_queues is validated: 1..the device's, capped by the build. */
	if (want > vb->info.num_queues)
		want = vb->info.num_queues;
	if (want > USTOR_VIRTIO_BLK_MAX_QUEUES)
		want = USTOR_VIRTIO_BLK_MAX_QUEUES;
	if (want == 0) {
		USTOR_ERR(hal, "%s: device reports num_queues 0", vb->bdev.name);
		return USTOR_ERR_BAD_DEVICE;
	}
	if (vb->dev.ops->config_vector != NULL) {
		vb->config_vector = vb->dev.ops->config_vector(
			&vb->dev, vb->cfg.msix ? vb->cfg.msix_base : USTOR_VIRTIO_MSI_NO_VECTOR);
		if (vb->cfg.msix && vb->config_vector != vb->cfg.msix_base)
			USTOR_WARN(hal, "%s: MSI-X configuration vector %u refused",
				   vb->bdev.name, (unsigned)vb->cfg.msix_base);
	} else {
		vb->config_vector = USTOR_VIRTIO_MSI_NO_VECTOR;
	}
	for (i = 0; i < want; i++) {
		st = ustor_vblk_queue_init(vb, (uint16_t)i);
		if (st != USTOR_OK) {
			if (i == 0)
				return st;
			/* A further queue the transport cannot set up (e.g. no
			 * 16-bit queue_select): run with those that work. */
			USTOR_WARN(hal, "%s: queue %u unavailable (%s): using %u queue(s)",
				   vb->bdev.name, i, ustor_status_name(st), i);
			ustor_vblk_queue_free(vb, &vb->q[i]);
			if (st == USTOR_ERR_NO_MEMORY)
				return st;
			break;
		}
		vb->nq = (uint16_t)(i + 1u);
	}
	vb->bdev.nqueues = vb->nq;
	vb->info.queues = vb->nq;
	return USTOR_OK;
}

/* Post one GET_ID and wait for it (bounded): the serial number, and proof
 * that the device executes requests before the disk is handed out. */
static ustor_status ustor_vblk_get_id(struct ustor_virtio_blk *vb)
{
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_blk_queue *q = &vb->q[0];
	struct ustor_virtio_blk_slot *s;
	struct ustor_virtq_chain c;
	uint8_t *rec;
	ustor_bus_addr rec_bus;
	uint64_t deadline;
	uint32_t spins = 0;
	int legacy = vb->dev.legacy;
	uint16_t head;
	uint32_t resets;
	char id[USTOR_VIRTIO_BLK_ID_BYTES];
	size_t n;

	if (ustor_virtq_begin(&q->vq, &c, 3) != 0)
		return USTOR_ERR_BUSY;
	head = c.head;
	rec = q->hdrs + ((size_t)head << USTOR_VBLK_REC_SHIFT);
	rec_bus = q->hdrs_bus + ((ustor_bus_addr)head << USTOR_VBLK_REC_SHIFT);
	ustor_memset(rec, 0, USTOR_VBLK_REC_BYTES);
	((struct ustor_virtio_blk_req_hdr *)(void *)rec)->type =
		ustor_virtio_w32(legacy, USTOR_VIRTIO_BLK_T_GET_ID);
	rec[USTOR_VBLK_REC_STATUS] = USTOR_VBLK_STATUS_UNSET;
	if (hal->dma_sync != NULL)
		hal->dma_sync(hal->ctx, rec, USTOR_VBLK_REC_BYTES, USTOR_DMA_BIDIRECTIONAL);
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_HDR,
			sizeof(struct ustor_virtio_blk_req_hdr), 0);
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_ID, USTOR_VIRTIO_BLK_ID_BYTES, 1);
	ustor_virtq_add(&q->vq, &c, rec_bus + USTOR_VBLK_REC_STATUS, 1, 1);
	if (hal->dma_sync != NULL && c.tbl != NULL)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)c.tbl, (size_t)c.ndesc << 4,
			      USTOR_DMA_TO_DEVICE);
	s = &q->slots[head];
	s->owner = NULL;
	s->kind = USTOR_VBLK_SLOT_INTERNAL;
	s->type = USTOR_VIRTIO_BLK_T_GET_ID;
	s->done = 0;
	s->status = USTOR_VBLK_STATUS_UNSET;
	ustor_virtq_commit(&q->vq, &c);
	ustor_virtq_kick(&q->vq);

	deadline = hal->now_ns(hal->ctx) + (uint64_t)vb->cfg.init_timeout_ms * 1000000u;
	resets = vb->resets;
	for (;;) {
		vb->bdev.ops->poll(&vb->bdev, 0);
		/* A recovery inside the poll freed the queue, `s` with it:
		 * the request is gone, do not touch it (no serial then). */
		if (vb->resets != resets)
			return USTOR_ERR_TIMEOUT;
		if (s->done || vb->state != USTOR_VBLK_STATE_READY)
			break;
		if (hal->now_ns(hal->ctx) >= deadline) {
			s->kind = USTOR_VBLK_SLOT_ABANDONED;
			ustor_virtio_log_status(&vb->dev,
						"GET_ID not completed: the device does not "
						"process requests");
			return USTOR_ERR_TIMEOUT;
		}
		ustor_wait_between_polls(hal, &spins);
	}
	if (vb->state != USTOR_VBLK_STATE_READY)
		return vb->bdev.unusable_reason != USTOR_OK ? vb->bdev.unusable_reason :
							      USTOR_ERR_BAD_DEVICE;
	if (s->status != USTOR_VIRTIO_BLK_S_OK) {
		/* Not every device has an ID (UNSUPP is allowed): no serial. */
		USTOR_INFO(hal, "%s: GET_ID answered %s (%u): no serial number", vb->bdev.name,
			   ustor_virtio_blk_status_name(s->status), (unsigned)s->status);
		return USTOR_OK;
	}
	/* NUL-terminated when shorter than 20 bytes (5.2.6). */
	ustor_memcpy(id, rec + USTOR_VBLK_REC_ID, sizeof(id));
	for (n = 0; n < sizeof(id) && id[n] != '\0'; n++)
		;
	ustor_copy_id_string(vb->bdev.serial, id, n);
	return USTOR_OK;
}

/* Everything after the transport was found. */
static ustor_status ustor_vblk_bringup(struct ustor_virtio_blk *vb)
{
	const struct ustor_hal *hal = vb->hal;
	struct ustor_virtio_dev *dev = &vb->dev;
	uint64_t wanted = ustor_vblk_wanted(&vb->cfg);
	ustor_status st;

	st = ustor_virtio_negotiate(dev, wanted, vb->cfg.init_timeout_ms);
	if (st != USTOR_OK)
		goto fail;
	vb->info.device_features = dev->device_features;
	vb->info.features = dev->features;
	vb->info.transport = dev->transport;
	vb->info.read_only = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_RO);
	vb->flush = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_BLK_F_FLUSH);
	vb->info.packed = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_F_RING_PACKED);
	vb->info.event_idx = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_F_EVENT_IDX);
	vb->info.indirect = (uint8_t)ustor_vblk_has(vb, USTOR_VIRTIO_F_INDIRECT_DESC);
	/* The configuration first: num_queues says how many queues exist. */
	st = ustor_vblk_read_config(vb, &vb->info);
	if (st != USTOR_OK)
		goto fail;
	st = ustor_vblk_queues_init(vb);
	if (st != USTOR_OK)
		goto fail;
	st = ustor_vblk_limits(vb);
	if (st != USTOR_OK)
		goto fail;
	if (vb->cfg.bounce_bytes >= vb->bdev.block_size) {
		vb->bounce_bytes = vb->cfg.bounce_bytes & ~(vb->bdev.block_size - 1u);
		vb->bounce = (uint8_t *)hal->dma_alloc(
			hal->ctx, vb->bounce_bytes, 1u << USTOR_VBLK_PAGE_SHIFT, &vb->bounce_bus);
		if (vb->bounce == NULL) {
			st = USTOR_ERR_NO_MEMORY;
			goto fail;
		}
		vb->bdev.bounce = vb->bounce;
		vb->bdev.bounce_len = vb->bounce_bytes;
	}
	st = ustor_virtio_driver_ok(dev);
	if (st != USTOR_OK)
		goto fail;
	vb->state = USTOR_VBLK_STATE_READY;
	st = ustor_vblk_get_id(vb);
	if (st != USTOR_OK)
		goto fail;
	USTOR_INFO(hal, "%s: virtio-blk over %s: %llu blocks of %u, serial '%s'", vb->bdev.name,
		   dev->transport == USTOR_VIRTIO_TRANSPORT_PCI ? "pci" :
		   dev->legacy					? "mmio v1 (legacy)" :
								  "mmio v2",
		   (unsigned long long)vb->bdev.nblocks, vb->bdev.block_size, vb->bdev.serial);
	USTOR_INFO(hal, "%s: %u %s queue(s) of %u (max %u)%s%s, %u segments x %u per chain%s%s%s%s%s",
		   vb->bdev.name, (unsigned)vb->nq, vb->info.packed ? "packed" : "split",
		   (unsigned)vb->info.queue_size, (unsigned)vb->info.queue_max,
		   vb->info.event_idx ? ", event-idx" : "", vb->info.indirect ? ", indirect" : "",
		   vb->seg_lim,
		   1u << vb->seg_shift, vb->info.read_only ? ", read-only" : "",
		   vb->info.writeback ? ", write cache" : "", vb->flush ? ", flush" : "",
		   (vb->bdev.flags & USTOR_BDEV_F_DISCARD) ? ", discard" : "",
		   (vb->bdev.flags & USTOR_BDEV_F_WRITE_ZEROES) ? ", write-zeroes" : "");
	return USTOR_OK;

fail:
	vb->state = USTOR_VBLK_STATE_OFF;
	if (dev->ops->get_status(dev) != 0xffffffffu)
		ustor_virtio_fail(dev);
	/* The device may hold the rings: it must be reset before they are
	 * freed. */
	if (vb->q[0].vq.ring != NULL && ustor_virtio_reset(dev, vb->cfg.init_timeout_ms) != USTOR_OK) {
		USTOR_ERR(hal, "%s: device did not reset; its DMA memory is not freed",
			  vb->bdev.name);
		return st;
	}
	ustor_vblk_free_all(vb);
	return st;
}

ustor_status ustor_vblk_reinit(struct ustor_virtio_blk *vb)
{
	struct ustor_virtio_dev *dev = &vb->dev;
	uint64_t features = dev->features;
	uint32_t block_size = vb->bdev.block_size;
	ustor_status st;

	st = ustor_virtio_negotiate(dev, ustor_vblk_wanted(&vb->cfg), vb->cfg.init_timeout_ms);
	if (st != USTOR_OK)
		return st;
	if (dev->features != features) {
		USTOR_ERR(vb->hal, "%s: features changed across the reset (%016llx, were %016llx)",
			  vb->bdev.name, (unsigned long long)dev->features,
			  (unsigned long long)features);
		return USTOR_ERR_BAD_DEVICE;
	}
	st = ustor_vblk_read_config(vb, &vb->info);
	if (st == USTOR_OK)
		st = ustor_vblk_queues_init(vb);
	if (st == USTOR_OK)
		st = ustor_vblk_limits(vb);
	if (st != USTOR_OK)
		return st;
	if (vb->bdev.block_size != block_size) {
		USTOR_ERR(vb->hal, "%s: block size changed across the reset (%u, was %u)",
			  vb->bdev.name, vb->bdev.block_size, block_size);
		return USTOR_ERR_BAD_DEVICE;
	}
	if (vb->bounce != NULL) { /* the device was reset: safe again */
		vb->bdev.bounce = vb->bounce;
		vb->bdev.bounce_len = vb->bounce_bytes;
	}
	return ustor_virtio_driver_ok(dev);
}

static ustor_status ustor_vblk_prepare(struct ustor_virtio_blk *vb, const struct ustor_hal *hal,
				       const struct ustor_virtio_blk_config *cfg)
{
	struct ustor_virtio_blk_config defaults;
	ustor_status st;

	st = ustor_hal_check(hal);
	if (st != USTOR_OK)
		return st;
	if (cfg == NULL) {
		ustor_virtio_blk_config_default(&defaults);
		cfg = &defaults;
	}
	ustor_memset(vb, 0, sizeof(*vb));
	vb->hal = hal;
	vb->cfg = *cfg;
	if (cfg->io_timeout_ms == 0 || cfg->init_timeout_ms == 0 ||
	    cfg->use_irq > USTOR_VIRTIO_BLK_IRQ_ADAPTIVE ||
	    (cfg->indirect && (cfg->indirect_max < 3u || cfg->indirect_max > 1024u)))
		return USTOR_ERR_INVALID_ARG;
	if ((hal->lock == NULL) != (hal->unlock == NULL))
		return USTOR_ERR_INVALID_ARG;
	ustor_fmt(vb->bdev.name, sizeof(vb->bdev.name), "vblk%u", (unsigned)cfg->index);
	ustor_fmt(vb->bdev.model, sizeof(vb->bdev.model), "virtio-blk");
	vb->bdev.ops = &ustor_virtio_blk_ops;
	vb->bdev.driver = vb;
	vb->bdev.hal = hal;
	vb->bdev.nqueues = 1;
	vb->bdev.timeout_ms = cfg->io_timeout_ms;
	vb->bdev.unusable_reason = USTOR_OK;
	vb->dev.name = vb->bdev.name;
	return USTOR_OK;
}

ustor_status ustor_virtio_blk_init_pci(struct ustor_virtio_blk *vb, const struct ustor_hal *hal,
				       uint32_t pci_addr, volatile void *const bars[6],
				       const struct ustor_virtio_blk_config *cfg)
{
	ustor_status st;

	if (vb == NULL || hal == NULL || bars == NULL)
		return USTOR_ERR_INVALID_ARG;
	st = ustor_vblk_prepare(vb, hal, cfg);
	if (st != USTOR_OK)
		return st;
	st = ustor_virtio_pci_attach(&vb->dev, hal, pci_addr, bars, vb->cfg.bar_bytes,
				     USTOR_VIRTIO_ID_BLOCK);
	if (st != USTOR_OK)
		return st;
	return ustor_vblk_bringup(vb);
}

ustor_status ustor_virtio_blk_init_mmio(struct ustor_virtio_blk *vb, const struct ustor_hal *hal,
					volatile void *base,
					const struct ustor_virtio_blk_config *cfg)
{
	ustor_status st;

	if (vb == NULL || hal == NULL || base == NULL)
		return USTOR_ERR_INVALID_ARG;
	st = ustor_vblk_prepare(vb, hal, cfg);
	if (st != USTOR_OK)
		return st;
	st = ustor_virtio_mmio_attach(&vb->dev, hal, base, USTOR_VIRTIO_ID_BLOCK);
	if (st != USTOR_OK)
		return st;
	return ustor_vblk_bringup(vb);
}

uint16_t ustor_virtio_blk_queue_vector(const struct ustor_virtio_blk *vb, uint16_t queue)
{
	if (vb == NULL || queue >= vb->nq)
		return USTOR_VIRTIO_MSI_NO_VECTOR;
	return vb->q[queue].vq.msix_vector;
}

uint16_t ustor_virtio_blk_config_vector(const struct ustor_virtio_blk *vb)
{
	if (vb == NULL || vb->nq == 0)
		return USTOR_VIRTIO_MSI_NO_VECTOR;
	return vb->config_vector;
}

struct ustor_block_device *ustor_virtio_blk_bdev(struct ustor_virtio_blk *vb)
{
	return vb == NULL ? NULL : &vb->bdev;
}

ustor_status ustor_virtio_blk_shutdown(struct ustor_virtio_blk *vb)
{
	const struct ustor_hal *hal;
	struct ustor_vblk_done d = { NULL, NULL };
	ustor_status st;

	if (vb == NULL || vb->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (vb->state != USTOR_VBLK_STATE_READY && vb->state != USTOR_VBLK_STATE_BROKEN)
		return vb->state == USTOR_VBLK_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN :
								 USTOR_ERR_NOT_READY;
	hal = vb->hal;
	ustor_vblk_lock_all(vb);
	vb->state = USTOR_VBLK_STATE_SHUT_DOWN; /* no new requests from here */
	ustor_vblk_unlock_all(vb);
	/* A reset stops every queue (4.1.4.3.2 / 4.2.3.1): after it the
	 * device touches no ring and no buffer. */
	st = ustor_virtio_reset(&vb->dev, vb->cfg.init_timeout_ms);
	if (st != USTOR_OK) {
		USTOR_ERR(hal, "%s: device did not reset at shutdown; memory kept", vb->bdev.name);
		/* Rings stay, but no request is left without its callback: they
		 * end with the reason (as a cancel after a timeout, the device
		 * may still touch their buffers). */
		ustor_vblk_collect_all(vb, st, &d);
		(void)ustor_vblk_deliver(vb, d.head);
		ustor_block_sched_fail_all(&vb->bdev, st);
		return st;
	}
	/* Stopped: whatever was outstanding ends now, never silently. */
	ustor_vblk_collect_all(vb, USTOR_ERR_SHUT_DOWN, &d);
	(void)ustor_vblk_deliver(vb, d.head);
	/* And those the block layer held (USTOR_REQ_F_WAIT, a policy). */
	ustor_block_sched_fail_all(&vb->bdev, USTOR_ERR_SHUT_DOWN);
	ustor_vblk_free_all(vb);
	return USTOR_OK;
}

ustor_status ustor_vblk_check_locked(struct ustor_virtio_blk *vb)
{
	struct ustor_virtio_dev *dev = &vb->dev;
	const struct ustor_hal *hal = vb->hal;
	uint32_t isr = dev->ops->isr(dev);
	uint32_t status = dev->ops->get_status(dev);
	uint64_t cap;

	if (status == 0xffffffffu) {
		ustor_virtio_log_status(dev, "device not responding");
		return USTOR_ERR_DEVICE_GONE;
	}
	if (status & USTOR_VIRTIO_STATUS_NEEDS_RESET) {
		ustor_vblk_break(vb, USTOR_ERR_FATAL, "device set DEVICE_NEEDS_RESET");
		return USTOR_ERR_FATAL;
	}
	if (!(isr & USTOR_VIRTIO_ISR_CONFIG) &&
	    (dev->legacy || dev->ops->config_generation(dev) == vb->config_gen))
		return USTOR_OK;
	/* A configuration change (ISR bit 1, or a new generation): the
	 * capacity is what may move under a running disk (a resize). */
	vb->config_changes++;
	if (ustor_vblk_read_capacity(vb, &cap) != USTOR_OK) {
		ustor_virtio_log_status(dev, "device configuration keeps changing while read");
		return USTOR_ERR_BAD_DEVICE;
	}
	if (cap != vb->info.capacity_sectors) {
		USTOR_INFO(hal, "%s: capacity changed from %llu to %llu sectors", vb->bdev.name,
			   (unsigned long long)vb->info.capacity_sectors, (unsigned long long)cap);
		vb->info.capacity_sectors = cap;
		vb->bdev.nblocks = ustor_virtio_shr64(cap, vb->sector_shift);
	}
	return USTOR_OK;
}

ustor_status ustor_virtio_blk_check(struct ustor_virtio_blk *vb)
{
	struct ustor_vblk_done d = { NULL, NULL };
	ustor_status st;

	if (vb == NULL || vb->hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (vb->state != USTOR_VBLK_STATE_READY) {
		if (vb->state == USTOR_VBLK_STATE_BROKEN)
			return vb->bdev.unusable_reason;
		return vb->state == USTOR_VBLK_STATE_SHUT_DOWN ? USTOR_ERR_SHUT_DOWN :
								 USTOR_ERR_NOT_READY;
	}
	ustor_vblk_lock(vb->hal, &vb->q[0]);
	st = ustor_vblk_check_locked(vb);
	ustor_vblk_unlock(vb->hal, &vb->q[0]);
	(void)ustor_vblk_after_unlock(vb, &d);
	return st;
}

void ustor_vblk_break(struct ustor_virtio_blk *vb, ustor_status status, const char *why)
{
	if (vb->state != USTOR_VBLK_STATE_READY)
		return;
	ustor_virtio_log_status(&vb->dev, why);
	vb->state = USTOR_VBLK_STATE_BROKEN;
	vb->bdev.flags |= USTOR_BDEV_F_UNUSABLE;
	vb->bdev.unusable_reason = status;
	vb->break_pending = 1;
}

unsigned ustor_vblk_after_unlock(struct ustor_virtio_blk *vb, struct ustor_vblk_done *d)
{
	const struct ustor_hal *hal = vb->hal;

	if (USTOR_VIRTIO_UNLIKELY(vb->break_pending)) {
		vb->break_pending = 0;
		/* A reset and re-initialisation first (bounded by max_resets);
		 * if that is not possible, the device stays broken below. */
		/* A device that asked for a reset is reset and used again; one
		 * that returned impossible values (BAD_DEVICE) is not trusted. */
		if (vb->cfg.cmd_timeout_ms != 0 && vb->bdev.unusable_reason != USTOR_ERR_BAD_DEVICE) {
			(void)ustor_vblk_recover(vb, vb->bdev.unusable_reason, d);
			return ustor_vblk_deliver(vb, d->head);
		}
		/* Stop the device before anything is handed back: after the
		 * reset it uses no buffer. If it does not reset, requests stay
		 * outstanding (their callers time out): their buffers may still
		 * be written. The wait is outside the lock: it may yield. */
		if (ustor_virtio_reset(&vb->dev, vb->cfg.init_timeout_ms) != USTOR_OK) {
			USTOR_ERR(hal,
				  "%s: device did not reset; outstanding requests left to time out",
				  vb->bdev.name);
		} else {
			USTOR_ERR(hal,
				  "%s: device reset after a fatal error; outstanding requests end "
				  "with %s, the disk is unusable until re-initialised",
				  vb->bdev.name, ustor_status_name(vb->bdev.unusable_reason));
			ustor_vblk_collect_all(vb, vb->bdev.unusable_reason, d);
		}
	}
	return ustor_vblk_deliver(vb, d->head);
}
