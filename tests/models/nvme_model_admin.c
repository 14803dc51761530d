/* SPDX-License-Identifier: MIT */
/* NVMe model: admin command set (base spec section 5). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <string.h>

#include "nvme_model_int.h"

#define MDL_FID_ARBITRATION 0x01
#define MDL_FID_VWC 0x06
#define MDL_FID_NUM_QUEUES 0x07
#define MDL_FID_IRQ_COALESCING 0x08

#define MDL_LID_ERROR 0x01
#define MDL_LID_SMART 0x02
#define MDL_LID_FW_SLOT 0x03

#define MDL_LOG_SMART_SIZE 512u
#define MDL_LOG_FW_SIZE 512u

/* ---- Identify (base spec 5.15) --------------------------------------- */

/* ASCII, space padded, no terminator (base spec 1.5 "ASCII string"). */
static void put_ascii(uint8_t *dst, const char *s, size_t width)
{
	size_t n = strlen(s);

	memset(dst, ' ', width);
	memcpy(dst, s, n < width ? n : width);
}

static uint32_t xorshift32(uint32_t *state)
{
	uint32_t x = *state ? *state : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/* Adversarial identify data: random bytes, then absurd key fields. */
static void garbage_fill(struct ustor_nvme_model *m, uint8_t *page,
			 uint32_t cns, uint32_t nsid)
{
	uint32_t st = m->garbage_seed ^ (cns << 24) ^ (nsid * 0x9e3779b1u);

	for (unsigned i = 0; i < MDL_IDENTIFY_SIZE; i += 4)
		mdl_put32(page + i, xorshift32(&st));
	if (cns == 1) {
		mdl_put32(page + 516, 0x80000000u | xorshift32(&st)); /* NN */
		page[77] = (uint8_t)(0x20u | xorshift32(&st));      /* MDTS */
	} else if (cns == 0) {
		page[25] = (uint8_t)(0x40u | xorshift32(&st)); /* NLBAF */
		page[26] = (uint8_t)xorshift32(&st);            /* FLBAS */
	}
}

static void identify_ctrl(struct ustor_nvme_model *m, uint8_t *d)
{
	const struct ustor_nvme_model_cfg *c = &m->cfg;
	const struct ustor_nvme_model_priv *p = m->priv;
	char nqn[128];

	mdl_put16(d + 0, c->vid);
	mdl_put16(d + 2, c->ssvid);
	put_ascii(d + 4, c->sn, 20);
	put_ascii(d + 24, c->mn, 40);
	put_ascii(d + 64, c->fr, 8);
	d[72] = 6;                        /* RAB */
	d[73] = 0x00; d[74] = 0x54; d[75] = 0x52; /* IEEE OUI */
	d[77] = c->mdts;
	mdl_put16(d + 78, c->cntlid);
	mdl_put32(d + 80, c->vs);         /* VER */
	mdl_put16(d + 134, m->crdt[0]);   /* CRDT1-3 (100 ms units) */
	mdl_put16(d + 136, m->crdt[1]);
	mdl_put16(d + 138, m->crdt[2]);
	d[111] = 1;                       /* CNTRLTYPE: I/O controller */
	mdl_put16(d + 256, c->oacs);      /* OACS: bit 8 Doorbell Buffer Config */
	d[258] = 3;                       /* ACL */
	d[259] = MDL_AERL;
	d[260] = 0x03;                    /* FRMW: 1 slot, slot 1 read-only */
	d[261] = 0x04;                    /* LPA: extended Get Log Page */
	d[262] = MDL_ERR_ENTRIES - 1;     /* ELPE */
	mdl_put16(d + 266, 343);          /* WCTEMP (K) */
	mdl_put16(d + 268, 363);          /* CCTEMP (K) */
	d[512] = 0x66;                    /* SQES */
	d[513] = 0x44;                    /* CQES */
	mdl_put32(d + 516, p->nn);
	mdl_put16(d + 520, c->oncs);
	d[525] = c->vwc;
	mdl_put32(d + 536, 0);            /* SGLS: not supported */
	snprintf(nqn, sizeof(nqn), "nqn.2024-01.dev.ustor:model:%s", c->sn);
	memcpy(d + 768, nqn, strlen(nqn));
	mdl_put16(d + 2048, 2500);        /* PSD0.MP: 25 W */
}

/* The model's LBA formats: 512, 512+8, 4096, 4096+8, plus the configured
 * one if it is none of those. Returns the count, *out_sel the FLBAS index. */
static unsigned lba_formats(const struct ustor_mdl_ns *ns, uint32_t *fmt,
			    unsigned *out_sel)
{
	static const uint32_t base[4] = {
		(9u << 16) | 0 | (1u << 24), (9u << 16) | 8 | (2u << 24),
		(12u << 16) | 0, (12u << 16) | 8 | (1u << 24)
	};
	uint32_t want = ((uint32_t)ns->lbads << 16) | ns->ms;
	unsigned n = 4;

	memcpy(fmt, base, sizeof(base));
	for (unsigned i = 0; i < 4; i++) {
		if ((fmt[i] & 0xffffffu) == want) {
			*out_sel = i;
			return n;
		}
	}
	fmt[n] = want;
	*out_sel = n;
	return n + 1;
}

static void identify_ns(const struct ustor_mdl_ns *ns, uint8_t *d)
{
	uint32_t fmt[5];
	unsigned sel, n = lba_formats(ns, fmt, &sel);

	mdl_put64(d + 0, ns->nblocks);   /* NSZE */
	mdl_put64(d + 8, ns->nblocks);   /* NCAP */
	mdl_put64(d + 16, ns->nblocks);  /* NUSE */
	d[25] = (uint8_t)(n - 1);        /* NLBAF, 0-based */
	d[26] = (uint8_t)(sel | (ns->extended ? 0x10u : 0u)); /* FLBAS */
	d[27] = 0x03;                    /* MC: extended and separate */
	d[33] = 0x09;                    /* DLFEAT: reads 0 after dealloc */
	d[99] = ns->write_protected ? 1u : 0u; /* NSATTR */
	mdl_put32(d + 104, ns->nsid);    /* NGUID */
	memcpy(d + 108, "uStor-model", 11);
	mdl_put32(d + 120, 0x00545200u); /* EUI64 */
	mdl_put32(d + 124, ns->nsid);
	for (unsigned i = 0; i < n; i++)
		mdl_put32(d + 128 + 4 * i, fmt[i]);
}

/* CNS 02h: active nsids greater than `start`, ascending, up to 1024. */
static void identify_ns_list(struct ustor_nvme_model *m, uint32_t start,
			     uint8_t *d)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t prev = start;
	unsigned k = 0;

	for (; k < MDL_IDENTIFY_SIZE / 4; k++) {
		uint32_t best = 0;

		for (unsigned i = 0; i < p->nns; i++)
			if (p->ns[i].nsid > prev &&
			    (!best || p->ns[i].nsid < best))
				best = p->ns[i].nsid;
		if (!best)
			break;
		mdl_put32(d + 4 * k, best);
		prev = best;
	}
}

