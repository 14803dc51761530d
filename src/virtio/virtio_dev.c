/* SPDX-License-Identifier: MIT */
/*
 * Device bring-up common to every transport (VIRTIO 1.2 section 3.1.1):
 * reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK, DRIVER_OK;
 * device configuration reads; narrow register access.
 */
#include "virtio_internal.h"

uint32_t ustor_virtio_rd_narrow(const struct ustor_virtio_dev *dev, volatile uint8_t *base,
				uint32_t off, uint32_t width)
{
	const struct ustor_hal *hal = dev->hal;
	uint32_t shift = (off & 3u) * 8u;
	uint32_t v;

	if (width == 1 && hal->mmio_read8 != NULL)
		return hal->mmio_read8(hal->ctx, base + off);
	if (width == 2 && hal->mmio_read16 != NULL)
		return hal->mmio_read16(hal->ctx, base + off);
	v = ustor_virtio_rd32(dev, base, off & ~3u) >> shift;
	return width == 1 ? (v & 0xffu) : (v & 0xffffu);
}

void ustor_virtio_wr_narrow(const struct ustor_virtio_dev *dev, volatile uint8_t *base,
			    uint32_t off, uint32_t width, uint32_t val)
{
	const struct ustor_hal *hal = dev->hal;
	uint32_t shift = (off & 3u) * 8u;
	uint32_t mask = (width == 1 ? 0xffu : 0xffffu) << shift;
	uint32_t v;

	if (width == 1 && hal->mmio_write8 != NULL) {
		hal->mmio_write8(hal->ctx, base + off, (uint8_t)val);
		return;
	}
	if (width == 2 && hal->mmio_write16 != NULL) {
		hal->mmio_write16(hal->ctx, base + off, (uint16_t)val);
		return;
	}
	/* The other lanes get back what they read: a device that decodes
	 * lanes sees no change there, one that decodes the start offset
	 * (QEMU) sees only the first field. */
	v = ustor_virtio_rd32(dev, base, off & ~3u);
	v = (v & ~mask) | ((val << shift) & mask);
	ustor_virtio_wr32(dev, base, off & ~3u, v);
}

void ustor_virtio_log_status(struct ustor_virtio_dev *dev, const char *why)
{
	dev->ops->log_regs(dev, why);
}

ustor_status ustor_virtio_reset(struct ustor_virtio_dev *dev, uint32_t timeout_ms)
{
	const struct ustor_hal *hal = dev->hal;
	uint64_t deadline;
	uint32_t spins = 0;

	dev->ops->set_status(dev, 0);
	/* Reset is done when the status reads 0 again (4.1.4.3.2, 4.2.3.1). */
	deadline = hal->now_ns(hal->ctx) + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		uint32_t s = dev->ops->get_status(dev);

		if (s == 0)
			return USTOR_OK;
		if (s == 0xffffffffu) {
			ustor_virtio_log_status(dev, "device not responding during reset");
			return USTOR_ERR_DEVICE_GONE;
		}
		if (hal->now_ns(hal->ctx) >= deadline) {
			ustor_virtio_log_status(dev, "timeout waiting for reset (status != 0)");
			return USTOR_ERR_TIMEOUT;
		}
		ustor_wait_between_polls(hal, &spins);
	}
}

void ustor_virtio_fail(struct ustor_virtio_dev *dev)
{
	uint32_t s = dev->ops->get_status(dev);

	if (s == 0xffffffffu)
		return;
	dev->ops->set_status(dev, (uint8_t)(s | USTOR_VIRTIO_STATUS_FAILED));
}

