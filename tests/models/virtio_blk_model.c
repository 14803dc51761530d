/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk model: device status, feature negotiation, device
 * configuration space, interrupts and the public API (VIRTIO 1.2 sections
 * 2.1, 2.2, 2.5, 3.1, 5.2).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_blk_model_int.h"

#define VBM_ALL_STATUS                                                         \
	(VBM_S_ACK | VBM_S_DRIVER | VBM_S_DRIVER_OK | VBM_S_FEATURES_OK |      \
	 VBM_S_NEEDS_RESET | VBM_S_FAILED)

/* ---- Violations, mapping, small helpers -------------------------------- */

void ustor_vbm_violation(struct ustor_virtio_blk_model *m, const char *fmt, ...)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	char line[320];
	int n = snprintf(line, sizeof(line), "[t=%llu ns] ",
			 (unsigned long long)ustor_test_hal_time(m->h));
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	len = strlen(line);
	m->host_violations++;
	if (m->h->verbose)
		fprintf(stderr, "virtio-blk model: host violation: %s\n", line);
	if (p->viol_len + len + 2 > p->viol_cap) {
		size_t cap = (p->viol_cap ? p->viol_cap * 2 : 1024) + len;
		char *nv = realloc(p->viol, cap);

		if (!nv)
			return; /* counted, text lost */
		p->viol = nv;
		p->viol_cap = cap;
	}
	memcpy(p->viol + p->viol_len, line, len);
	p->viol_len += len;
	p->viol[p->viol_len++] = '\n';
	p->viol[p->viol_len] = '\0';
}

uint8_t *ustor_vbm_map(struct ustor_virtio_blk_model *m, uint64_t bus,
		       size_t len, const char *what)
{
	uint8_t *h = ustor_test_hal_bus_to_virt(m->h, bus, len);

	if (!h)
		ustor_vbm_violation(m, "DMA to unmapped bus range 0x%llx+%zu "
				    "(%s)", (unsigned long long)bus, len, what);
	return h;
}

int ustor_vbm_modern(const struct ustor_virtio_blk_model *m)
{
	return !m->priv->legacy;
}

int ustor_vbm_has(const struct ustor_virtio_blk_model *m, uint64_t feature)
{
	return (m->priv->negotiated & feature) != 0;
}

void ustor_vbm_set_broken(struct ustor_virtio_blk_model *m, const char *why)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	if (p->broken)
		return;
	if (m->h->verbose)
		fprintf(stderr, "virtio-blk model: device broken: %s\n", why);
	p->broken = 1;
	if (ustor_vbm_has(m, VBM_F_VERSION_1)) {
		p->status |= VBM_S_NEEDS_RESET;
		ustor_vbm_signal_config(m);
	}
}

/* ---- Interrupts ------------------------------------------------------ */

static int msix_enabled(const struct ustor_virtio_blk_model *m)
{
	return m->cfg.transport == USTOR_VIRTIO_BLK_MODEL_PCI &&
	       (m->priv->msix_ctrl & VBM_MSIX_CTRL_ENABLE);
}

static int msix_masked(const struct ustor_virtio_blk_model *m, uint16_t v)
{
	const struct ustor_virtio_blk_model_priv *p = m->priv;
	const uint8_t *e = p->msix_table + (size_t)v * VBM_MSIX_ENTRY_SIZE;

	return (p->msix_ctrl & VBM_MSIX_CTRL_MASKALL) ||
	       (vbm_get32(0, e + 12) & 1u);
}

static void msix_fire(struct ustor_virtio_blk_model *m, uint16_t v)
{
	if (v >= m->cfg.msix_vectors)
		return;
	if (msix_masked(m, v)) {
		m->priv->msix_pba |= 1ull << v;
		m->msix_masked++;
		return;
	}
	m->msix_messages[v]++;
}

void ustor_vbm_msix_unmasked(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	if (!msix_enabled(m))
		return;
	for (uint16_t v = 0; v < m->cfg.msix_vectors; v++) {
		if (!(p->msix_pba & (1ull << v)) || msix_masked(m, v))
			continue;
		p->msix_pba &= ~(1ull << v);
		m->msix_messages[v]++;
	}
}