/* CNS 03h: one NGUID descriptor and one CSI descriptor (NVM). */
static void identify_ns_desc(const struct ustor_mdl_ns *ns, uint8_t *d)
{
	d[0] = 0x02; /* NIDT: NGUID */
	d[1] = 16;
	mdl_put32(d + 4, ns->nsid);
	memcpy(d + 8, "uStor-model", 11);
	d[20] = 0x04; /* NIDT: Command Set Identifier */
	d[21] = 1;
	d[24] = 0x00; /* NVM command set */
}

static uint16_t identify_build(struct ustor_nvme_model *m,
			       const struct ustor_mdl_cmd *c, uint8_t *d)
{
	uint32_t cns = c->cdw[10] & 0xffu;
	uint32_t csi = c->cdw[11] >> 24;
	struct ustor_mdl_ns *ns = ustor_nvme_mdl_ns(m, c->nsid);
	int nsid_ok = c->nsid != 0 && c->nsid <= m->priv->nn &&
		      c->nsid != MDL_NSID_ALL;

	switch (cns) {
	case 0x00: /* namespace; inactive -> zero page */
		if (!nsid_ok)
			return MDL_SC_INVALID_NS;
		if (ns)
			identify_ns(ns, d);
		if (ns && m->hostile_id_ns == 1)
			d[25] = 0xff;                       /* NLBAF: 256 formats */
		else if (ns && m->hostile_id_ns == 2)
			d[26] = (uint8_t)(d[25] + 1u);      /* FLBAS past NLBAF */
		else if (ns && m->hostile_id_ns == 3)
			d[128 + 4 * (d[26] & 0xfu) + 2] = 30; /* LBADS 2^30 */
		else if (ns && m->hostile_id_ns == 4)
			mdl_put64(d + 8, ns->nblocks + 1u);   /* NCAP > NSZE */
		return MDL_SC_OK;
	case 0x01: /* controller */
		identify_ctrl(m, d);
		return MDL_SC_OK;
	case 0x02: /* active namespace list */
		if (c->nsid >= 0xfffffffeu)
			return MDL_SC_INVALID_NS;
		identify_ns_list(m, c->nsid, d);
		return MDL_SC_OK;
	case 0x03: /* namespace identification descriptors */
		if (!nsid_ok || !ns)
			return MDL_SC_INVALID_NS;
		identify_ns_desc(ns, d);
		return MDL_SC_OK;
	case 0x05: /* I/O command set specific namespace (NVM: zeros) */
		if (csi != 0)
			return MDL_SC_INVALID_FIELD;
		return nsid_ok && ns ? MDL_SC_OK : MDL_SC_INVALID_NS;
	case 0x06: /* I/O command set specific controller (NVM: zeros) */
		return csi == 0 ? MDL_SC_OK : MDL_SC_INVALID_FIELD;
	case 0x1c: /* I/O command set profile: vector 0 = NVM only */
		d[0] = 0x01;
		return MDL_SC_OK;
	default:
		return MDL_SC_INVALID_FIELD;
	}
}

