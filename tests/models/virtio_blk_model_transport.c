/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk model transports: PCI configuration space and the BAR of
 * virtio-pci modern (VIRTIO 1.2 4.1, PCI Local Bus 3.0 6.1 and 6.8.2), and
 * the register files of virtio-mmio version 2 and legacy version 1 (4.2).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <string.h>

#include "virtio_blk_model_int.h"

static struct ustor_vbm_queue *sel_queue(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	return p->queue_sel < m->cfg.num_queues ? &p->q[p->queue_sel] : NULL;
}

static int queue_size_ok(const struct ustor_virtio_blk_model *m, uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0 && v <= m->cfg.queue_num_max;
}

/* MSI-X vector mapping: a vector outside the table reads back NO_VECTOR. */
static uint16_t msix_map(const struct ustor_virtio_blk_model *m, uint16_t v)
{
	return v < m->cfg.msix_vectors ? v : (uint16_t)VBM_NO_VECTOR;
}

static uint32_t notify_len(const struct ustor_virtio_blk_model *m)
{
	uint32_t len = m->cfg.notify_off_multiplier * m->cfg.num_queues;

	return len < 4 ? 4 : len;
}

/* ---- virtio-pci common configuration (4.1.4.3) ------------------------- */

static int common_dword_mixed(uint32_t off)
{
	return off == VBM_CC_MSIX_CONFIG || off == VBM_CC_STATUS ||
	       off == VBM_CC_Q_SIZE || off == VBM_CC_Q_ENABLE ||
	       off == VBM_CC_Q_NOTIFY_DATA || off == VBM_CC_ADMIN;
}

static uint32_t common_read(struct ustor_virtio_blk_model *m, uint32_t off,
			    int peek)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = sel_queue(m);

	if (!peek && m->strict_access_width && common_dword_mixed(off))
		ustor_vbm_violation(m, "32-bit read of common configuration "
				    "offset 0x%x spans several fields", off);
	switch (off) {
	case VBM_CC_DFSELECT:
		return p->dfsel;
	case VBM_CC_DF:
		return ustor_vbm_device_features(m, p->dfsel);
	case VBM_CC_GFSELECT:
		return p->gfsel;
	case VBM_CC_GF:
		return p->gfsel < 2 ? (uint32_t)(p->driver_features >>
						 (32 * p->gfsel))
				    : 0;
	case VBM_CC_MSIX_CONFIG:
		return p->config_msix_vector |
		       ((uint32_t)m->cfg.num_queues << 16);
	case VBM_CC_STATUS:
		return p->status | ((p->config_gen & 0xffu) << 8) |
		       ((p->queue_sel & 0xffffu) << 16);
	case VBM_CC_Q_SIZE:
		return q ? q->num | ((uint32_t)q->msix_vector << 16) : 0;
	case VBM_CC_Q_ENABLE:
		/* queue_notify_off of queue i is i */
		return q ? (uint32_t)q->enabled | (p->queue_sel << 16) : 0;
	case VBM_CC_Q_DESC:
		return q ? (uint32_t)q->desc : 0;
	case VBM_CC_Q_DESC + 4:
		return q ? (uint32_t)(q->desc >> 32) : 0;
	case VBM_CC_Q_DRIVER:
		return q ? (uint32_t)q->driver : 0;
	case VBM_CC_Q_DRIVER + 4:
		return q ? (uint32_t)(q->driver >> 32) : 0;
	case VBM_CC_Q_DEVICE:
		return q ? (uint32_t)q->device : 0;
	case VBM_CC_Q_DEVICE + 4:
		return q ? (uint32_t)(q->device >> 32) : 0;
	default:
		return 0; /* notify data, queue reset, admin queues: absent */
	}
}

static void set_half(uint64_t *v, int high, uint32_t half)
{
	if (high)
		*v = (*v & 0xffffffffull) | ((uint64_t)half << 32);
	else
		*v = (*v & 0xffffffff00000000ull) | half;
}

static void common_queue_addr(struct ustor_virtio_blk_model *m,
			      struct ustor_vbm_queue *q, uint32_t off,
			      uint32_t v)
{
	uint32_t base = off & ~7u;
	int high = (off & 4u) != 0;
	const char *name = base == VBM_CC_Q_DESC     ? "queue_desc"
			   : base == VBM_CC_Q_DRIVER ? "queue_driver"
						     : "queue_device";

	if (q->enabled) {
		ustor_vbm_violation(m, "%s of queue %u written while the "
				    "queue is enabled: ignored", name,
				    m->priv->queue_sel);
		return;
	}
	set_half(base == VBM_CC_Q_DESC ? &q->desc
		 : base == VBM_CC_Q_DRIVER ? &q->driver
					   : &q->device,
		 high, v);
}