void ustor_vbm_signal_queue(struct ustor_virtio_blk_model *m, uint16_t q)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	p->isr |= VBM_ISR_QUEUE;
	if (msix_enabled(m)) {
		if (p->q[q].msix_vector == VBM_NO_VECTOR) {
			m->used_suppressed++;
			return;
		}
		msix_fire(m, p->q[q].msix_vector);
	}
	m->used_notifications++;
}

void ustor_vbm_signal_config(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	p->isr |= VBM_ISR_CONFIG;
	m->config_notifications++;
	if (msix_enabled(m) && p->config_msix_vector != VBM_NO_VECTOR)
		msix_fire(m, p->config_msix_vector);
}

uint8_t ustor_vbm_isr_read(struct ustor_virtio_blk_model *m, int clear)
{
	uint8_t v = m->priv->isr;

	m->isr_reads++;
	if (clear)
		m->priv->isr = 0;
	return v;
}

/* ---- Features (2.2, 6) -------------------------------------------------- */

uint32_t ustor_vbm_device_features(const struct ustor_virtio_blk_model *m,
				   uint32_t sel)
{
	if (sel >= 2 || (m->priv->legacy && sel != 0))
		return 0;
	return (uint32_t)(m->priv->offered >> (32 * sel));
}

/* writeback after negotiation, as QEMU decides it (see the header). */
static void writeback_policy(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	if (!ustor_vbm_has(m, VBM_F_CONFIG_WCE))
		p->writeback = ustor_vbm_has(m, VBM_F_FLUSH) ? 1 : 0;
	else if (!ustor_vbm_has(m, VBM_F_FLUSH))
		p->writeback = 0;
}

void ustor_vbm_driver_features_write(struct ustor_virtio_blk_model *m,
				     uint32_t sel, uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint64_t word;

	if (p->status & VBM_S_DRIVER_OK) {
		ustor_vbm_violation(m, "driver features written after "
				    "DRIVER_OK: ignored");
		return;
	}
	if (!p->legacy && (p->status & VBM_S_FEATURES_OK)) {
		ustor_vbm_violation(m, "driver features written after "
				    "FEATURES_OK: ignored");
		return;
	}
	if (!p->legacy && !(p->status & VBM_S_DRIVER))
		ustor_vbm_violation(m, "driver features written before the "
				    "DRIVER status bit");
	if (sel >= 2 || (p->legacy && sel != 0)) {
		if (v)
			ustor_vbm_violation(m, "driver accepted feature bits "
					    "0x%08x in word %u, never offered",
					    v, sel);
		return;
	}
	word = (uint64_t)0xffffffffu << (32 * sel);
	p->driver_features = (p->driver_features & ~word) |
			     ((uint64_t)v << (32 * sel));
	if (p->legacy) {
		/* No FEATURES_OK step: features apply as written. */
		if ((uint64_t)v << (32 * sel) & ~p->offered)
			ustor_vbm_violation(m, "driver accepted features "
					    "0x%llx the device did not offer",
					    (unsigned long long)(((uint64_t)v
						<< (32 * sel)) & ~p->offered));
		p->negotiated = p->driver_features & p->offered;
	}
}

static void features_ok(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint64_t drv = p->driver_features;
	int refuse = m->refuse_features;

	if (!p->legacy) {
		if (drv & ~p->offered) {
			ustor_vbm_violation(m, "FEATURES_OK with features "
					    "0x%llx the device did not offer",
					    (unsigned long long)(drv &
								 ~p->offered));
			refuse = 1;
		}
		if ((p->offered & VBM_F_VERSION_1) &&
		    !(drv & VBM_F_VERSION_1)) {
			ustor_vbm_violation(m, "FEATURES_OK without "
					    "VIRTIO_F_VERSION_1 accepted");
			refuse = 1;
		}
	}
	if (refuse) {
		p->status &= (uint8_t)~VBM_S_FEATURES_OK;
		m->features_ok_refused++;
		return;
	}
	m->features_ok_accepted++;
	if (!p->legacy) {
		p->negotiated = drv;
		writeback_policy(m);
	}
}