static uint16_t adm_identify(struct ustor_nvme_model *m,
			     struct ustor_mdl_cmd *c)
{
	uint8_t *d = m->priv->page;
	uint16_t st;

	memset(d, 0, MDL_IDENTIFY_SIZE);
	st = identify_build(m, c, d);
	if (st != MDL_SC_OK)
		return st;
	if (m->garbage_identify)
		garbage_fill(m, d, c->cdw[10] & 0xffu, c->nsid);
	return ustor_nvme_mdl_xfer_out(m, c, d, MDL_IDENTIFY_SIZE,
				       MDL_IDENTIFY_SIZE);
}

/* ---- Queues (base spec 5.3 - 5.7) -------------------------------------- */

/* Checks shared by Create I/O CQ and SQ; 0 or a status. */
static uint16_t create_check(struct ustor_nvme_model *m,
			     const struct ustor_mdl_cmd *c, int is_sq,
			     uint32_t entry_size)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t qid = c->cdw[10] & 0xffffu;
	uint32_t qsize = (c->cdw[10] >> 16) + 1;
	uint32_t es = is_sq ? MDL_CC_IOSQES(p->cc) : MDL_CC_IOCQES(p->cc);
	uint32_t granted = (is_sq ? p->nsqa : p->ncqa) + 1u;
	int exists = is_sq ? p->sq[qid < p->nq ? qid : 0].exists
			   : p->cq[qid < p->nq ? qid : 0].exists;

	if (qid == 0 || qid >= p->nq || qid > granted || exists)
		return MDL_SC_INVALID_QID;
	if ((1u << es) != entry_size) {
		ustor_nvme_mdl_violation(m, "create I/O %s with CC.%s=%u",
					 is_sq ? "SQ" : "CQ",
					 is_sq ? "IOSQES" : "IOCQES", es);
		return MDL_SC_INVALID_QSIZE;
	}
	if (qsize < 2 || qsize > (uint32_t)m->cfg.mqes + 1)
		return MDL_SC_INVALID_QSIZE;
	if (!(c->cdw[11] & 1u))
		return MDL_SC_INVALID_FIELD; /* PC=0 but CAP.CQR=1 */
	if (c->prp1 & (p->page_size - 1)) {
		ustor_nvme_mdl_violation(m, "create I/O %s %u: PRP1 0x%llx not"
					 " page aligned", is_sq ? "SQ" : "CQ",
					 qid, (unsigned long long)c->prp1);
		return MDL_SC_PRP_OFFSET;
	}
	if (!ustor_nvme_mdl_map(m, c->prp1, (size_t)qsize * entry_size,
				is_sq ? "new I/O SQ" : "new I/O CQ"))
		return MDL_SC_DATA_XFER;
	return MDL_SC_OK;
}