static void common_write(struct ustor_virtio_blk_model *m, uint32_t off,
			 uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = sel_queue(m);
	uint16_t lo = (uint16_t)v, hi = (uint16_t)(v >> 16);

	if (m->strict_access_width && common_dword_mixed(off))
		ustor_vbm_violation(m, "32-bit write of common configuration "
				    "offset 0x%x spans several fields", off);
	switch (off) {
	case VBM_CC_DFSELECT:
		p->dfsel = v;
		return;
	case VBM_CC_GFSELECT:
		p->gfsel = v;
		return;
	case VBM_CC_GF:
		ustor_vbm_driver_features_write(m, p->gfsel, v);
		return;
	case VBM_CC_MSIX_CONFIG:
		if (lo != p->config_msix_vector)
			p->config_msix_vector = msix_map(m, lo);
		return; /* num_queues lanes: read-only */
	case VBM_CC_STATUS:
		if ((uint8_t)v != p->status)
			ustor_vbm_status_write(m, (uint8_t)v);
		p->queue_sel = hi; /* config_generation lane: read-only */
		return;
	default:
		break;
	}
	if (off == VBM_CC_DF || off == VBM_CC_ADMIN ||
	    (off == VBM_CC_Q_NOTIFY_DATA && hi != 0)) {
		ustor_vbm_violation(m, "write 0x%08x to read-only common "
				    "configuration offset 0x%x", v, off);
		return;
	}
	if (off == VBM_CC_Q_NOTIFY_DATA)
		return;
	if (!q) {
		ustor_vbm_violation(m, "common configuration write 0x%08x at "
				    "0x%x for queue %u: no such queue", v, off,
				    p->queue_sel);
		return;
	}
	switch (off) {
	case VBM_CC_Q_SIZE:
		if (lo != q->num) {
			if (q->enabled)
				ustor_vbm_violation(m, "queue_size of queue %u "
						    "written while enabled: "
						    "ignored", p->queue_sel);
			else if (!queue_size_ok(m, lo))
				ustor_vbm_violation(m, "queue_size %u for queue "
						    "%u: not a power of two "
						    "in 1..%u: ignored", lo,
						    p->queue_sel,
						    m->cfg.queue_num_max);
			else
				q->num = lo;
		}
		if (hi != q->msix_vector)
			q->msix_vector = msix_map(m, hi);
		return;
	case VBM_CC_Q_ENABLE:
		if (lo == 1) {
			if (!q->enabled)
				ustor_vbm_queue_enable(m,
						       (uint16_t)p->queue_sel);
		} else {
			ustor_vbm_violation(m, "queue_enable of queue %u "
					    "written with %u (only 1 is "
					    "allowed): ignored", p->queue_sel,
					    lo);
		}
		return; /* queue_notify_off lanes: read-only */
	case VBM_CC_Q_DESC:
	case VBM_CC_Q_DESC + 4:
	case VBM_CC_Q_DRIVER:
	case VBM_CC_Q_DRIVER + 4:
	case VBM_CC_Q_DEVICE:
	case VBM_CC_Q_DEVICE + 4:
		common_queue_addr(m, q, off, v);
		return;
	default:
		return;
	}
}

/* ---- The BAR ----------------------------------------------------------- */

static void notify_write(struct ustor_virtio_blk_model *m, uint32_t rel,
			 uint32_t v)
{
	uint32_t mult = m->cfg.notify_off_multiplier;
	uint32_t q = v & 0xffffu;

	if (mult) {
		uint32_t at = rel / mult;

		if (rel % mult) {
			ustor_vbm_violation(m, "notification write at 0x%x: "
					    "not a queue's notify address",
					    VBM_BAR_NOTIFY + rel);
			return;
		}
		if (at != q)
			ustor_vbm_violation(m, "notification value %u written "
					    "at queue %u's address", q, at);
		q = at; /* the address decides */
	}
	ustor_vbm_notify(m, q);
}