ustor_status ustor_virtio_negotiate(struct ustor_virtio_dev *dev, uint64_t wanted,
				    uint32_t reset_timeout_ms)
{
	const struct ustor_hal *hal = dev->hal;
	uint32_t status;
	ustor_status st;

	st = ustor_virtio_reset(dev, reset_timeout_ms);
	if (st != USTOR_OK)
		return st;
	dev->ops->set_status(dev, USTOR_VIRTIO_STATUS_ACKNOWLEDGE);
	dev->ops->set_status(dev, USTOR_VIRTIO_STATUS_ACKNOWLEDGE | USTOR_VIRTIO_STATUS_DRIVER);
	dev->device_features = dev->ops->get_features(dev);
	if (dev->legacy) {
		/* No VERSION_1 and no feature bits above 31 (4.2.4). */
		wanted &= 0xffffffffu;
	} else {
		if (!(dev->device_features & USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_VERSION_1))) {
			USTOR_ERR(hal,
				  "%s: device does not offer VIRTIO_F_VERSION_1 (features %016llx)",
				  dev->name, (unsigned long long)dev->device_features);
			ustor_virtio_fail(dev);
			return USTOR_ERR_UNSUPPORTED;
		}
		wanted |= USTOR_VIRTIO_FBIT(USTOR_VIRTIO_F_VERSION_1);
	}
	dev->features = dev->device_features & wanted;
	dev->ops->set_features(dev, dev->features);
	USTOR_INFO(hal, "%s: features offered %016llx, accepted %016llx", dev->name,
		   (unsigned long long)dev->device_features, (unsigned long long)dev->features);
	if (dev->legacy)
		return USTOR_OK; /* legacy devices have no FEATURES_OK step */
	dev->ops->set_status(dev, USTOR_VIRTIO_STATUS_ACKNOWLEDGE | USTOR_VIRTIO_STATUS_DRIVER |
					  USTOR_VIRTIO_STATUS_FEATURES_OK);
	/* The device says no by leaving FEATURES_OK clear (3.1.1 step 6). */
	status = dev->ops->get_status(dev);
	if (status == 0xffffffffu) {
		ustor_virtio_log_status(dev, "device not responding after FEATURES_OK");
		return USTOR_ERR_DEVICE_GONE;
	}
	if (!(status & USTOR_VIRTIO_STATUS_FEATURES_OK)) {
		USTOR_ERR(
			hal, "%s: device refused features %016llx (offered %016llx, status %02x)%s",
			dev->name, (unsigned long long)dev->features,
			(unsigned long long)dev->device_features, (unsigned)status,
			(dev->device_features & USTOR_VIRTIO_FBIT(USTOR_VIRTIO_BLK_F_ZONED)) != 0 &&
					dev->device_id == USTOR_VIRTIO_ID_BLOCK ?
				": a zoned device, which uStor does not drive" :
				"");
		ustor_virtio_fail(dev);
		return USTOR_ERR_UNSUPPORTED;
	}
	return USTOR_OK;
}

ustor_status ustor_virtio_driver_ok(struct ustor_virtio_dev *dev)
{
	uint32_t status = dev->ops->get_status(dev);

	if (status == 0xffffffffu) {
		ustor_virtio_log_status(dev, "device not responding before DRIVER_OK");
		return USTOR_ERR_DEVICE_GONE;
	}
	dev->ops->set_status(dev, (uint8_t)(status | USTOR_VIRTIO_STATUS_DRIVER_OK));
	status = dev->ops->get_status(dev);
	if (status == 0xffffffffu) {
		ustor_virtio_log_status(dev, "device not responding after DRIVER_OK");
		return USTOR_ERR_DEVICE_GONE;
	}
	if (status & (USTOR_VIRTIO_STATUS_NEEDS_RESET | USTOR_VIRTIO_STATUS_FAILED)) {
		ustor_virtio_log_status(dev, "device needs a reset right after DRIVER_OK");
		return USTOR_ERR_FATAL;
	}
	return USTOR_OK;
}

uint64_t ustor_virtio_config_read(struct ustor_virtio_dev *dev, uint32_t off, uint32_t width)
{
	uint8_t bytes[12];
	uint32_t first = off & ~3u;
	uint32_t end = off + width;
	uint32_t pos;

	/* A field past the device's configuration space reads as 0 (a device
	 * that offers a feature but sizes its space without the field). */
	if (dev->config_len != 0 && end > dev->config_len)
		return 0;
	/* The dwords holding the field, as little-endian registers: byte
	 * lanes in address order. The field is then decoded in the device's
	 * order. Fields never straddle more than three dwords. */
	for (pos = first; pos < end && pos - first < sizeof(bytes); pos += 4u)
		ustor_put_le32(bytes + (pos - first), dev->ops->config_read32(dev, pos));
	return ustor_virtio_get(dev->legacy, bytes + (off - first), width);
}
