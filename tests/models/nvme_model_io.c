/* SPDX-License-Identifier: MIT */
/* NVMe model: PRP data transfer and the NVM command set. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

#define MDL_ONCS_DSM 0x0004u
#define MDL_ONCS_WRITE_ZEROES 0x0008u
#define MDL_DSM_AD 0x4u
#define MDL_DSM_RANGE_SIZE 16u

/* ---- PRPs (base spec 4.3) ------------------------------------------ */

static uint16_t seg_add(struct ustor_nvme_model *m, uint64_t bus,
			uint32_t len)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint8_t *host = ustor_nvme_mdl_map(m, bus, len, "PRP data");

	if (!host)
		return MDL_SC_DATA_XFER;
	if (p->nsegs == p->segs_cap) {
		size_t cap = p->segs_cap ? p->segs_cap * 2 : 256;
		struct ustor_mdl_seg *ns = realloc(p->segs, cap * sizeof(*ns));

		if (!ns)
			return MDL_ST(0, 0x06); /* internal error */
		p->segs = ns;
		p->segs_cap = cap;
	}
	p->segs[p->nsegs].host = host;
	p->segs[p->nsegs].len = len;
	p->nsegs++;
	return MDL_SC_OK;
}

static uint16_t prp_bad(struct ustor_nvme_model *m, const char *what,
			uint64_t v)
{
	ustor_nvme_mdl_violation(m, "PRP Offset Invalid: %s 0x%llx", what,
				 (unsigned long long)v);
	return MDL_SC_PRP_OFFSET;
}

/*
 * Walk a PRP list from `list` for `rem` bytes. Entries run to the end of
 * the list's memory page; when more than one page of data is still left
 * at the last slot of a page, that slot points to the next list page.
 */
static uint16_t prp_list(struct ustor_nvme_model *m, uint64_t list,
			 uint64_t rem)
{
	uint32_t ps = m->priv->page_size;
	uint16_t st;

	if (list & 7u)
		return prp_bad(m, "PRP list pointer not qword aligned", list);
	while (rem) {
		uint8_t *e = ustor_nvme_mdl_map(m, list, 8, "PRP list");
		int last_slot = ((list + 8) & (ps - 1)) == 0;
		uint64_t v;

		if (!e)
			return MDL_SC_DATA_XFER;
		v = mdl_get64(e);
		if (v & (ps - 1))
			return prp_bad(m, last_slot && rem > ps
					  ? "PRP list chain pointer"
					  : "PRP list entry", v);
		if (last_slot && rem > ps) {
			list = v;
			continue;
		}
		st = seg_add(m, v, (uint32_t)(rem < ps ? rem : ps));
		if (st != MDL_SC_OK)
			return st;
		rem -= rem < ps ? rem : ps;
		list += 8;
	}
	return MDL_SC_OK;
}

uint16_t ustor_nvme_mdl_prp_map(struct ustor_nvme_model *m,
				const struct ustor_mdl_cmd *c, uint64_t len)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t ps = p->page_size;
	/* A hostile MDTS (tests of the driver) may exceed 64 bits: no limit. */
	unsigned mdts_shift = 12u + m->cfg.mpsmin + m->cfg.mdts;
	uint64_t max = mdts_shift < 63u ? (uint64_t)1 << mdts_shift : UINT64_MAX;
	uint64_t first, rem;
	uint16_t st;

	p->nsegs = 0;
	if (len == 0)
		return MDL_SC_OK;
	if (m->cfg.mdts && len > max) {
		ustor_nvme_mdl_violation(m, "transfer of %llu bytes exceeds "
					 "MDTS (%llu bytes), opcode 0x%02x",
					 (unsigned long long)len,
					 (unsigned long long)max, c->opc);
		return MDL_SC_INVALID_FIELD;
	}
	if (c->prp1 & 3u)
		return prp_bad(m, "PRP1 not dword aligned", c->prp1);
	first = ps - (c->prp1 & (ps - 1));
	if (first > len)
		first = len;
	st = seg_add(m, c->prp1, (uint32_t)first);
	rem = len - first;
	if (st != MDL_SC_OK || rem == 0)
		return st;
	if (rem <= ps) {
		if (c->prp2 & (ps - 1))
			return prp_bad(m, "PRP2 data pointer not page aligned",
				       c->prp2);
		return seg_add(m, c->prp2, (uint32_t)rem);
	}
	return prp_list(m, c->prp2, rem);
}

uint16_t ustor_nvme_mdl_xfer_out(struct ustor_nvme_model *m,
				 const struct ustor_mdl_cmd *c, const void *src,
				 size_t src_len, uint64_t len)
{
	const uint8_t *s = src;
	uint16_t st = ustor_nvme_mdl_prp_map(m, c, len);

	if (st != MDL_SC_OK)
		return st;
	for (size_t i = 0; i < m->priv->nsegs; i++) {
		struct ustor_mdl_seg *g = &m->priv->segs[i];
		size_t n = src_len < g->len ? src_len : g->len;

		memcpy(g->host, s, n);
		memset(g->host + n, 0, g->len - n);
		s += n;
		src_len -= n;
	}
	return MDL_SC_OK;
}