static uint32_t bar_access_read(struct ustor_virtio_blk_model *m, uint32_t off,
				int peek)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t tab = (uint32_t)m->cfg.msix_vectors * VBM_MSIX_ENTRY_SIZE;

	if (off < VBM_BAR_COMMON + VBM_BAR_COMMON_LEN)
		return common_read(m, off - VBM_BAR_COMMON, peek);
	if (off == VBM_BAR_ISR)
		return peek ? p->isr : ustor_vbm_isr_read(m, 1);
	if (off >= VBM_BAR_DEVCFG && off < VBM_BAR_DEVCFG + VBM_CFG_SIZE) {
		if (peek) {
			unsigned churn = m->config_gen_churn;
			int strict = m->strict_access_width;
			uint32_t v;

			m->config_gen_churn = 0;
			m->strict_access_width = 0;
			v = ustor_vbm_config_read(m, off - VBM_BAR_DEVCFG);
			m->config_gen_churn = churn;
			m->strict_access_width = strict;
			return v;
		}
		return ustor_vbm_config_read(m, off - VBM_BAR_DEVCFG);
	}
	if (off >= VBM_BAR_NOTIFY && off < VBM_BAR_NOTIFY + notify_len(m)) {
		if (!peek)
			ustor_vbm_violation(m, "read of notification address "
					    "0x%x", off);
		return 0;
	}
	if (off >= VBM_BAR_MSIX_TABLE && off < VBM_BAR_MSIX_TABLE + tab)
		return vbm_get32(0, p->msix_table + (off - VBM_BAR_MSIX_TABLE));
	if (off == VBM_BAR_MSIX_PBA)
		return (uint32_t)p->msix_pba;
	if (off == VBM_BAR_MSIX_PBA + 4)
		return (uint32_t)(p->msix_pba >> 32);
	if (!peek)
		ustor_vbm_violation(m, "BAR read at 0x%x: no structure there",
				    off);
	return 0;
}

static void bar_access_write(struct ustor_virtio_blk_model *m, uint32_t off,
			     uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t tab = (uint32_t)m->cfg.msix_vectors * VBM_MSIX_ENTRY_SIZE;

	if (off < VBM_BAR_COMMON + VBM_BAR_COMMON_LEN) {
		common_write(m, off - VBM_BAR_COMMON, v);
	} else if (off >= VBM_BAR_DEVCFG &&
		   off < VBM_BAR_DEVCFG + VBM_CFG_SIZE) {
		ustor_vbm_config_write(m, off - VBM_BAR_DEVCFG, v);
	} else if (off >= VBM_BAR_NOTIFY &&
		   off < VBM_BAR_NOTIFY + notify_len(m)) {
		notify_write(m, off - VBM_BAR_NOTIFY, v);
	} else if (off >= VBM_BAR_MSIX_TABLE &&
		   off < VBM_BAR_MSIX_TABLE + tab) {
		vbm_put32(0, p->msix_table + (off - VBM_BAR_MSIX_TABLE), v);
		ustor_vbm_msix_unmasked(m);
	} else {
		ustor_vbm_violation(m, "BAR write 0x%08x at 0x%x: read-only "
				    "or no structure there", v, off);
	}
}

uint32_t ustor_vbm_bar_read(void *dev, uint32_t off)
{
	struct ustor_virtio_blk_model *m = dev;

	if (m->gone)
		return 0xffffffffu;

	if (!(m->priv->pci_cmd & VBM_PCI_CMD_MSE)) {
		ustor_vbm_violation(m, "BAR read at 0x%x with PCI Memory "
				    "Space Enable off", off);
		return 0xffffffffu;
	}
	return bar_access_read(m, off, 0);
}

void ustor_vbm_bar_write(void *dev, uint32_t off, uint32_t v)
{
	struct ustor_virtio_blk_model *m = dev;

	if (!(m->priv->pci_cmd & VBM_PCI_CMD_MSE)) {
		ustor_vbm_violation(m, "BAR write 0x%08x at 0x%x with PCI "
				    "Memory Space Enable off", v, off);
		return;
	}
	bar_access_write(m, off, v);
}

/* 8/16-bit BAR access (the HAL's mmio_read8/16, mmio_write8/16). The
 * model decodes by byte lanes, so a narrow access is its dword with the
 * other lanes unchanged; it is of the field's own width, so
 * strict_access_width has nothing to report. The ISR byte is read (and
 * cleared) for real; a 16-bit notification is the queue index. */