static uint16_t adm_create_cq(struct ustor_nvme_model *m,
			      struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint16_t qid = (uint16_t)c->cdw[10];
	uint16_t iv = (uint16_t)(c->cdw[11] >> 16);
	int ien = (c->cdw[11] >> 1) & 1;
	uint16_t st = create_check(m, c, 0, MDL_CQE_SIZE);
	struct ustor_mdl_cq *cq;

	if (st != MDL_SC_OK)
		return st;
	if (ien && iv >= p->nq)
		return MDL_SC_INVALID_IV; /* one MSI-X vector per queue */
	cq = &p->cq[qid];
	memset(cq, 0, sizeof(*cq));
	cq->exists = 1;
	cq->base = c->prp1;
	cq->size = (c->cdw[10] >> 16) + 1;
	cq->phase = 1;
	cq->ien = ien;
	cq->iv = iv;
	return MDL_SC_OK;
}

static uint16_t adm_create_sq(struct ustor_nvme_model *m,
			      struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint16_t qid = (uint16_t)c->cdw[10];
	uint16_t cqid = (uint16_t)(c->cdw[11] >> 16);
	uint16_t st = create_check(m, c, 1, MDL_SQE_SIZE);
	struct ustor_mdl_sq *sq;

	if (st != MDL_SC_OK)
		return st;
	if (cqid == 0 || cqid >= p->nq || !p->cq[cqid].exists)
		return MDL_SC_CQ_INVALID;
	sq = &p->sq[qid];
	memset(sq, 0, sizeof(*sq));
	sq->exists = 1;
	sq->base = c->prp1;
	sq->size = (c->cdw[10] >> 16) + 1;
	sq->cqid = cqid;
	p->cq[cqid].nsq++;
	return MDL_SC_OK;
}

static uint16_t adm_delete_sq(struct ustor_nvme_model *m,
			      struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint16_t qid = (uint16_t)c->cdw[10];

	if (qid == 0 || qid >= p->nq || !p->sq[qid].exists)
		return MDL_SC_INVALID_QID;
	p->cq[p->sq[qid].cqid].nsq--;
	memset(&p->sq[qid], 0, sizeof(p->sq[qid]));
	return MDL_SC_OK;
}

static uint16_t adm_delete_cq(struct ustor_nvme_model *m,
			      struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint16_t qid = (uint16_t)c->cdw[10];

	if (qid == 0 || qid >= p->nq || !p->cq[qid].exists)
		return MDL_SC_INVALID_QID;
	if (p->cq[qid].nsq)
		return MDL_SC_INVALID_QDEL;
	ustor_nvme_mdl_drop_held(m, qid);
	memset(&p->cq[qid], 0, sizeof(p->cq[qid]));
	return MDL_SC_OK;
}

/* ---- Features (base spec 5.21, 5.27) --------------------------------- */

static int save_supported(const struct ustor_nvme_model *m)
{
	return (m->cfg.oncs & 0x10u) != 0;
}

static uint16_t set_num_queues(struct ustor_nvme_model *m,
			       struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t nsqr = c->cdw[11] & 0xffffu, ncqr = c->cdw[11] >> 16;
	uint32_t max = p->nq - 2u; /* 0-based */

	if (c->cdw[10] >> 31)
		return MDL_SC_NOT_SAVEABLE;
	if (nsqr == 0xffffu || ncqr == 0xffffu)
		return MDL_SC_INVALID_FIELD;
	if (ustor_nvme_mdl_io_queue_count(m))
		return MDL_SC_CMD_SEQ;
	p->nsqa = (uint16_t)(nsqr < max ? nsqr : max);
	p->ncqa = (uint16_t)(ncqr < max ? ncqr : max);
	c->dw0 = p->nsqa | ((uint32_t)p->ncqa << 16);
	return MDL_SC_OK;
}