uint16_t ustor_nvme_mdl_xfer_in(struct ustor_nvme_model *m,
				const struct ustor_mdl_cmd *c, void *dst,
				uint64_t len)
{
	uint8_t *d = dst;
	uint16_t st = ustor_nvme_mdl_prp_map(m, c, len);

	if (st != MDL_SC_OK)
		return st;
	for (size_t i = 0; i < m->priv->nsegs; i++) {
		memcpy(d, m->priv->segs[i].host, m->priv->segs[i].len);
		d += m->priv->segs[i].len;
	}
	return MDL_SC_OK;
}

/* ---- Namespace data ------------------------------------------------ */

/*
 * Copy `len` bytes at offset `off` of the transfer stream of a command
 * starting at `slba`. With extended LBAs the stream is data+metadata per
 * block; otherwise data only.
 */
static void ns_stream(const struct ustor_mdl_ns *ns, uint64_t slba,
		      uint64_t off, uint8_t *host, uint32_t len, int to_host)
{
	uint32_t elem = ns->bs + (ns->extended ? ns->ms : 0u);

	while (len) {
		uint64_t blk = slba + off / elem;
		uint32_t in = (uint32_t)(off % elem), n;
		uint8_t *dev;

		if (in < ns->bs) {
			n = ns->bs - in;
			dev = ns->data + (size_t)(blk * ns->bs) + in;
		} else {
			n = elem - in;
			dev = ns->meta + (size_t)(blk * ns->ms) + (in - ns->bs);
		}
		if (n > len)
			n = len;
		if (to_host)
			memcpy(host, dev, n);
		else
			memcpy(dev, host, n);
		host += n;
		off += n;
		len -= n;
	}
}

static void ns_zero(const struct ustor_mdl_ns *ns, uint64_t slba, uint64_t nlb)
{
	if (!ns->data)
		return;
	memset(ns->data + (size_t)(slba * ns->bs), 0, (size_t)(nlb * ns->bs));
	if (ns->meta)
		memset(ns->meta + (size_t)(slba * ns->ms), 0,
		       (size_t)(nlb * ns->ms));
}

static uint16_t lba_check(struct ustor_mdl_cmd *c,
			  const struct ustor_mdl_ns *ns, uint64_t slba,
			  uint64_t nlb)
{
	if (slba >= ns->nblocks || nlb > ns->nblocks - slba) {
		c->err_lba = slba;
		return MDL_SC_LBA_RANGE;
	}
	return MDL_SC_OK;
}

/* Separate metadata buffer (MPTR, base spec 4.5): one contiguous range. */
static uint16_t meta_map(struct ustor_nvme_model *m,
			 const struct ustor_mdl_cmd *c,
			 const struct ustor_mdl_ns *ns, uint64_t nlb,
			 uint8_t **out)
{
	*out = NULL;
	if (!ns->ms || ns->extended)
		return MDL_SC_OK;
	if (c->mptr & 3u) {
		ustor_nvme_mdl_violation(m, "MPTR 0x%llx not dword aligned",
					 (unsigned long long)c->mptr);
		return MDL_SC_INVALID_FIELD;
	}
	*out = ustor_nvme_mdl_map(m, c->mptr, (size_t)(nlb * ns->ms),
				  "metadata (MPTR)");
	return *out ? MDL_SC_OK : MDL_SC_DATA_XFER;
}

static void rw_copy(struct ustor_nvme_model *m, const struct ustor_mdl_ns *ns,
		    uint64_t slba, uint64_t nlb, uint8_t *meta, int is_write)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint64_t off = 0;

	if (!ns->data)
		return; /* no_copy */
	for (size_t i = 0; i < p->nsegs; i++) {
		ns_stream(ns, slba, off, p->segs[i].host, p->segs[i].len,
			  !is_write);
		off += p->segs[i].len;
	}
	if (!meta)
		return;
	if (is_write)
		memcpy(ns->meta + (size_t)(slba * ns->ms), meta,
		       (size_t)(nlb * ns->ms));
	else
		memcpy(meta, ns->meta + (size_t)(slba * ns->ms),
		       (size_t)(nlb * ns->ms));
}