static uint32_t bar_narrow_read(void *dev, uint32_t off, uint32_t width)
{
	struct ustor_virtio_blk_model *m = dev;
	uint32_t v;

	if (m->gone)
		return width == 1 ? 0xffu : 0xffffu;

	if (!(m->priv->pci_cmd & VBM_PCI_CMD_MSE)) {
		ustor_vbm_violation(m, "%u-byte BAR read at 0x%x with PCI "
				    "Memory Space Enable off", width, off);
		return 0xffffu;
	}
	if (off == VBM_BAR_ISR)
		v = ustor_vbm_isr_read(m, 1);
	else if (off < VBM_BAR_COMMON + VBM_BAR_COMMON_LEN)
		v = common_read(m, (off & ~3u) - VBM_BAR_COMMON, 1);
	else
		v = bar_access_read(m, off & ~3u, 0);
	return v >> ((off & 3u) * 8u);
}

static void bar_narrow_write(void *dev, uint32_t off, uint32_t width,
			     uint32_t val)
{
	struct ustor_virtio_blk_model *m = dev;
	uint32_t sh = (off & 3u) * 8u;
	uint32_t mask = (width == 1 ? 0xffu : 0xffffu) << sh;
	int strict = m->strict_access_width;
	uint32_t cur;

	if (!(m->priv->pci_cmd & VBM_PCI_CMD_MSE)) {
		ustor_vbm_violation(m, "%u-byte BAR write 0x%x at 0x%x with "
				    "PCI Memory Space Enable off", width, val,
				    off);
		return;
	}
	if (off >= VBM_BAR_NOTIFY && off < VBM_BAR_NOTIFY + notify_len(m)) {
		notify_write(m, off - VBM_BAR_NOTIFY, val);
		return;
	}
	cur = bar_access_read(m, off & ~3u, 1);
	m->strict_access_width = 0;
	bar_access_write(m, off & ~3u, (cur & ~mask) | ((val << sh) & mask));
	m->strict_access_width = strict;
}

uint8_t ustor_vbm_bar_read8(void *dev, uint32_t off)
{
	return (uint8_t)bar_narrow_read(dev, off, 1);
}

uint16_t ustor_vbm_bar_read16(void *dev, uint32_t off)
{
	return (uint16_t)bar_narrow_read(dev, off, 2);
}

void ustor_vbm_bar_write8(void *dev, uint32_t off, uint8_t v)
{
	bar_narrow_write(dev, off, 1, v);
}

void ustor_vbm_bar_write16(void *dev, uint32_t off, uint16_t v)
{
	bar_narrow_write(dev, off, 2, v);
}

/* ---- PCI configuration space ----------------------------------------- */

/* Dword 0 of a virtio vendor capability. */
static uint32_t vcap0(uint32_t next, uint32_t len, uint32_t type)
{
	return VBM_PCI_CAP_ID_VNDR | (next << 8) | (len << 16) | (type << 24);
}

/* Dwords 1..3 of a virtio capability: bar, offset, length. */
static uint32_t vcap_body(uint32_t rel, uint32_t offset, uint32_t length)
{
	if (rel == 4)
		return VBM_BAR_INDEX;
	if (rel == 8)
		return offset;
	return length;
}

static int pcicfg_window_ok(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t len = p->pcicfg_len, off = p->pcicfg_off;

	if (p->pcicfg_bar != VBM_BAR_INDEX ||
	    (len != 1 && len != 2 && len != 4) || off % len ||
	    off >= VBM_BAR_SIZE) {
		ustor_vbm_violation(m, "pci_cfg_data access with bar %u, "
				    "offset 0x%x, length %u", p->pcicfg_bar,
				    off, len);
		return 0;
	}
	return 1;
}

/* VIRTIO_PCI_CAP_PCI_CFG: a read of pci_cfg_data reads the BAR. */
static uint32_t pcicfg_data_read(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t off = p->pcicfg_off, sh, v;

	if (p->pcicfg_len == 0) /* never set up: a plain capability dump */
		return vbm_get32(0, p->pcicfg_data);
	if (!pcicfg_window_ok(m))
		return 0;
	sh = (off & 3u) * 8;
	v = bar_access_read(m, off & ~3u, 0) >> sh;
	memset(p->pcicfg_data, 0, sizeof(p->pcicfg_data));
	for (uint32_t i = 0; i < p->pcicfg_len; i++)
		p->pcicfg_data[i] = (uint8_t)(v >> (8 * i));
	return vbm_get32(0, p->pcicfg_data);
}

/* A write of pci_cfg_data writes its first cap.length bytes to the BAR:
 * the other lanes of the dword keep their current value. */