/* ---- Device status (2.1, 3.1) ------------------------------------------ */

static void device_reset(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	ustor_vbm_queues_reset(m);
	p->status = 0;
	p->isr = 0;
	p->driver_features = 0;
	p->negotiated = 0;
	p->dfsel = p->gfsel = 0;
	p->dfsel_written = p->gfsel_written = 0;
	p->queue_sel = 0;
	p->config_msix_vector = VBM_NO_VECTOR;
	p->broken = 0;
	p->writeback = m->cfg.writeback;
	for (unsigned i = 0; i < USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES; i++) {
		struct ustor_vbm_queue *q = &p->q[i];

		q->num = m->cfg.queue_num_max;
		q->enabled = 0;
		q->desc = q->driver = q->device = 0;
		q->msix_vector = VBM_NO_VECTOR;
		q->pfn = 0;
		q->align = 4096;
		q->last_avail = q->used_idx = 0;
	}
}

void ustor_vbm_status_write(struct ustor_virtio_blk_model *m, uint8_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint8_t old = p->status, added, keep = old & VBM_S_NEEDS_RESET;

	if (v == 0) {
		m->resets++;
		m->stall_until_reset = 0;
		device_reset(m);
		return;
	}
	if ((v & VBM_S_NEEDS_RESET) && !keep)
		ustor_vbm_violation(m, "driver set DEVICE_NEEDS_RESET in "
				    "status 0x%02x", v);
	v &= (uint8_t)~VBM_S_NEEDS_RESET;
	if (v & ~VBM_ALL_STATUS)
		ustor_vbm_violation(m, "status 0x%02x sets reserved bits", v);
	if (old & ~v & ~VBM_S_NEEDS_RESET)
		ustor_vbm_violation(m, "status write 0x%02x clears bits of "
				    "0x%02x (only a reset may)", v, old);
	added = (uint8_t)(v & ~old);
	if ((added & VBM_S_DRIVER) && !(v & VBM_S_ACK))
		ustor_vbm_violation(m, "DRIVER set without ACKNOWLEDGE");
	if ((added & VBM_S_FEATURES_OK) && !(v & VBM_S_DRIVER))
		ustor_vbm_violation(m, "FEATURES_OK set without DRIVER");
	if ((added & VBM_S_DRIVER_OK) && !(v & VBM_S_DRIVER))
		ustor_vbm_violation(m, "DRIVER_OK set without DRIVER");
	if ((added & VBM_S_DRIVER_OK) && !p->legacy &&
	    !(v & VBM_S_FEATURES_OK))
		ustor_vbm_violation(m, "DRIVER_OK set without FEATURES_OK "
				    "(status 0x%02x)", v);
	p->status = (uint8_t)(v | keep);
	if (added & VBM_S_FEATURES_OK)
		features_ok(m);
	if ((added & VBM_S_DRIVER_OK) && p->legacy &&
	    !ustor_vbm_has(m, VBM_F_CONFIG_WCE))
		writeback_policy(m);
}

/* ---- Device configuration space (5.2.4) ------------------------------- */

