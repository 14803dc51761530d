/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci transport, modern interface (VIRTIO 1.2 section 4.1): the
 * vendor capabilities in configuration space say where in which BAR the
 * common configuration, notification area, ISR byte and device
 * configuration are. 8- and 16-bit fields of the common configuration go
 * through ustor_virtio_rd_narrow/wr_narrow (virtio.h explains the
 * fallback when the HAL has no mmio_read8/16, mmio_write8/16).
 */
#include "virtio_internal.h"

#define COMMON_RD32(dev, off) ustor_virtio_rd32((dev), (dev)->common, (off))
#define COMMON_WR32(dev, off, v) ustor_virtio_wr32((dev), (dev)->common, (off), (v))
#define COMMON_RD(dev, off, w) ustor_virtio_rd_narrow((dev), (dev)->common, (off), (w))
#define COMMON_WR(dev, off, w, v) ustor_virtio_wr_narrow((dev), (dev)->common, (off), (w), (v))

/* PCI Command register bits (offset 4). */
#define USTOR_PCI_CMD_MEMORY 0x2u
#define USTOR_PCI_CMD_MASTER 0x4u

/* Bound on the capability walk: 48 capabilities fill the 192 bytes after
 * the standard header; a longer walk is a loop. */
#define USTOR_PCI_MAX_CAPS 48u

static uint64_t pci_get_features(struct ustor_virtio_dev *dev)
{
	uint64_t lo;
	uint64_t hi;

	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_DFSELECT, 0);
	lo = COMMON_RD32(dev, USTOR_VIRTIO_PCI_COMMON_DF);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_DFSELECT, 1);
	hi = COMMON_RD32(dev, USTOR_VIRTIO_PCI_COMMON_DF);
	return lo | (hi << 32);
}

static void pci_set_features(struct ustor_virtio_dev *dev, uint64_t features)
{
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_GFSELECT, 0);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_GF, (uint32_t)features);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_GFSELECT, 1);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_GF, (uint32_t)(features >> 32));
}

static uint32_t pci_get_status(struct ustor_virtio_dev *dev)
{
	uint32_t s = COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_STATUS, 1);

	/* All bits set, reserved ones included: the function is gone (or
	 * Memory Space is off). */
	return s == 0xffu ? 0xffffffffu : s;
}

static void pci_set_status(struct ustor_virtio_dev *dev, uint8_t status)
{
	COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_STATUS, 1, status);
}

static uint32_t pci_config_read32(struct ustor_virtio_dev *dev, uint32_t off)
{
	return ustor_virtio_rd32(dev, dev->device, off);
}

static uint32_t pci_config_generation(struct ustor_virtio_dev *dev)
{
	return COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_CFGGEN, 1);
}

static uint32_t pci_isr(struct ustor_virtio_dev *dev)
{
	uint32_t isr;

	if (dev->isr_reg == NULL)
		return 0;
	/* Reading the ISR byte also clears it (4.1.4.5). */
	if (dev->hal->mmio_read8 != NULL)
		isr = dev->hal->mmio_read8(dev->hal->ctx, dev->isr_reg);
	else
		isr = ustor_virtio_rd32(dev, dev->isr_reg, 0);
	if (isr == 0xffffffffu)
		return 0;
	return isr & (USTOR_VIRTIO_ISR_QUEUE | USTOR_VIRTIO_ISR_CONFIG);
}

/* Without a 16-bit store, queue_select can only be rewritten through the
 * dword it shares with device_status; a device that decodes the start
 * offset (QEMU) ignores that, so only queue 0 (the reset value) is sure. */
static int pci_can_select(const struct ustor_virtio_dev *dev, uint16_t index)
{
	return index == 0 ||
	       (dev->hal->mmio_write16 != NULL && dev->hal->mmio_read16 != NULL);
}

static uint32_t pci_queue_max(struct ustor_virtio_dev *dev, uint16_t index)
{
	if (!pci_can_select(dev, index))
		return 0;
	COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
	if (COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0)
		return 0; /* in use already */
	return COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_Q_SIZE, 2);
}