static void pcicfg_data_write(struct ustor_virtio_blk_model *m, uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t off = p->pcicfg_off, sh, mask, cur;

	vbm_put32(0, p->pcicfg_data, v);
	if (!pcicfg_window_ok(m))
		return;
	if (p->pcicfg_len == 4) {
		bar_access_write(m, off, v);
		return;
	}
	sh = (off & 3u) * 8;
	mask = (p->pcicfg_len == 1 ? 0xffu : 0xffffu) << sh;
	cur = bar_access_read(m, off & ~3u, 1);
	bar_access_write(m, off & ~3u, (cur & ~mask) | ((v << sh) & mask));
}

static uint32_t pci_cap_read(struct ustor_virtio_blk_model *m, uint16_t off)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t rel;

	if (off >= VBM_PCFG_CAP_MSIX) {
		rel = off - VBM_PCFG_CAP_MSIX;
		if (rel == 0)
			return VBM_PCI_CAP_ID_MSIX |
			       ((uint32_t)(p->msix_ctrl |
					   (m->cfg.msix_vectors - 1u))
				<< 16);
		if (rel == 4)
			return VBM_BAR_MSIX_TABLE | VBM_BAR_INDEX;
		if (rel == 8)
			return VBM_BAR_MSIX_PBA | VBM_BAR_INDEX;
		return 0;
	}
	if (off >= VBM_PCFG_CAP_PCICFG) {
		rel = off - VBM_PCFG_CAP_PCICFG;
		if (rel == 0)
			return vcap0(VBM_PCFG_CAP_MSIX, 20,
				     VBM_PCI_CAP_PCI_CFG);
		if (rel == 4)
			return p->pcicfg_bar;
		if (rel == 8)
			return p->pcicfg_off;
		if (rel == 12)
			return p->pcicfg_len;
		return pcicfg_data_read(m);
	}
	if (off >= VBM_PCFG_CAP_DEVICE) {
		rel = off - VBM_PCFG_CAP_DEVICE;
		return rel == 0 ? vcap0(VBM_PCFG_CAP_PCICFG, 16,
					VBM_PCI_CAP_DEVICE_CFG)
				: vcap_body(rel, VBM_BAR_DEVCFG, VBM_CFG_SIZE);
	}
	if (off >= VBM_PCFG_CAP_ISR) {
		rel = off - VBM_PCFG_CAP_ISR;
		return rel == 0 ? vcap0(VBM_PCFG_CAP_DEVICE, 16,
					VBM_PCI_CAP_ISR_CFG)
				: vcap_body(rel, VBM_BAR_ISR, VBM_BAR_ISR_LEN);
	}
	if (off >= VBM_PCFG_CAP_NOTIFY) {
		rel = off - VBM_PCFG_CAP_NOTIFY;
		if (rel == 0)
			return vcap0(VBM_PCFG_CAP_ISR, 20,
				     VBM_PCI_CAP_NOTIFY_CFG);
		if (rel == 16)
			return m->cfg.notify_off_multiplier;
		return vcap_body(rel, VBM_BAR_NOTIFY, notify_len(m));
	}
	rel = off - VBM_PCFG_CAP_COMMON;
	return rel == 0 ? vcap0(VBM_PCFG_CAP_NOTIFY, 16,
				VBM_PCI_CAP_COMMON_CFG)
			: vcap_body(rel, VBM_BAR_COMMON, VBM_BAR_COMMON_LEN);
}

uint32_t ustor_vbm_pci_read(void *dev, uint32_t pci_addr, uint16_t off)
{
	struct ustor_virtio_blk_model *m = dev;
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t status = VBM_PCI_STATUS_CAP_LIST;

	if (pci_addr != m->cfg.pci_addr)
		return 0xffffffffu; /* no function there */
	if (off >= VBM_PCFG_CAP_COMMON && off < VBM_PCFG_CAP_MSIX + 12)
		return pci_cap_read(m, off);
	switch (off) {
	case 0x00:
		return VBM_PCI_VENDOR | (VBM_PCI_DEVICE << 16);
	case 0x04:
		if (p->isr && !(p->msix_ctrl & VBM_MSIX_CTRL_ENABLE))
			status |= VBM_PCI_STATUS_INTX;
		return p->pci_cmd | (status << 16);
	case 0x08: /* class 01/subclass, prog-if 0, revision 1 */
		return VBM_PCI_REVISION | ((uint32_t)m->cfg.pci_subclass << 16) |
		       (0x01u << 24);
	case 0x20: /* BAR4: 64-bit prefetchable memory, low half */
		return p->bar_lo;
	case 0x24:
		return p->bar_hi;
	case 0x2c:
		return m->cfg.subsys_vendor |
		       ((uint32_t)m->cfg.subsys_id << 16);
	case 0x34:
		return VBM_PCFG_CAP_COMMON;
	case 0x3c:
		return p->pci_int_line | (1u << 8); /* INTA# */
	default:
		return 0;
	}
}