/* The whole space in the transport's byte order. */
static void config_build(const struct ustor_virtio_blk_model *m, uint8_t *b)
{
	const struct ustor_virtio_blk_model_priv *p = m->priv;
	const struct ustor_virtio_blk_model_cfg *c = &m->cfg;
	int be = p->be;

	memset(b, 0, VBM_CFG_SIZE);
	vbm_put64(be, b + VBM_CFG_CAPACITY, p->capacity);
	vbm_put32(be, b + VBM_CFG_SIZE_MAX, c->size_max);
	vbm_put32(be, b + VBM_CFG_SEG_MAX, c->seg_max);
	vbm_put16(be, b + VBM_CFG_CYLINDERS, c->cylinders);
	b[VBM_CFG_HEADS] = c->heads;
	b[VBM_CFG_SECTORS] = c->sectors;
	vbm_put32(be, b + VBM_CFG_BLK_SIZE, c->blk_size);
	b[VBM_CFG_PHYS_EXP] = c->physical_block_exp;
	b[VBM_CFG_ALIGN_OFF] = c->alignment_offset;
	vbm_put16(be, b + VBM_CFG_MIN_IO, c->min_io_size);
	vbm_put32(be, b + VBM_CFG_OPT_IO, c->opt_io_size);
	b[VBM_CFG_WRITEBACK] = p->writeback;
	vbm_put16(be, b + VBM_CFG_NUM_QUEUES, c->num_queues);
	vbm_put32(be, b + VBM_CFG_MAX_DISCARD_SECTORS, c->max_discard_sectors);
	vbm_put32(be, b + VBM_CFG_MAX_DISCARD_SEG, c->max_discard_seg);
	vbm_put32(be, b + VBM_CFG_DISCARD_ALIGN, c->discard_sector_alignment);
	vbm_put32(be, b + VBM_CFG_MAX_WZ_SECTORS, c->max_write_zeroes_sectors);
	vbm_put32(be, b + VBM_CFG_MAX_WZ_SEG, c->max_write_zeroes_seg);
	b[VBM_CFG_WZ_MAY_UNMAP] = c->write_zeroes_may_unmap;
}

/* Dwords of the device configuration holding more than one field. */
static int config_dword_mixed(uint32_t off)
{
	return off == VBM_CFG_CYLINDERS || off == VBM_CFG_PHYS_EXP ||
	       off == VBM_CFG_WRITEBACK || off == VBM_CFG_WZ_MAY_UNMAP;
}

uint32_t ustor_vbm_config_read(struct ustor_virtio_blk_model *m, uint32_t off)
{
	uint8_t b[VBM_CFG_SIZE];

	if (off + 4 > VBM_CFG_SIZE) {
		ustor_vbm_violation(m, "device configuration read at %u, "
				    "past its %u bytes", off, VBM_CFG_SIZE);
		return 0;
	}
	if (m->strict_access_width && config_dword_mixed(off))
		ustor_vbm_violation(m, "32-bit read of device configuration "
				    "offset %u spans several fields", off);
	config_build(m, b);
	if (m->config_gen_churn) {
		m->config_gen_churn--;
		m->priv->config_gen++;
	}
	/* The four bytes as every register read presents them. */
	return vbm_get32(0, b + off);
}

void ustor_vbm_config_write(struct ustor_virtio_blk_model *m, uint32_t off,
			    uint32_t v)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint8_t b[VBM_CFG_SIZE], w[4];
	int ro_changed = 0;

	if (off + 4 > VBM_CFG_SIZE) {
		ustor_vbm_violation(m, "device configuration write at %u, "
				    "past its %u bytes", off, VBM_CFG_SIZE);
		return;
	}
	if (m->strict_access_width && config_dword_mixed(off))
		ustor_vbm_violation(m, "32-bit write of device configuration "
				    "offset %u spans several fields", off);
	config_build(m, b);
	vbm_put32(0, w, v);
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t o = off + i;

		if (w[i] == b[o])
			continue;
		if (o != VBM_CFG_WRITEBACK) {
			ro_changed = 1;
			continue;
		}
		if (!(p->offered & VBM_F_CONFIG_WCE) ||
		    (!p->legacy && !ustor_vbm_has(m, VBM_F_CONFIG_WCE))) {
			ustor_vbm_violation(m, "writeback written without "
					    "VIRTIO_BLK_F_CONFIG_WCE: ignored");
			continue;
		}
		if (w[i] > 1) {
			ustor_vbm_violation(m, "writeback written with %u "
					    "(0 or 1 only): ignored", w[i]);
			continue;
		}
		p->writeback = w[i];
	}
	if (ro_changed)
		ustor_vbm_violation(m, "write 0x%08x to device configuration "
				    "offset %u changes read-only bytes", v,
				    off);
}

