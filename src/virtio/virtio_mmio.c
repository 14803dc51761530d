/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio transport (VIRTIO 1.2 section 4.2): version 2, and the legacy
 * version 1 (4.2.4: GuestPageSize, QueueAlign, QueuePFN, 32 feature bits,
 * no FEATURES_OK, rings in the guest's byte order). All registers are
 * 32 bits wide and little-endian; the HAL's accessors handle byte order.
 */
#include "virtio_internal.h"

#define MMIO_RD(dev, off) ustor_virtio_rd32((dev), (dev)->base, (off))
#define MMIO_WR(dev, off, v) ustor_virtio_wr32((dev), (dev)->base, (off), (v))

static uint64_t mmio_get_features(struct ustor_virtio_dev *dev)
{
	uint64_t lo;
	uint64_t hi = 0;

	MMIO_WR(dev, USTOR_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = MMIO_RD(dev, USTOR_VIRTIO_MMIO_DEVICE_FEATURES);
	if (!dev->legacy) {
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		hi = MMIO_RD(dev, USTOR_VIRTIO_MMIO_DEVICE_FEATURES);
	}
	return lo | (hi << 32);
}

static void mmio_set_features(struct ustor_virtio_dev *dev, uint64_t features)
{
	MMIO_WR(dev, USTOR_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	MMIO_WR(dev, USTOR_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	if (!dev->legacy) {
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	}
}

static uint32_t mmio_get_status(struct ustor_virtio_dev *dev)
{
	uint32_t s = MMIO_RD(dev, USTOR_VIRTIO_MMIO_STATUS);

	/* The status is 8 bits: anything above says the window is dead. */
	return s > 0xffu ? 0xffffffffu : s;
}

static void mmio_set_status(struct ustor_virtio_dev *dev, uint8_t status)
{
	MMIO_WR(dev, USTOR_VIRTIO_MMIO_STATUS, status);
}

static uint32_t mmio_config_read32(struct ustor_virtio_dev *dev, uint32_t off)
{
	return MMIO_RD(dev, USTOR_VIRTIO_MMIO_CONFIG + off);
}

static uint32_t mmio_config_generation(struct ustor_virtio_dev *dev)
{
	if (dev->legacy)
		return 0; /* version 1 has no ConfigGeneration */
	return MMIO_RD(dev, USTOR_VIRTIO_MMIO_CONFIG_GENERATION);
}

static uint32_t mmio_isr(struct ustor_virtio_dev *dev)
{
	uint32_t isr = MMIO_RD(dev, USTOR_VIRTIO_MMIO_INTERRUPT_STATUS);

	if (isr == 0xffffffffu)
		return 0;
	isr &= USTOR_VIRTIO_ISR_QUEUE | USTOR_VIRTIO_ISR_CONFIG;
	if (isr != 0)
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

static uint32_t mmio_queue_max(struct ustor_virtio_dev *dev, uint16_t index)
{
	MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_SEL, index);
	/* A queue in use already (4.2.3.2): not ours to take. */
	if (dev->legacy ? MMIO_RD(dev, USTOR_VIRTIO_MMIO_QUEUE_PFN) != 0 :
			  MMIO_RD(dev, USTOR_VIRTIO_MMIO_QUEUE_READY) != 0)
		return 0;
	return MMIO_RD(dev, USTOR_VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static ustor_status mmio_queue_enable(struct ustor_virtio_dev *dev, struct ustor_virtq *vq)
{
	ustor_bus_addr desc = vq->ring_bus;
	ustor_bus_addr avail = vq->ring_bus + vq->avail_off;
	ustor_bus_addr used = vq->ring_bus + vq->used_off;

	/* Legacy: the page size QueuePFN counts in, before any queue (4.2.4). */
	if (dev->legacy)
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_GUEST_PAGE_SIZE, USTOR_VIRTIO_LEGACY_PAGE);
	MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_SEL, vq->index);
	MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_NUM, vq->size);
	if (dev->legacy) {
		uint64_t pfn = desc >> 12; /* USTOR_VIRTIO_LEGACY_PAGE */

		/* QueuePFN is 32 bits of page number: the ring must lie
		 * below 16 TiB of bus space. */
		if ((pfn >> 32) != 0) {
			USTOR_ERR(dev->hal,
				  "%s: ring at bus %llx is beyond legacy QueuePFN's reach",
				  dev->name, (unsigned long long)desc);
			return USTOR_ERR_NOT_DMA_ABLE;
		}
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_ALIGN, USTOR_VIRTIO_LEGACY_PAGE);
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_PFN, (uint32_t)pfn);
	} else {
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
		MMIO_WR(dev, USTOR_VIRTIO_MMIO_QUEUE_READY, 1);
	}
	vq->msix_vector = USTOR_VIRTIO_MSI_NO_VECTOR; /* one interrupt line, no vectors */
	vq->notify_addr = dev->base + USTOR_VIRTIO_MMIO_QUEUE_NOTIFY;
	vq->notify_val = vq->index;
	vq->notify16 = 0;
	return USTOR_OK;
}

static void mmio_log_regs(struct ustor_virtio_dev *dev, const char *why)
{
	USTOR_ERR(dev->hal, "%s: %s: virtio-mmio v%u status=%08x interrupt=%08x device=%u",
		  dev->name, why, dev->version, MMIO_RD(dev, USTOR_VIRTIO_MMIO_STATUS),
		  MMIO_RD(dev, USTOR_VIRTIO_MMIO_INTERRUPT_STATUS),
		  MMIO_RD(dev, USTOR_VIRTIO_MMIO_DEVICE_ID));
}

const struct ustor_virtio_transport_ops ustor_virtio_mmio_ops = {
	.get_features = mmio_get_features,
	.set_features = mmio_set_features,
	.get_status = mmio_get_status,
	.set_status = mmio_set_status,
	.config_read32 = mmio_config_read32,
	.config_generation = mmio_config_generation,
	.isr = mmio_isr,
	.queue_max = mmio_queue_max,
	.queue_enable = mmio_queue_enable,
	.log_regs = mmio_log_regs,
};

ustor_status ustor_virtio_mmio_probe(const struct ustor_hal *hal, volatile void *base,
				     uint32_t *out_device_id, uint32_t *out_version)
{
	volatile uint8_t *b = (volatile uint8_t *)base;
	uint32_t magic;
	uint32_t version;

	if (hal == NULL || base == NULL || hal->mmio_read32 == NULL)
		return USTOR_ERR_INVALID_ARG;
	magic = hal->mmio_read32(hal->ctx, b + USTOR_VIRTIO_MMIO_MAGIC_VALUE);
	if (magic != USTOR_VIRTIO_MMIO_MAGIC)
		return USTOR_ERR_UNSUPPORTED;
	version = hal->mmio_read32(hal->ctx, b + USTOR_VIRTIO_MMIO_VERSION);
	if (out_version != NULL)
		*out_version = version;
	if (version != 1 && version != 2)
		return USTOR_ERR_UNSUPPORTED;
	if (out_device_id != NULL)
		*out_device_id = hal->mmio_read32(hal->ctx, b + USTOR_VIRTIO_MMIO_DEVICE_ID);
	return USTOR_OK;
}

ustor_status ustor_virtio_mmio_attach(struct ustor_virtio_dev *dev, const struct ustor_hal *hal,
				      volatile void *base, uint32_t want_device_id)
{
	volatile uint8_t *b = (volatile uint8_t *)base;
	uint32_t magic = hal->mmio_read32(hal->ctx, b + USTOR_VIRTIO_MMIO_MAGIC_VALUE);

	dev->hal = hal;
	dev->ops = &ustor_virtio_mmio_ops;
	dev->base = b;
	if (magic != USTOR_VIRTIO_MMIO_MAGIC) {
		USTOR_ERR(hal, "%s: no virtio-mmio device: MagicValue %08x", dev->name, magic);
		return magic == 0xffffffffu ? USTOR_ERR_DEVICE_GONE : USTOR_ERR_UNSUPPORTED;
	}
	dev->version = MMIO_RD(dev, USTOR_VIRTIO_MMIO_VERSION);
	dev->device_id = MMIO_RD(dev, USTOR_VIRTIO_MMIO_DEVICE_ID);
	dev->vendor_id = MMIO_RD(dev, USTOR_VIRTIO_MMIO_VENDOR_ID);
	if (dev->version != 1 && dev->version != 2) {
		USTOR_ERR(hal, "%s: virtio-mmio Version %u not supported (1 and 2 are)", dev->name,
			  dev->version);
		return USTOR_ERR_UNSUPPORTED;
	}
	if (dev->device_id != want_device_id) {
		if (dev->device_id == 0)
			USTOR_INFO(hal, "%s: empty virtio-mmio slot (DeviceID 0)", dev->name);
		else
			USTOR_ERR(hal, "%s: virtio-mmio DeviceID %u, not %u", dev->name,
				  dev->device_id, want_device_id);
		return USTOR_ERR_UNSUPPORTED;
	}
	dev->legacy = dev->version == 1;
	dev->transport = dev->legacy ? USTOR_VIRTIO_TRANSPORT_MMIO_LEGACY :
				       USTOR_VIRTIO_TRANSPORT_MMIO;
	/* The window is 0x200 bytes in every known layout (QEMU, kvmtool,
	 * Firecracker): 0x100 bytes of device configuration. */
	dev->config_len = 0x100;
	return USTOR_OK;
}