static uint16_t adm_set_features(struct ustor_nvme_model *m,
				 struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t fid = c->cdw[10] & 0xffu, v = c->cdw[11];
	int sv = (int)(c->cdw[10] >> 31);

	if (sv && !save_supported(m))
		return MDL_SC_INVALID_FIELD;
	switch (fid) {
	case MDL_FID_ARBITRATION:
		p->arb = v & 0xffffff07u;
		if (sv)
			p->arb_saved = p->arb;
		return MDL_SC_OK;
	case MDL_FID_VWC:
		if (!(m->cfg.vwc & 1u))
			return MDL_SC_INVALID_FIELD;
		p->wce = (int)(v & 1u);
		if (sv)
			p->wce_saved = p->wce;
		return MDL_SC_OK;
	case MDL_FID_NUM_QUEUES:
		return set_num_queues(m, c);
	case MDL_FID_IRQ_COALESCING:
		p->irqc = v & 0xffffu;
		if (sv)
			p->irqc_saved = p->irqc;
		return MDL_SC_OK;
	default:
		return MDL_SC_INVALID_FIELD;
	}
}

/* SEL: 0 current, 1 default, 2 saved, 3 supported capabilities. */
static uint16_t adm_get_features(struct ustor_nvme_model *m,
				 struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t fid = c->cdw[10] & 0xffu, sel = (c->cdw[10] >> 8) & 7u;
	uint32_t max = p->nq - 2u;
	uint32_t saveable = save_supported(m) ? 1u : 0u;

	if (sel > 3)
		return MDL_SC_INVALID_FIELD;
	switch (fid) {
	case MDL_FID_ARBITRATION:
		c->dw0 = sel == 3 ? saveable | 4u
			 : sel == 0 ? p->arb : sel == 1 ? 0 : p->arb_saved;
		return MDL_SC_OK;
	case MDL_FID_VWC:
		if (!(m->cfg.vwc & 1u))
			return MDL_SC_INVALID_FIELD;
		c->dw0 = sel == 3 ? saveable | 4u
			 : sel == 0 ? (uint32_t)p->wce
			 : sel == 1 ? 1u : (uint32_t)p->wce_saved;
		return MDL_SC_OK;
	case MDL_FID_NUM_QUEUES:
		c->dw0 = sel == 3 ? 4u
			 : sel == 1 ? max | (max << 16)
				    : p->nsqa | ((uint32_t)p->ncqa << 16);
		return MDL_SC_OK;
	case MDL_FID_IRQ_COALESCING:
		c->dw0 = sel == 3 ? saveable | 4u
			 : sel == 0 ? p->irqc : sel == 1 ? 0 : p->irqc_saved;
		return MDL_SC_OK;
	default:
		return MDL_SC_INVALID_FIELD;
	}
}

/* ---- Log pages (base spec 5.16) -------------------------------------- */

static void log_error(const struct ustor_nvme_model *m, uint8_t *d)
{
	const struct ustor_nvme_model_priv *p = m->priv;
	uint64_t n = p->err_count < MDL_ERR_ENTRIES ? p->err_count
						    : MDL_ERR_ENTRIES;

	/* Newest first. */
	for (uint64_t i = 0; i < n; i++) {
		const struct ustor_mdl_err_entry *e =
			&p->err[(p->err_count - 1 - i) % MDL_ERR_ENTRIES];
		uint8_t *o = d + i * MDL_ERR_ENTRY_SIZE;

		mdl_put64(o + 0, e->count);
		mdl_put16(o + 8, e->sqid);
		mdl_put16(o + 10, e->cid);
		mdl_put16(o + 12, e->status);
		mdl_put16(o + 14, 0xffffu); /* parameter location: n/a */
		mdl_put64(o + 16, e->lba);
		mdl_put32(o + 24, e->nsid);
	}
}

/* 128-bit little-endian counter from a 64-bit value. */
static void put_u128(uint8_t *o, uint64_t v)
{
	mdl_put64(o, v);
	mdl_put64(o + 8, 0);
}