/* ---- Public API -------------------------------------------------------- */

void ustor_virtio_blk_model_cfg_default(struct ustor_virtio_blk_model_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->transport = USTOR_VIRTIO_BLK_MODEL_PCI;
	cfg->capacity_sectors = 2048;
	cfg->blk_size = 512;
	cfg->queue_num_max = 128;
	cfg->num_queues = 1;
	cfg->features = USTOR_VIRTIO_BLK_MODEL_FEATURES_DEFAULT;
	cfg->size_max = 65536;
	cfg->heads = 16;
	cfg->sectors = 63;
	cfg->min_io_size = 1;
	cfg->writeback = 1;
	cfg->max_discard_sectors = 32768;
	cfg->max_discard_seg = 8;
	cfg->max_write_zeroes_sectors = 32768;
	cfg->max_write_zeroes_seg = 8;
	cfg->write_zeroes_may_unmap = 1;
	strcpy(cfg->serial, "USTOR-VIRTIO-BLK-01");
	cfg->vendor_id = 0x554d4551u;
	cfg->pci_addr = 0x0900;
	cfg->subsys_vendor = 0x1af4;
	cfg->subsys_id = 0x1100;
	cfg->notify_off_multiplier = 4;
}

static int is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static int cfg_fix(struct ustor_virtio_blk_model_cfg *c)
{
	uint32_t spb;

	if (c->transport != USTOR_VIRTIO_BLK_MODEL_PCI &&
	    c->transport != USTOR_VIRTIO_BLK_MODEL_MMIO2 &&
	    c->transport != USTOR_VIRTIO_BLK_MODEL_MMIO1)
		return -1;
	if (!is_pow2(c->blk_size) || c->blk_size < 512 || c->blk_size > 65536)
		return -1;
	spb = c->blk_size / VBM_SECTOR;
	if (c->capacity_sectors == 0 || c->capacity_sectors % spb ||
	    c->capacity_sectors > (uint64_t)SIZE_MAX / VBM_SECTOR)
		return -1;
	if (!is_pow2(c->queue_num_max) ||
	    c->queue_num_max > VBM_QUEUE_SIZE_LIMIT)
		return -1;
	if (c->num_queues < 1 ||
	    c->num_queues > USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES)
		return -1;
	if (c->notify_off_multiplier % 4 ||
	    (uint64_t)c->notify_off_multiplier * c->num_queues >
		    VBM_BAR_MSIX_TABLE - VBM_BAR_NOTIFY)
		return -1;
	if (c->msix_vectors == 0)
		c->msix_vectors = (uint16_t)(c->num_queues + 1);
	if (c->msix_vectors > USTOR_VIRTIO_BLK_MODEL_MAX_VECTORS)
		return -1;
	if (c->pci_subclass != 0x00 && c->pci_subclass != 0x80)
		return -1;
	if (c->seg_max == 0)
		c->seg_max = c->queue_num_max > 2 ? c->queue_num_max - 2u : 1u;
	if (c->cylinders == 0) {
		uint64_t cyl = c->capacity_sectors / (16u * 63u);

		c->cylinders = (uint16_t)(cyl > 65535 ? 65535 : cyl);
	}
	if (c->discard_sector_alignment == 0)
		c->discard_sector_alignment = spb;
	if (c->writeback > 1 || (c->features & ~VBM_F_IMPLEMENTED))
		return -1;
	c->serial[sizeof(c->serial) - 1] = '\0';
	return 0;
}