void ustor_vbm_pci_write(void *dev, uint32_t pci_addr, uint16_t off, uint32_t v)
{
	struct ustor_virtio_blk_model *m = dev;
	struct ustor_virtio_blk_model_priv *p = m->priv;

	if (pci_addr != m->cfg.pci_addr)
		return;
	switch (off) {
	case 0x04:
		p->pci_cmd = (uint16_t)(v & VBM_PCI_CMD_RW_MASK);
		return;
	case 0x20: /* sized by its mask: the low bits are the type */
		p->bar_lo = (v & ~(VBM_BAR_SIZE - 1u)) | 0xcu;
		return;
	case 0x24:
		p->bar_hi = v;
		return;
	case 0x3c:
		p->pci_int_line = (uint8_t)v;
		return;
	case VBM_PCFG_CAP_MSIX:
		p->msix_ctrl = (uint16_t)((v >> 16) & (VBM_MSIX_CTRL_ENABLE |
						       VBM_MSIX_CTRL_MASKALL));
		ustor_vbm_msix_unmasked(m);
		return;
	case VBM_PCFG_CAP_PCICFG + 4:
		p->pcicfg_bar = (uint8_t)v;
		return;
	case VBM_PCFG_CAP_PCICFG + 8:
		p->pcicfg_off = v;
		return;
	case VBM_PCFG_CAP_PCICFG + 12:
		p->pcicfg_len = v;
		return;
	case VBM_PCFG_CAP_PCICFG + 16:
		pcicfg_data_write(m, v);
		return;
	default:
		break;
	}
	if (off >= VBM_PCFG_CAP_COMMON && off < VBM_PCFG_CAP_MSIX + 12)
		ustor_vbm_violation(m, "PCI write 0x%08x into virtio "
				    "capability dword 0x%x", v, off);
	/* anything else: read-only or unimplemented, ignored */
}

/* ---- virtio-mmio (4.2.2, 4.2.4) ----------------------------------------- */

static int mmio_write_only(uint32_t off, int legacy)
{
	switch (off) {
	case VBM_MMIO_DEVICE_FEATURES_SEL:
	case VBM_MMIO_DRIVER_FEATURES:
	case VBM_MMIO_DRIVER_FEATURES_SEL:
	case VBM_MMIO_QUEUE_SEL:
	case VBM_MMIO_QUEUE_NUM:
	case VBM_MMIO_QUEUE_NOTIFY:
	case VBM_MMIO_INTERRUPT_ACK:
		return 1;
	case VBM_MMIO_GUEST_PAGE_SIZE:
	case VBM_MMIO_QUEUE_ALIGN:
		return legacy;
	case VBM_MMIO_QUEUE_DESC_LOW:
	case VBM_MMIO_QUEUE_DESC_HIGH:
	case VBM_MMIO_QUEUE_DRIVER_LOW:
	case VBM_MMIO_QUEUE_DRIVER_HIGH:
	case VBM_MMIO_QUEUE_DEVICE_LOW:
	case VBM_MMIO_QUEUE_DEVICE_HIGH:
		return !legacy;
	default:
		return 0;
	}
}