static ustor_status pci_queue_enable(struct ustor_virtio_dev *dev, struct ustor_virtq *vq)
{
	ustor_bus_addr desc = vq->ring_bus;
	ustor_bus_addr avail = vq->ring_bus + vq->avail_off;
	ustor_bus_addr used = vq->ring_bus + vq->used_off;
	uint32_t width = dev->hal->mmio_write16 != NULL ? 2u : 4u;
	uint64_t noff;

	if (!pci_can_select(dev, vq->index))
		return USTOR_ERR_UNSUPPORTED;
	COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_Q_SELECT, 2, vq->index);
	COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_Q_SIZE, 2, vq->size);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)desc);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)(desc >> 32));
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)avail);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_Q_AVAILHI, (uint32_t)(avail >> 32));
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)used);
	COMMON_WR32(dev, USTOR_VIRTIO_PCI_COMMON_Q_USEDHI, (uint32_t)(used >> 32));
	/* The queue's doorbell: notify base + queue_notify_off x multiplier
	 * (4.1.4.4), which must lie inside the notify structure with room for
	 * the store (a 32-bit one without hal->mmio_write16). */
	noff = (uint64_t)COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_Q_NOFF, 2) * dev->notify_mult;
	if (noff + width > dev->notify_len || ((uint32_t)noff & (width - 1u)) != 0) {
		USTOR_ERR(dev->hal,
			  "%s: queue %u notify offset %llu (x%u) outside the %u-byte notify area "
			  "or misaligned for a %u-byte store",
			  dev->name, (unsigned)vq->index, (unsigned long long)noff,
			  dev->notify_mult, dev->notify_len, width);
		return USTOR_ERR_BAD_DEVICE;
	}
	vq->notify_addr = dev->notify + (uint32_t)noff;
	vq->notify_val = vq->index;
	vq->notify16 = width == 2;
	/* The queue's MSI-X vector, read back: the device answers NO_VECTOR
	 * when it cannot use the one asked for (4.1.5.1.2). Interrupts of
	 * this queue are then unavailable; polling works regardless. */
	if (vq->msix_vector != USTOR_VIRTIO_MSI_NO_VECTOR) {
		COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_Q_MSIX, 2, vq->msix_vector);
		if (COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_Q_MSIX, 2) != vq->msix_vector) {
			USTOR_WARN(dev->hal,
				   "%s: queue %u: MSI-X vector %u refused by the device (polling only)",
				   dev->name, (unsigned)vq->index, (unsigned)vq->msix_vector);
			vq->msix_vector = USTOR_VIRTIO_MSI_NO_VECTOR;
		}
	}
	COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	return USTOR_OK;
}

static uint16_t pci_config_vector(struct ustor_virtio_dev *dev, uint16_t vector)
{
	COMMON_WR(dev, USTOR_VIRTIO_PCI_COMMON_MSIX, 2, vector);
	return (uint16_t)COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_MSIX, 2);
}

static void pci_log_regs(struct ustor_virtio_dev *dev, const char *why)
{
	const struct ustor_hal *hal = dev->hal;
	uint32_t cmd =
		hal->pci_cfg_read32 != NULL ? hal->pci_cfg_read32(hal->ctx, dev->pci_addr, 4) : 0;

	USTOR_ERR(hal,
		  "%s: %s: virtio-pci status=%02x cfggen=%u queue_size=%u queue_enable=%u "
		  "pci command/status=%08x",
		  dev->name, why, COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_STATUS, 1),
		  COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_CFGGEN, 1),
		  COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_Q_SIZE, 2),
		  COMMON_RD(dev, USTOR_VIRTIO_PCI_COMMON_Q_ENABLE, 2), cmd);
}

const struct ustor_virtio_transport_ops ustor_virtio_pci_ops = {
	.get_features = pci_get_features,
	.set_features = pci_set_features,
	.get_status = pci_get_status,
	.set_status = pci_set_status,
	.config_read32 = pci_config_read32,
	.config_generation = pci_config_generation,
	.isr = pci_isr,
	.queue_max = pci_queue_max,
	.queue_enable = pci_queue_enable,
	.log_regs = pci_log_regs,
	.config_vector = pci_config_vector,
};

/* One virtio structure found in the capability list. */
struct ustor_pci_loc {
	volatile uint8_t *addr;
	uint32_t len;
	uint32_t mult; /* notify only */
};

/* Walk the capability list and keep the first usable location of each
 * virtio structure (4.1.4: "the driver SHOULD use the first instance of
 * each virtio structure type it can support"). */