static ustor_status priv_setup(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	const struct ustor_virtio_blk_model_cfg *c = &m->cfg;
	size_t n = c->queue_num_max;
	void *tok = NULL;

	p->legacy = c->transport == USTOR_VIRTIO_BLK_MODEL_MMIO1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	p->be = p->legacy;
#else
	p->be = 0;
#endif
	p->offered = c->features | (c->read_only ? VBM_F_RO : 0);
	if (p->legacy)
		p->offered &= 0xffffffffull;
	p->capacity = c->capacity_sectors;
	p->disk_bytes = c->capacity_sectors * VBM_SECTOR;
	p->disk = calloc(1, (size_t)p->disk_bytes);
	if (!p->disk)
		return USTOR_ERR_NO_MEMORY;
	p->visited = calloc(n, 1);
	p->chain = calloc(n, sizeof(uint16_t));
	if (!p->visited || !p->chain)
		return USTOR_ERR_NO_MEMORY;
	for (unsigned i = 0; i < USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES; i++) {
		p->q[i].inflight = calloc(n, 1);
		p->q[i].link = calloc(n, sizeof(uint16_t));
		p->q[i].pk_id = calloc(n, sizeof(uint16_t));
		p->q[i].pk_ndesc = calloc(n, sizeof(uint16_t));
		if (!p->q[i].inflight || !p->q[i].link || !p->q[i].pk_id ||
		    !p->q[i].pk_ndesc)
			return USTOR_ERR_NO_MEMORY;
	}
	if (c->transport == USTOR_VIRTIO_BLK_MODEL_PCI) {
		uintptr_t a;

		/* Naturally aligned so its address is a valid BAR value. */
		if (posix_memalign(&tok, VBM_BAR_SIZE, VBM_BAR_SIZE) != 0)
			return USTOR_ERR_NO_MEMORY;
		p->token_size = VBM_BAR_SIZE;
		a = (uintptr_t)tok;
		p->bar_lo = (uint32_t)a | 0xcu; /* 64-bit, prefetchable */
		p->bar_hi = (uint32_t)((uint64_t)a >> 32);
		p->pci_cmd = (uint16_t)(c->pci_command & VBM_PCI_CMD_RW_MASK);
		for (unsigned v = 0; v < c->msix_vectors; v++)
			vbm_put32(0, p->msix_table + v * VBM_MSIX_ENTRY_SIZE +
					     12, 1u); /* masked at reset */
	} else {
		tok = malloc(VBM_MMIO_WINDOW);
		if (!tok)
			return USTOR_ERR_NO_MEMORY;
		p->token_size = VBM_MMIO_WINDOW;
	}
	p->token = tok;
	device_reset(m);
	return USTOR_OK;
}

ustor_status ustor_virtio_blk_model_init(struct ustor_virtio_blk_model *m,
					 struct ustor_test_hal *h,
					 const struct ustor_virtio_blk_model_cfg *cfg)
{
	ustor_status st;

	memset(m, 0, sizeof(*m));
	if (!h || !cfg)
		return USTOR_ERR_INVALID_ARG;
	m->cfg = *cfg;
	if (cfg_fix(&m->cfg) != 0)
		return USTOR_ERR_INVALID_ARG;
	m->h = h;
	m->needs_reset_after = -1;
	m->discard_fill = -1;
	m->priv = calloc(1, sizeof(*m->priv));
	if (!m->priv)
		return USTOR_ERR_NO_MEMORY;
	st = priv_setup(m);
	if (st != USTOR_OK) {
		ustor_virtio_blk_model_fini(m);
		return st;
	}
	if (m->cfg.transport == USTOR_VIRTIO_BLK_MODEL_PCI) {
		ustor_test_hal_attach_mmio(h, m->priv->token,
					   m->priv->token_size, m,
					   ustor_vbm_bar_read,
					   ustor_vbm_bar_write);
		ustor_test_hal_attach_mmio_narrow(h, m->priv->token,
						  ustor_vbm_bar_read8,
						  ustor_vbm_bar_read16,
						  ustor_vbm_bar_write8,
						  ustor_vbm_bar_write16);
		ustor_test_hal_attach_pci(h, m, ustor_vbm_pci_read,
					  ustor_vbm_pci_write);
	} else {
		ustor_test_hal_attach_mmio(h, m->priv->token,
					   m->priv->token_size, m,
					   ustor_vbm_mmio_read,
					   ustor_vbm_mmio_write);
	}
	return USTOR_OK;
}