uint32_t ustor_vbm_mmio_read(void *dev, uint32_t off)
{
	struct ustor_virtio_blk_model *m = dev;
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = sel_queue(m);
	int legacy = p->legacy;

	if (m->gone)
		return 0xffffffffu;
	if (off >= VBM_MMIO_CONFIG)
		return ustor_vbm_config_read(m, off - VBM_MMIO_CONFIG);
	switch (off) {
	case VBM_MMIO_MAGIC:
		return VBM_MMIO_MAGIC_VALUE;
	case VBM_MMIO_VERSION:
		return legacy ? 1u : 2u;
	case VBM_MMIO_DEVICE_ID:
		return VBM_DEVICE_ID_BLOCK;
	case VBM_MMIO_VENDOR_ID:
		return m->cfg.vendor_id;
	case VBM_MMIO_DEVICE_FEATURES:
		if (!p->dfsel_written)
			ustor_vbm_violation(m, "DeviceFeatures read before "
					    "DeviceFeaturesSel was written");
		return ustor_vbm_device_features(m, p->dfsel);
	case VBM_MMIO_QUEUE_NUM_MAX:
		if (legacy && q && q->pfn)
			ustor_vbm_violation(m, "QueueNumMax read while queue "
					    "%u is in use (QueuePFN != 0)",
					    p->queue_sel);
		return q ? m->cfg.queue_num_max : 0;
	case VBM_MMIO_INTERRUPT_STATUS:
		return ustor_vbm_isr_read(m, 0);
	case VBM_MMIO_STATUS:
		return p->status;
	default:
		break;
	}
	if (legacy && off == VBM_MMIO_QUEUE_PFN)
		return q ? q->pfn : 0;
	if (!legacy && off == VBM_MMIO_QUEUE_READY)
		return q ? (uint32_t)q->enabled : 0;
	if (!legacy && off == VBM_MMIO_CONFIG_GENERATION)
		return p->config_gen;
	if (mmio_write_only(off, legacy))
		ustor_vbm_violation(m, "read of write-only register 0x%03x",
				    off);
	else
		ustor_vbm_violation(m, "read of undefined register 0x%03x",
				    off);
	return 0;
}

/* Legacy QueuePFN: the queue's pages, in the legacy layout (2.7.2). */
static void mmio_queue_pfn(struct ustor_virtio_blk_model *m,
			   struct ustor_vbm_queue *q, uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint64_t page = p->guest_page_size, base, avail_end;

	if (v == 0) {
		if (q->pfn)
			ustor_vbm_queue_disable(m, (uint16_t)p->queue_sel);
		q->pfn = 0;
		return;
	}
	if (q->pfn) {
		ustor_vbm_violation(m, "QueuePFN of queue %u written while in "
				    "use: ignored", p->queue_sel);
		return;
	}
	if (page == 0) {
		ustor_vbm_violation(m, "QueuePFN written before GuestPageSize: "
				    "assuming 4096");
		page = 4096;
	}
	base = (uint64_t)v * page;
	avail_end = base + VBM_DESC_SIZE * (uint64_t)q->num + 6u +
		    2u * (uint64_t)q->num;
	q->pfn = v;
	q->desc = base;
	q->driver = base + VBM_DESC_SIZE * (uint64_t)q->num;
	q->device = (avail_end + q->align - 1) & ~((uint64_t)q->align - 1);
	ustor_vbm_queue_enable(m, (uint16_t)p->queue_sel);
}

static void mmio_queue_write(struct ustor_virtio_blk_model *m,
			     struct ustor_vbm_queue *q, uint32_t off,
			     uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	int busy = p->legacy ? q->pfn != 0 : q->enabled;

	switch (off) {
	case VBM_MMIO_QUEUE_NUM:
		if (busy)
			ustor_vbm_violation(m, "QueueNum of queue %u written "
					    "while in use: ignored",
					    p->queue_sel);
		else if (!queue_size_ok(m, v))
			ustor_vbm_violation(m, "QueueNum %u for queue %u: not "
					    "a power of two in 1..%u: ignored",
					    v, p->queue_sel,
					    m->cfg.queue_num_max);
		else
			q->num = (uint16_t)v;
		return;
	case VBM_MMIO_QUEUE_ALIGN:
		if (busy || v == 0 || (v & (v - 1)))
			ustor_vbm_violation(m, "QueueAlign %u for queue %u: "
					    "%s: ignored", v, p->queue_sel,
					    busy ? "queue in use"
						 : "not a power of two");
		else
			q->align = v;
		return;
	case VBM_MMIO_QUEUE_PFN:
		mmio_queue_pfn(m, q, v);
		return;
	case VBM_MMIO_QUEUE_READY:
		if (v == 1 && !q->enabled)
			ustor_vbm_queue_enable(m, (uint16_t)p->queue_sel);
		else if (v == 0 && q->enabled)
			ustor_vbm_queue_disable(m, (uint16_t)p->queue_sel);
		else if (v > 1)
			ustor_vbm_violation(m, "QueueReady written with %u",
					    v);
		return;
	default:
		break;
	}
	if (busy) {
		ustor_vbm_violation(m, "queue %u address register 0x%03x "
				    "written while ready: ignored",
				    p->queue_sel, off);
		return;
	}
	switch (off) {
	case VBM_MMIO_QUEUE_DESC_LOW:
	case VBM_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc, off == VBM_MMIO_QUEUE_DESC_HIGH, v);
		return;
	case VBM_MMIO_QUEUE_DRIVER_LOW:
	case VBM_MMIO_QUEUE_DRIVER_HIGH:
		set_half(&q->driver, off == VBM_MMIO_QUEUE_DRIVER_HIGH, v);
		return;
	default:
		set_half(&q->device, off == VBM_MMIO_QUEUE_DEVICE_HIGH, v);
		return;
	}
}