/* Read 02h / Write 01h (NVM command set spec 3.2.4, 3.2.6). */
static uint16_t io_rw(struct ustor_nvme_model *m, struct ustor_mdl_cmd *c,
		      int is_write)
{
	struct ustor_mdl_ns *ns = ustor_nvme_mdl_ns(m, c->nsid);
	uint64_t slba = c->cdw[10] | ((uint64_t)c->cdw[11] << 32);
	uint64_t nlb = (c->cdw[12] & 0xffffu) + 1;
	uint8_t *meta = NULL;
	uint16_t st;

	if (!ns)
		return MDL_SC_INVALID_NS;
	if (is_write && ns->write_protected)
		return MDL_SC_WRITE_PROTECTED;
	st = lba_check(c, ns, slba, nlb);
	if (st != MDL_SC_OK)
		return st;
	st = ustor_nvme_mdl_prp_map(m, c, nlb * (ns->bs + (ns->extended
							   ? ns->ms : 0u)));
	if (st == MDL_SC_OK)
		st = meta_map(m, c, ns, nlb, &meta);
	if (st != MDL_SC_OK)
		return st;
	rw_copy(m, ns, slba, nlb, meta, is_write);
	if (is_write) {
		m->host_write_cmds++;
		m->data_bytes_written += nlb * ns->bs;
	} else {
		m->host_read_cmds++;
		m->data_bytes_read += nlb * ns->bs;
	}
	return MDL_SC_OK;
}

/* Write Zeroes 08h (NVM command set spec 3.2.8). */
static uint16_t io_write_zeroes(struct ustor_nvme_model *m,
				struct ustor_mdl_cmd *c)
{
	struct ustor_mdl_ns *ns = ustor_nvme_mdl_ns(m, c->nsid);
	uint64_t slba = c->cdw[10] | ((uint64_t)c->cdw[11] << 32);
	uint64_t nlb = (c->cdw[12] & 0xffffu) + 1;
	uint16_t st;

	if (!(m->cfg.oncs & MDL_ONCS_WRITE_ZEROES))
		return MDL_SC_INVALID_OPCODE;
	if (!ns)
		return MDL_SC_INVALID_NS;
	st = lba_check(c, ns, slba, nlb);
	if (st == MDL_SC_OK)
		ns_zero(ns, slba, nlb);
	return st;
}

/* Dataset Management 09h (NVM command set spec 3.2.3): all ranges are
 * checked before any is deallocated. */
static uint16_t io_dsm(struct ustor_nvme_model *m, struct ustor_mdl_cmd *c)
{
	struct ustor_mdl_ns *ns = ustor_nvme_mdl_ns(m, c->nsid);
	uint32_t nr = (c->cdw[10] & 0xffu) + 1;
	uint8_t ranges[256 * MDL_DSM_RANGE_SIZE];
	uint16_t st;

	if (!(m->cfg.oncs & MDL_ONCS_DSM))
		return MDL_SC_INVALID_OPCODE;
	if (!ns)
		return MDL_SC_INVALID_NS;
	st = ustor_nvme_mdl_xfer_in(m, c, ranges, nr * MDL_DSM_RANGE_SIZE);
	if (st != MDL_SC_OK || !(c->cdw[11] & MDL_DSM_AD))
		return st;
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *r = ranges + i * MDL_DSM_RANGE_SIZE;

		if (mdl_get32(r + 4) == 0)
			continue;
		st = lba_check(c, ns, mdl_get64(r + 8), mdl_get32(r + 4));
		if (st != MDL_SC_OK)
			return st;
	}
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *r = ranges + i * MDL_DSM_RANGE_SIZE;

		if (mdl_get32(r + 4))
			ns_zero(ns, mdl_get64(r + 8), mdl_get32(r + 4));
	}
	return MDL_SC_OK;
}

/* Flush 00h: NSID FFFFFFFFh flushes all unless VWC bits 2:1 say 10b. */
static uint16_t io_flush(struct ustor_nvme_model *m, struct ustor_mdl_cmd *c)
{
	if (c->nsid == MDL_NSID_ALL)
		return ((m->cfg.vwc >> 1) & 3u) == 2u ? MDL_SC_INVALID_NS
						      : MDL_SC_OK;
	return ustor_nvme_mdl_ns(m, c->nsid) ? MDL_SC_OK : MDL_SC_INVALID_NS;
}

uint16_t ustor_nvme_mdl_io_exec(struct ustor_nvme_model *m,
				struct ustor_mdl_cmd *c)
{
	if (c->psdt || c->fuse)
		return MDL_SC_INVALID_FIELD; /* SGLS=0, FUSES=0 */
	switch (c->opc) {
	case MDL_IO_FLUSH:
		return io_flush(m, c);
	case MDL_IO_WRITE:
		return io_rw(m, c, 1);
	case MDL_IO_READ:
		return io_rw(m, c, 0);
	case MDL_IO_WRITE_ZEROES:
		return io_write_zeroes(m, c);
	case MDL_IO_DSM:
		return io_dsm(m, c);
	case MDL_IO_VENDOR_ECHO:
		c->dw0 = c->cdw[12];
		c->dw1 = c->cdw[13];
		return MDL_SC_OK;
	default:
		return MDL_SC_INVALID_OPCODE;
	}
}