static ustor_status pci_walk_caps(struct ustor_virtio_dev *dev, volatile void *const bars[6],
				  const uint32_t *bar_bytes, struct ustor_pci_loc loc[5])
{
	const struct ustor_hal *hal = dev->hal;
	uint32_t status = hal->pci_cfg_read32(hal->ctx, dev->pci_addr, 4) >> 16;
	uint32_t ptr;
	uint32_t n;

	if (!(status & USTOR_PCI_STATUS_CAP_LIST)) {
		USTOR_ERR(hal, "%s: PCI function has no capability list (status %04x)", dev->name,
			  status);
		return USTOR_ERR_UNSUPPORTED;
	}
	ptr = hal->pci_cfg_read32(hal->ctx, dev->pci_addr, USTOR_PCI_CAP_PTR) & 0xfcu;
	for (n = 0; ptr >= 0x40u && n < USTOR_PCI_MAX_CAPS; n++) {
		uint32_t d0 = hal->pci_cfg_read32(hal->ctx, dev->pci_addr, (uint16_t)ptr);
		uint32_t id = d0 & 0xffu;
		uint32_t next = (d0 >> 8) & 0xfcu;
		uint32_t cap_len = (d0 >> 16) & 0xffu;
		uint32_t type = d0 >> 24;

		if (id == USTOR_PCI_CAP_ID_VNDR && cap_len >= sizeof(struct ustor_virtio_pci_cap) &&
		    type >= USTOR_VIRTIO_PCI_CAP_COMMON_CFG &&
		    type <= USTOR_VIRTIO_PCI_CAP_DEVICE_CFG &&
		    ptr + sizeof(struct ustor_virtio_pci_notify_cap) <= 0x100u) {
			uint32_t bar =
				hal->pci_cfg_read32(hal->ctx, dev->pci_addr, (uint16_t)(ptr + 4u)) &
				0xffu;
			uint32_t off =
				hal->pci_cfg_read32(hal->ctx, dev->pci_addr, (uint16_t)(ptr + 8u));
			uint32_t len =
				hal->pci_cfg_read32(hal->ctx, dev->pci_addr, (uint16_t)(ptr + 12u));
			struct ustor_pci_loc *l = &loc[type];

			USTOR_DEBUG(hal,
				    "%s: virtio cap type %u at %02x: bar %u offset %x length %x",
				    dev->name, type, ptr, bar, off, len);
			/* A structure in a BAR the kernel did not map (or a BAR
			 * index that does not exist) is skipped: a later
			 * instance may be usable. */
			if (l->addr == NULL && bar < 6u && bars[bar] != NULL && len != 0 &&
			    (type != USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG ||
			     cap_len >= sizeof(struct ustor_virtio_pci_notify_cap))) {
				/* Every register access lands inside the BAR,
				 * when the kernel said how large it is. */
				if (bar_bytes != NULL && bar_bytes[bar] != 0 &&
				    (uint64_t)off + len > bar_bytes[bar]) {
					USTOR_ERR(
						hal,
						"%s: virtio structure type %u at BAR %u offset %x "
						"length %x lies past the BAR's %x bytes",
						dev->name, type, bar, off, len, bar_bytes[bar]);
					return USTOR_ERR_BAD_DEVICE;
				}
				l->addr = (volatile uint8_t *)bars[bar] + off;
				l->len = len;
				if (type == USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG)
					l->mult = hal->pci_cfg_read32(hal->ctx, dev->pci_addr,
								      (uint16_t)(ptr + 16u));
				/* Dword register access needs dword-aligned
				 * structures (the ISR only without read8). */
				if ((off & 3u) != 0 &&
				    (type != USTOR_VIRTIO_PCI_CAP_ISR_CFG ||
				     hal->mmio_read8 == NULL)) {
					USTOR_ERR(
						hal,
						"%s: virtio structure type %u at BAR %u offset %x "
						"is not dword aligned",
						dev->name, type, bar, off);
					return USTOR_ERR_UNSUPPORTED;
				}
			}
		}
		ptr = next;
	}
	if (n == USTOR_PCI_MAX_CAPS) {
		USTOR_ERR(hal, "%s: PCI capability list does not end (a loop?)", dev->name);
		return USTOR_ERR_BAD_DEVICE;
	}
	return USTOR_OK;
}