void ustor_virtio_blk_model_fini(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	if (!p)
		return;
	for (unsigned i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++)
		if (m->h->mmio[i].size && m->h->mmio[i].dev == m)
			ustor_test_hal_detach_mmio(m->h, p->token);
	if (m->h->pci_dev == m)
		ustor_test_hal_detach_pci(m->h);
	for (unsigned i = 0; i < USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES; i++) {
		free(p->q[i].inflight);
		free(p->q[i].link);
		free(p->q[i].pk_id);
		free(p->q[i].pk_ndesc);
	}
	free(p->token);
	free(p->disk);
	free(p->visited);
	free(p->chain);
	free(p->done);
	free(p->segs);
	free(p->viol);
	free(p);
	m->priv = NULL;
}

volatile void *ustor_virtio_blk_model_mmio_base(struct ustor_virtio_blk_model *m)
{
	if (m->cfg.transport == USTOR_VIRTIO_BLK_MODEL_PCI)
		return NULL;
	return m->priv->token;
}

volatile void *ustor_virtio_blk_model_bar(struct ustor_virtio_blk_model *m,
					  int index)
{
	if (m->cfg.transport != USTOR_VIRTIO_BLK_MODEL_PCI ||
	    index != VBM_BAR_INDEX)
		return NULL;
	return m->priv->token;
}

uint32_t ustor_virtio_blk_model_pci_addr(const struct ustor_virtio_blk_model *m)
{
	return m->cfg.pci_addr;
}

void ustor_virtio_blk_model_pci_enable(struct ustor_virtio_blk_model *m)
{
	m->priv->pci_cmd |= VBM_PCI_CMD_MSE | VBM_PCI_CMD_BME;
}

unsigned ustor_virtio_blk_model_process(struct ustor_virtio_blk_model *m)
{
	return ustor_vbm_process(m);
}

unsigned ustor_virtio_blk_model_pending(const struct ustor_virtio_blk_model *m)
{
	return (unsigned)m->priv->ndone;
}

const char *ustor_virtio_blk_model_violations(
	const struct ustor_virtio_blk_model *m)
{
	return m->priv && m->priv->viol ? m->priv->viol : "";
}

void ustor_virtio_blk_model_clear_violations(struct ustor_virtio_blk_model *m)
{
	m->host_violations = 0;
	m->priv->viol_len = 0;
	if (m->priv->viol)
		m->priv->viol[0] = '\0';
}

uint8_t *ustor_virtio_blk_model_disk(struct ustor_virtio_blk_model *m,
				     uint64_t *out_bytes)
{
	if (out_bytes)
		*out_bytes = m->priv->disk_bytes;
	return m->priv->disk;
}

void ustor_virtio_blk_model_config_change(struct ustor_virtio_blk_model *m)
{
	m->priv->config_gen++;
	ustor_vbm_signal_config(m);
}

ustor_status ustor_virtio_blk_model_set_capacity(
	struct ustor_virtio_blk_model *m, uint64_t sectors)
{
	if (sectors > m->cfg.capacity_sectors ||
	    sectors % (m->cfg.blk_size / VBM_SECTOR))
		return USTOR_ERR_INVALID_ARG;
	m->priv->capacity = sectors;
	ustor_virtio_blk_model_config_change(m);
	return USTOR_OK;
}

uint8_t ustor_virtio_blk_model_status(const struct ustor_virtio_blk_model *m)
{
	return m->priv->status;
}

uint8_t ustor_virtio_blk_model_isr(const struct ustor_virtio_blk_model *m)
{
	return m->priv->isr;
}

uint64_t ustor_virtio_blk_model_features(const struct ustor_virtio_blk_model *m)
{
	return m->priv->negotiated;
}

uint8_t ustor_virtio_blk_model_writeback(const struct ustor_virtio_blk_model *m)
{
	return m->priv->writeback;
}

int ustor_virtio_blk_model_broken(const struct ustor_virtio_blk_model *m)
{
	return m->priv->broken;
}