static int mmio_queue_reg(uint32_t off, int legacy)
{
	switch (off) {
	case VBM_MMIO_QUEUE_NUM:
		return 1;
	case VBM_MMIO_QUEUE_ALIGN:
	case VBM_MMIO_QUEUE_PFN:
		return legacy;
	case VBM_MMIO_QUEUE_READY:
	case VBM_MMIO_QUEUE_DESC_LOW:
	case VBM_MMIO_QUEUE_DESC_HIGH:
	case VBM_MMIO_QUEUE_DRIVER_LOW:
	case VBM_MMIO_QUEUE_DRIVER_HIGH:
	case VBM_MMIO_QUEUE_DEVICE_LOW:
	case VBM_MMIO_QUEUE_DEVICE_HIGH:
		return !legacy;
	default:
		return 0;
	}
}

void ustor_vbm_mmio_write(void *dev, uint32_t off, uint32_t v)
{
	struct ustor_virtio_blk_model *m = dev;
	struct ustor_virtio_blk_model_priv *p = m->priv;
	int legacy = p->legacy;

	if (off >= VBM_MMIO_CONFIG) {
		ustor_vbm_config_write(m, off - VBM_MMIO_CONFIG, v);
		return;
	}
	if (mmio_queue_reg(off, legacy)) {
		struct ustor_vbm_queue *q = sel_queue(m);

		if (!q)
			ustor_vbm_violation(m, "write 0x%x to register 0x%03x "
					    "for queue %u: no such queue", v,
					    off, p->queue_sel);
		else
			mmio_queue_write(m, q, off, v);
		return;
	}
	switch (off) {
	case VBM_MMIO_DEVICE_FEATURES_SEL:
		p->dfsel = v;
		p->dfsel_written = 1;
		return;
	case VBM_MMIO_DRIVER_FEATURES:
		if (!p->gfsel_written)
			ustor_vbm_violation(m, "DriverFeatures written before "
					    "DriverFeaturesSel");
		ustor_vbm_driver_features_write(m, p->gfsel, v);
		return;
	case VBM_MMIO_DRIVER_FEATURES_SEL:
		p->gfsel = v;
		p->gfsel_written = 1;
		return;
	case VBM_MMIO_QUEUE_SEL:
		p->queue_sel = v;
		return;
	case VBM_MMIO_QUEUE_NOTIFY:
		ustor_vbm_notify(m, v & 0xffffu);
		return;
	case VBM_MMIO_INTERRUPT_ACK:
		if (v & ~(uint32_t)(VBM_ISR_QUEUE | VBM_ISR_CONFIG))
			ustor_vbm_violation(m, "InterruptACK 0x%x sets "
					    "undefined bits", v);
		p->isr &= (uint8_t)~v;
		return;
	case VBM_MMIO_STATUS:
		if (v > 0xffu)
			ustor_vbm_violation(m, "Status written with 0x%x", v);
		ustor_vbm_status_write(m, (uint8_t)v);
		return;
	default:
		break;
	}
	if (legacy && off == VBM_MMIO_GUEST_PAGE_SIZE) {
		if (v == 0 || (v & (v - 1)))
			ustor_vbm_violation(m, "GuestPageSize %u: not a power "
					    "of two: ignored", v);
		else
			p->guest_page_size = v;
		return;
	}
	switch (off) {
	case VBM_MMIO_MAGIC:
	case VBM_MMIO_VERSION:
	case VBM_MMIO_DEVICE_ID:
	case VBM_MMIO_VENDOR_ID:
	case VBM_MMIO_DEVICE_FEATURES:
	case VBM_MMIO_QUEUE_NUM_MAX:
	case VBM_MMIO_INTERRUPT_STATUS:
		ustor_vbm_violation(m, "write 0x%x to read-only register "
				    "0x%03x", v, off);
		return;
	default:
		ustor_vbm_violation(m, "write 0x%x to undefined register "
				    "0x%03x", v, off);
		return;
	}
}