static void log_smart(const struct ustor_nvme_model *m, uint8_t *d)
{
	/* Data units: thousands of 512-byte units, rounded up. */
	uint64_t ur = ((m->data_bytes_read >> 9) + 999) / 1000;
	uint64_t uw = ((m->data_bytes_written >> 9) + 999) / 1000;

	d[0] = m->smart_critical_warning;
	mdl_put16(d + 1, m->smart_temperature);
	d[3] = 100; /* available spare % */
	d[4] = 10;  /* available spare threshold % */
	put_u128(d + 32, ur);
	put_u128(d + 48, uw);
	put_u128(d + 64, m->host_read_cmds);
	put_u128(d + 80, m->host_write_cmds);
	put_u128(d + 112, 1);                   /* power cycles */
	put_u128(d + 176, m->priv->err_count);  /* error log entries */
	mdl_put16(d + 200, m->smart_temperature); /* sensor 1 */
}

static void log_fw_slot(const struct ustor_nvme_model *m, uint8_t *d)
{
	d[0] = 0x01; /* AFI: slot 1 active */
	put_ascii(d + 8, m->cfg.fr, 8);
}

static uint16_t adm_get_log(struct ustor_nvme_model *m, struct ustor_mdl_cmd *c)
{
	uint8_t *d = m->priv->page;
	uint32_t lid = c->cdw[10] & 0xffu;
	uint64_t numd = (((uint64_t)(c->cdw[11] & 0xffffu) << 16) |
			 (c->cdw[10] >> 16)) + 1;
	uint64_t off = c->cdw[12] | ((uint64_t)c->cdw[13] << 32);
	size_t size;

	memset(d, 0, MDL_IDENTIFY_SIZE);
	switch (lid) {
	case MDL_LID_ERROR:
		log_error(m, d);
		size = MDL_ERR_ENTRIES * MDL_ERR_ENTRY_SIZE;
		break;
	case MDL_LID_SMART:
		if (c->nsid != 0 && c->nsid != MDL_NSID_ALL)
			return MDL_SC_INVALID_FIELD; /* LPA bit 0 clear */
		log_smart(m, d);
		size = MDL_LOG_SMART_SIZE;
		break;
	case MDL_LID_FW_SLOT:
		log_fw_slot(m, d);
		size = MDL_LOG_FW_SIZE;
		break;
	default:
		return MDL_SC_INVALID_LOG;
	}
	if ((off & 3u) || off >= size)
		return MDL_SC_INVALID_FIELD;
	return ustor_nvme_mdl_xfer_out(m, c, d + off, size - (size_t)off,
				       numd * 4);
}

/* ---- Dispatch ------------------------------------------------------ */

uint16_t ustor_nvme_mdl_admin_exec(struct ustor_nvme_model *m,
				   struct ustor_mdl_cmd *c)
{
	if (c->psdt || c->fuse)
		return MDL_SC_INVALID_FIELD; /* no SGLs on admin, no fusing */
	switch (c->opc) {
	case MDL_ADM_DELETE_SQ:
		return adm_delete_sq(m, c);
	case MDL_ADM_CREATE_SQ:
		return adm_create_sq(m, c);
	case MDL_ADM_GET_LOG:
		return adm_get_log(m, c);
	case MDL_ADM_DELETE_CQ:
		return adm_delete_cq(m, c);
	case MDL_ADM_CREATE_CQ:
		return adm_create_cq(m, c);
	case MDL_ADM_IDENTIFY:
		return adm_identify(m, c);
	case MDL_ADM_ABORT:
		c->dw0 = 1; /* command not aborted */
		return MDL_SC_OK;
	case MDL_ADM_SET_FEATURES:
		return adm_set_features(m, c);
	case MDL_ADM_GET_FEATURES:
		return adm_get_features(m, c);
	case MDL_ADM_AER:
		if (m->priv->aer_held > MDL_AERL)
			return MDL_SC_AER_LIMIT;
		m->priv->aer_held++;
		c->hold = 1; /* completes only when an event happens */
		return MDL_SC_OK;
	case MDL_ADM_DBBUF:
		if (!(m->cfg.oacs & 0x100u))
			return MDL_SC_INVALID_OPCODE;
		return ustor_nvme_mdl_dbbuf_config(m, c);
	case MDL_ADM_VENDOR_ECHO:
		c->dw0 = c->cdw[12];
		c->dw1 = c->cdw[13];
		return MDL_SC_OK;
	default:
		return MDL_SC_INVALID_OPCODE;
	}
}