ustor_status ustor_virtio_pci_attach(struct ustor_virtio_dev *dev, const struct ustor_hal *hal,
				     uint32_t pci_addr, volatile void *const bars[6],
				     const uint32_t *bar_bytes, uint32_t want_device_id)
{
	struct ustor_pci_loc loc[5];
	uint32_t id;
	uint32_t vendor;
	uint32_t device;
	uint32_t type;
	uint32_t cmd;
	ustor_status st;

	dev->hal = hal;
	dev->ops = &ustor_virtio_pci_ops;
	dev->pci_addr = pci_addr;
	dev->transport = USTOR_VIRTIO_TRANSPORT_PCI;
	dev->legacy = 0;
	dev->version = 1;
	if (hal->pci_cfg_read32 == NULL || bars == NULL) {
		USTOR_ERR(hal, "%s: virtio-pci needs hal->pci_cfg_read32 and the mapped BARs",
			  dev->name);
		return USTOR_ERR_INVALID_ARG;
	}
	id = hal->pci_cfg_read32(hal->ctx, pci_addr, 0);
	vendor = id & 0xffffu;
	device = id >> 16;
	if (vendor == 0xffffu) {
		USTOR_ERR(hal, "%s: no PCI function at %08x", dev->name, pci_addr);
		return USTOR_ERR_DEVICE_GONE;
	}
	dev->vendor_id = vendor;
	/* Modern IDs are 0x1040 + type; transitional ones (0x1000..0x103f)
	 * carry the type in the subsystem device ID (4.1.2). */
	if (device >= USTOR_VIRTIO_PCI_DEVICE_MODERN_BASE)
		type = device - USTOR_VIRTIO_PCI_DEVICE_MODERN_BASE;
	else if (device >= 0x1000u)
		type = hal->pci_cfg_read32(hal->ctx, pci_addr, 0x2c) >> 16;
	else
		type = 0;
	dev->device_id = type;
	if (vendor != USTOR_VIRTIO_PCI_VENDOR || device < 0x1000u || device > 0x107fu ||
	    type != want_device_id) {
		USTOR_ERR(hal, "%s: PCI %04x:%04x is not a virtio device of type %u", dev->name,
			  vendor, device, want_device_id);
		return USTOR_ERR_UNSUPPORTED;
	}
	/* Firmware may leave Memory Space and Bus Master off (HARDWARE.md
	 * item 9). The status half is written as zero: its bits are
	 * write-one-to-clear. */
	cmd = hal->pci_cfg_read32(hal->ctx, pci_addr, 4) & 0xffffu;
	if ((cmd & (USTOR_PCI_CMD_MEMORY | USTOR_PCI_CMD_MASTER)) !=
	    (USTOR_PCI_CMD_MEMORY | USTOR_PCI_CMD_MASTER)) {
		if (hal->pci_cfg_write32 == NULL) {
			USTOR_ERR(hal,
				  "%s: PCI memory space / bus mastering off (command %04x) and no "
				  "hal->pci_cfg_write32 to switch them on",
				  dev->name, cmd);
			return USTOR_ERR_NOT_READY;
		}
		USTOR_INFO(hal, "%s: enabling PCI memory space and bus mastering (command %04x)",
			   dev->name, cmd);
		hal->pci_cfg_write32(hal->ctx, pci_addr, 4,
				     cmd | USTOR_PCI_CMD_MEMORY | USTOR_PCI_CMD_MASTER);
	}
	ustor_memset(loc, 0, sizeof(loc));
	st = pci_walk_caps(dev, bars, bar_bytes, loc);
	if (st != USTOR_OK)
		return st;
	if (loc[USTOR_VIRTIO_PCI_CAP_COMMON_CFG].addr == NULL ||
	    loc[USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG].addr == NULL ||
	    loc[USTOR_VIRTIO_PCI_CAP_DEVICE_CFG].addr == NULL) {
		USTOR_ERR(hal,
			  "%s: virtio-pci capabilities missing or in unmapped BARs: common %s, "
			  "notify %s, device %s (a legacy-only device?)",
			  dev->name, loc[USTOR_VIRTIO_PCI_CAP_COMMON_CFG].addr ? "ok" : "none",
			  loc[USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG].addr ? "ok" : "none",
			  loc[USTOR_VIRTIO_PCI_CAP_DEVICE_CFG].addr ? "ok" : "none");
		return USTOR_ERR_UNSUPPORTED;
	}
	if (loc[USTOR_VIRTIO_PCI_CAP_COMMON_CFG].len < USTOR_VIRTIO_PCI_COMMON_MIN_LEN) {
		USTOR_ERR(hal, "%s: common configuration is %u bytes, needs %u", dev->name,
			  loc[USTOR_VIRTIO_PCI_CAP_COMMON_CFG].len,
			  USTOR_VIRTIO_PCI_COMMON_MIN_LEN);
		return USTOR_ERR_BAD_DEVICE;
	}
	dev->common = loc[USTOR_VIRTIO_PCI_CAP_COMMON_CFG].addr;
	dev->common_len = loc[USTOR_VIRTIO_PCI_CAP_COMMON_CFG].len;
	dev->notify = loc[USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG].addr;
	dev->notify_len = loc[USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG].len;
	dev->notify_mult = loc[USTOR_VIRTIO_PCI_CAP_NOTIFY_CFG].mult;
	dev->device = loc[USTOR_VIRTIO_PCI_CAP_DEVICE_CFG].addr;
	dev->config_len = loc[USTOR_VIRTIO_PCI_CAP_DEVICE_CFG].len;
	/* The ISR byte is optional here: only configuration changes need it,
	 * and the generation counter catches those too. A dword read needs
	 * the whole dword inside the structure. */
	if (loc[USTOR_VIRTIO_PCI_CAP_ISR_CFG].addr != NULL &&
	    (dev->hal->mmio_read8 != NULL ||
	     loc[USTOR_VIRTIO_PCI_CAP_ISR_CFG].len >= 4u)) {
		dev->isr_reg = loc[USTOR_VIRTIO_PCI_CAP_ISR_CFG].addr;
		dev->isr_len = loc[USTOR_VIRTIO_PCI_CAP_ISR_CFG].len;
	}
	return USTOR_OK;
}
