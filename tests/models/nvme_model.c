/* SPDX-License-Identifier: MIT */
/* NVMe model: registers, PCI config space, queues and completions. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_model_int.h"

/* Stale admin queue registers left by "firmware" in hand-off mode: bus
 * addresses nothing is mapped at. */
#define MDL_STALE_AQA 0x001f001fu
#define MDL_STALE_ASQ 0x7fe00000ull
#define MDL_STALE_ACQ 0x7fe10000ull

static uint64_t mdl_now(const struct ustor_nvme_model *m)
{
	return ustor_test_hal_time(m->h);
}

/* ---- Violations and fatal status ---------------------------------- */

void ustor_nvme_mdl_violation(struct ustor_nvme_model *m, const char *fmt, ...)
{
	struct ustor_nvme_model_priv *p = m->priv;
	char line[256];
	int n = snprintf(line, sizeof(line), "[t=%llu ns] ",
			 (unsigned long long)mdl_now(m));
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	len = strlen(line);
	m->host_violations++;
	if (m->h->verbose)
		fprintf(stderr, "nvme model: host violation: %s\n", line);
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

void ustor_nvme_mdl_set_fatal(struct ustor_nvme_model *m, const char *why)
{
	if (m->h->verbose)
		fprintf(stderr, "nvme model: controller fatal status: %s\n",
			why);
	m->priv->cfs = 1;
}

uint8_t *ustor_nvme_mdl_map(struct ustor_nvme_model *m, uint64_t bus,
			    size_t len, const char *what)
{
	uint8_t *p = ustor_test_hal_bus_to_virt(m->h, bus, len);

	if (!p)
		ustor_nvme_mdl_violation(m, "DMA to unmapped bus range "
					 "0x%llx+%zu (%s)",
					 (unsigned long long)bus, len, what);
	return p;
}

struct ustor_mdl_ns *ustor_nvme_mdl_ns(struct ustor_nvme_model *m,
				       uint32_t nsid)
{
	struct ustor_nvme_model_priv *p = m->priv;

	for (unsigned i = 0; i < p->nns; i++)
		if (p->ns[i].nsid == nsid)
			return &p->ns[i];
	return NULL;
}

unsigned ustor_nvme_mdl_io_queue_count(const struct ustor_nvme_model *m)
{
	const struct ustor_nvme_model_priv *p = m->priv;
	unsigned n = 0;

	for (uint16_t q = 1; q < p->nq; q++)
		n += (p->sq[q].exists ? 1u : 0u) + (p->cq[q].exists ? 1u : 0u);
	return n;
}

/* ---- Completion queues ------------------------------------------- */

static int vec_push(struct ustor_mdl_cqe_vec *v, const struct ustor_mdl_cqe *e)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct ustor_mdl_cqe *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = *e;
	return 0;
}

static void vec_remove(struct ustor_mdl_cqe_vec *v, size_t i)
{
	memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(v->v[0]));
	v->n--;
}

static int cq_full(const struct ustor_mdl_cq *cq)
{
	return (cq->tail + 1 == cq->size ? 0 : cq->tail + 1) == cq->head;
}

/* Write one CQE at the CQ tail (base spec 4.6); 1 if written. */
static int cq_write(struct ustor_nvme_model *m, struct ustor_mdl_cq *cq,
		    const struct ustor_mdl_cqe *e)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint64_t bus = cq->base + (uint64_t)cq->tail * MDL_CQE_SIZE;
	uint8_t *q = ustor_nvme_mdl_map(m, bus, MDL_CQE_SIZE, "CQ entry");
	uint32_t sqhd = e->sqhd;

	if (!q) {
		ustor_nvme_mdl_set_fatal(m, "CQ memory not mapped");
		return 0;
	}
	if (e->sqid < p->nq && p->sq[e->sqid].exists)
		sqhd = p->sq[e->sqid].head;
	if (m->bad_sqhd) { /* hostile: an SQ head outside the queue */
		m->bad_sqhd--;
		sqhd = 0xffffu;
	}
	mdl_put32(q + 0, e->dw0);
	mdl_put32(q + 4, e->dw1);
	mdl_put16(q + 8, (uint16_t)sqhd);
	mdl_put16(q + 10, e->sqid);
	mdl_put16(q + 12, e->cid);
	/* Status and phase tag last, so the entry is whole when it flips. */
	mdl_put16(q + 14, (uint16_t)((e->status & 0xfffeu) | cq->phase));
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1u;
	}
	m->completions_posted++;
	return 1;
}

/* ---- Shadow doorbells (Doorbell Buffer Config, base spec 2.0 5.8) --- */

/* Dword `idx` (doorbell index: SQ y = 2y, CQ y = 2y + 1) of a DBBUF page. */
static uint8_t *dbbuf_dword(struct ustor_nvme_model *m, uint64_t page, uint32_t idx)
{
	return ustor_nvme_mdl_map(m, page + (uint64_t)idx * m->priv->stride, 4,
				  "shadow doorbell / EventIdx page");
}

static void eventidx_put(struct ustor_nvme_model *m, uint32_t idx, uint32_t v)
{
	uint8_t *d;

	if (m->dbbuf_stale_eventidx)
		return;
	d = dbbuf_dword(m, m->priv->eis_bus, idx);
	if (d)
		mdl_put32(d, v);
}

/* The CQ head the host published in the shadow page (I/O CQs only). */
static void cq_shadow_head(struct ustor_nvme_model *m, uint16_t cqid)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_cq *cq = &p->cq[cqid];
	uint8_t *d;
	uint32_t v, posted, consumed;

	if (!p->dbbuf || cqid == 0 || !cq->exists)
		return;
	d = dbbuf_dword(m, p->dbs_bus, 2u * cqid + 1u);
	if (!d)
		return;
	v = mdl_get32(d);
	if (v == cq->head)
		return;
	if (v >= cq->size) {
		ustor_nvme_mdl_violation(m, "CQ %u shadow head %u >= queue size %u", cqid, v,
					 cq->size);
		return;
	}
	posted = (cq->tail + cq->size - cq->head) % cq->size;
	consumed = (v + cq->size - cq->head) % cq->size;
	if (consumed > posted) {
		ustor_nvme_mdl_violation(m, "CQ %u shadow head %u passes the tail %u", cqid, v,
					 cq->tail);
		return;
	}
	cq->head = v;
	m->shadow_updates++;
}

uint16_t ustor_nvme_mdl_dbbuf_config(struct ustor_nvme_model *m, const struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint64_t mask = p->page_size - 1u;

	if ((c->prp1 & mask) || (c->prp2 & mask) || !c->prp1 || !c->prp2 ||
	    !ustor_nvme_mdl_map(m, c->prp1, p->page_size, "shadow doorbell page") ||
	    !ustor_nvme_mdl_map(m, c->prp2, p->page_size, "EventIdx page"))
		return MDL_SC_INVALID_FIELD;
	p->dbbuf = 1;
	p->dbs_bus = c->prp1;
	p->eis_bus = c->prp2;
	m->dbbuf_configs++;
	/* Existing I/O queues: the device has seen up to here. */
	for (uint16_t q = 1; q < p->nq; q++) {
		if (p->sq[q].exists)
			eventidx_put(m, 2u * q, p->sq[q].tail);
	}
	return MDL_SC_OK;
}

/* Post, or hold behind earlier held entries / while the CQ is full. */
static int cq_post(struct ustor_nvme_model *m, const struct ustor_mdl_cqe *e)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_cq *cq = &p->cq[e->cqid];

	if (!cq->exists)
		return 0;
	cq_shadow_head(m, e->cqid);
	if (cq->nheld || cq_full(cq) || !(p->pci_cmd & MDL_PCI_CMD_BME)) {
		if (vec_push(&p->held, e) == 0)
			cq->nheld++;
		/* Out of room: ask to be told when the head moves. */
		if (p->dbbuf && e->cqid != 0)
			eventidx_put(m, 2u * e->cqid + 1u, cq->head);
		return 0;
	}
	return cq_write(m, cq, e);
}

static void cq_drain_held(struct ustor_nvme_model *m, uint16_t cqid)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_cq *cq = &p->cq[cqid];
	size_t i = 0;

	while (i < p->held.n && cq->nheld && !cq_full(cq) && !p->cfs) {
		if (p->held.v[i].cqid != cqid) {
			i++;
			continue;
		}
		if (!cq_write(m, cq, &p->held.v[i]))
			return;
		vec_remove(&p->held, i);
		cq->nheld--;
	}
}

void ustor_nvme_mdl_drop_held(struct ustor_nvme_model *m, uint16_t cqid)
{
	struct ustor_nvme_model_priv *p = m->priv;
	size_t i = 0;

	while (i < p->held.n) {
		if (p->held.v[i].cqid == cqid)
			vec_remove(&p->held, i);
		else
			i++;
	}
	i = 0;
	while (i < p->deferred.n) {
		if (p->deferred.v[i].cqid == cqid)
			vec_remove(&p->deferred, i);
		else
			i++;
	}
	p->cq[cqid].nheld = 0;
}

static void err_log_add(struct ustor_nvme_model *m,
			const struct ustor_mdl_cmd *c, uint16_t status)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_err_entry *e = &p->err[p->err_count % MDL_ERR_ENTRIES];

	p->err_count++;
	e->count = p->err_count;
	e->sqid = c->sqid;
	e->cid = c->cid;
	e->status = status;
	e->nsid = c->nsid;
	e->lba = c->err_lba;
}

/* Build the CQE of a finished command and apply the completion faults. */
static void complete(struct ustor_nvme_model *m, const struct ustor_mdl_cmd *c,
		     uint16_t status)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_sq *sq = &p->sq[c->sqid];
	struct ustor_mdl_cqe e;

	if (status & 0xfffeu)
		err_log_add(m, c, status);
	if (m->drop_completions &&
	    (m->drop_qid < 0 || m->drop_qid == (int)c->sqid) &&
	    (m->drop_opcode < 0 || m->drop_opcode == (int)c->opc)) {
		m->drop_completions--;
		m->completions_dropped++;
		return;
	}
	e.cqid = sq->cqid;
	e.sqid = c->sqid;
	e.cid = c->cid;
	if (m->wrong_cid) {
		m->wrong_cid--;
		e.cid = (uint16_t)~c->cid;
	}
	e.status = (uint16_t)(status & 0xfffeu);
	e.dw0 = c->dw0;
	e.dw1 = c->dw1;
	e.sqhd = sq->head;
	if (m->deferred) {
		if (vec_push(&p->deferred, &e) != 0)
			ustor_nvme_mdl_set_fatal(m, "out of host memory");
		return;
	}
	cq_post(m, &e);
}

/* ---- Submission queues --------------------------------------------- */

static void cmd_decode(struct ustor_mdl_cmd *c, const uint8_t *q, uint16_t sqid)
{
	uint32_t dw0 = mdl_get32(q);

	memset(c, 0, sizeof(*c));
	c->sqid = sqid;
	c->opc = (uint8_t)dw0;
	c->fuse = (uint8_t)((dw0 >> 8) & 3u);
	c->psdt = (uint8_t)((dw0 >> 14) & 3u);
	c->cid = (uint16_t)(dw0 >> 16);
	c->nsid = mdl_get32(q + 4);
	c->mptr = mdl_get64(q + 16);
	c->prp1 = mdl_get64(q + 24);
	c->prp2 = mdl_get64(q + 32);
	for (unsigned i = 0; i < 16; i++)
		c->cdw[i] = mdl_get32(q + 4 * i);
}

/* An injection rule that matches consumes one use and returns 1. */
static int inject_match(struct ustor_nvme_model *m,
			const struct ustor_mdl_cmd *c, uint16_t *out_status)
{
	for (unsigned i = 0; i < USTOR_NVME_MODEL_MAX_INJECT; i++) {
		struct ustor_nvme_model_inject *r = &m->inject[i];

		if (r->count == 0)
			continue;
		if (r->qid >= 0 && r->qid != (int)c->sqid)
			continue;
		if (r->opcode >= 0 && r->opcode != (int)c->opc)
			continue;
		if (r->count > 0)
			r->count--;
		*out_status = (uint16_t)(r->status & 0xfffeu);
		return 1;
	}
	return 0;
}

static int p_hold_match(const struct ustor_nvme_model *m,
			const struct ustor_mdl_cmd *c)
{
	return (m->hold_qid < 0 || m->hold_qid == (int)c->sqid) &&
	       (m->hold_opcode < 0 || m->hold_opcode == (int)c->opc) &&
	       m->priv->nheld_cmds < USTOR_NVME_MODEL_MAX_HELD;
}

/* Abort (base spec 5.1) of a held command: it completes with Command Abort
 * Requested, then the Abort itself with dw0 bit 0 clear. Returns 1 when it
 * handled the Abort (a held command matched and aborts are honoured). */
static int abort_held(struct ustor_nvme_model *m, struct ustor_mdl_cmd *c)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint16_t sqid = (uint16_t)c->cdw[10];
	uint16_t cid = (uint16_t)(c->cdw[10] >> 16);

	if (m->abort_ignored)
		return 0;
	for (unsigned i = 0; i < p->nheld_cmds; i++) {
		struct ustor_mdl_cmd h = p->held_cmds[i];

		if (h.sqid != sqid || h.cid != cid)
			continue;
		p->held_cmds[i] = p->held_cmds[--p->nheld_cmds];
		m->commands_aborted++;
		complete(m, &h, MDL_ST(0, 0x07));
		c->dw0 = 0; /* aborted */
		complete(m, c, MDL_SC_OK);
		return 1;
	}
	return 0;
}

static void run_command(struct ustor_nvme_model *m, struct ustor_mdl_cmd *c)
{
	uint16_t status;

	if (c->sqid == 0)
		m->admin_cmds[c->opc]++;
	else
		m->io_cmds[c->opc]++;
	if (m->fatal_after == 0) {
		m->fatal_after = -1;
		ustor_nvme_mdl_set_fatal(m, "fatal_after reached");
		return;
	}
	if (c->sqid != 0 && m->hold_commands &&
	    p_hold_match(m, c)) {
		m->hold_commands--;
		m->commands_held++;
		m->priv->held_cmds[m->priv->nheld_cmds++] = *c;
		return;
	}
	if (c->sqid == 0 && c->opc == MDL_ADM_ABORT && abort_held(m, c))
		return;
	if (!inject_match(m, c, &status)) {
		status = c->sqid == 0 ? ustor_nvme_mdl_admin_exec(m, c)
				      : ustor_nvme_mdl_io_exec(m, c);
	}
	if (!c->hold)
		complete(m, c, status);
	if (m->fatal_after > 0 && --m->fatal_after == 0) {
		m->fatal_after = -1;
		ustor_nvme_mdl_set_fatal(m, "fatal_after reached");
	}
}

/* Fetch and execute from head to tail (base spec 4.1). */
static void sq_process(struct ustor_nvme_model *m, uint16_t sqid)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_sq *sq = &p->sq[sqid];
	struct ustor_mdl_cmd c;

	if (p->dbbuf && sqid != 0 && sq->exists) {
		uint8_t *d = dbbuf_dword(m, p->dbs_bus, 2u * sqid);
		uint32_t v = d ? mdl_get32(d) : sq->tail;

		if (v >= sq->size) {
			ustor_nvme_mdl_violation(m, "SQ %u shadow tail %u >= queue size %u", sqid,
						 v, sq->size);
		} else if (v != sq->tail) {
			sq->tail = v;
			m->shadow_updates++;
		}
	}
	while (sq->exists && sq->head != sq->tail && !p->cfs && !m->frozen) {
		uint64_t bus = sq->base + (uint64_t)sq->head * MDL_SQE_SIZE;
		uint8_t *q = ustor_nvme_mdl_map(m, bus, MDL_SQE_SIZE,
						"SQ entry");

		if (!q) {
			ustor_nvme_mdl_set_fatal(m, "SQ memory not mapped");
			return;
		}
		cmd_decode(&c, q, sqid);
		sq->head = sq->head + 1 == sq->size ? 0 : sq->head + 1;
		run_command(m, &c);
	}
	/* Processed up to the tail: the next new tail needs a doorbell. */
	if (p->dbbuf && sqid != 0 && sq->exists)
		eventidx_put(m, 2u * sqid, sq->tail);
}

/* With shadow doorbells: look at every I/O queue's shadow values (a doorbell
 * write, or process(), woke the controller up). */
static void dbbuf_scan(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	if (!p->dbbuf || !(p->pci_cmd & MDL_PCI_CMD_BME))
		return;
	for (uint16_t q = 1; q < p->nq && !p->cfs; q++) {
		if (p->cq[q].exists && p->cq[q].nheld) {
			cq_shadow_head(m, q);
			cq_drain_held(m, q);
		}
		if (p->sq[q].exists)
			sq_process(m, q);
	}
}

/* ---- Doorbells (base spec 3.1.24, 3.1.25) --------------------------- */

static void sq_doorbell(struct ustor_nvme_model *m, uint16_t qid, uint32_t v)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_sq *sq = &p->sq[qid];

	if (!sq->exists) {
		ustor_nvme_mdl_violation(m, "SQ %u tail doorbell: no such "
					 "queue", qid);
		return;
	}
	if (v >= sq->size) {
		ustor_nvme_mdl_violation(m, "SQ %u tail doorbell %u >= queue "
					 "size %u", qid, v, sq->size);
		return;
	}
	sq->tail = v;
	if (!(p->pci_cmd & MDL_PCI_CMD_BME)) {
		ustor_nvme_mdl_violation(m, "SQ %u doorbell with PCI Bus "
					 "Master Enable off: not fetched",
					 qid);
		return;
	}
	sq_process(m, qid);
}

static void cq_doorbell(struct ustor_nvme_model *m, uint16_t qid, uint32_t v)
{
	struct ustor_nvme_model_priv *p = m->priv;
	struct ustor_mdl_cq *cq = &p->cq[qid];
	uint32_t posted, consumed;

	if (!cq->exists) {
		ustor_nvme_mdl_violation(m, "CQ %u head doorbell: no such "
					 "queue", qid);
		return;
	}
	if (v >= cq->size) {
		ustor_nvme_mdl_violation(m, "CQ %u head doorbell %u >= queue "
					 "size %u", qid, v, cq->size);
		return;
	}
	posted = (cq->tail + cq->size - cq->head) % cq->size;
	consumed = (v + cq->size - cq->head) % cq->size;
	if (consumed > posted) {
		ustor_nvme_mdl_violation(m, "CQ %u head doorbell %u passes "
					 "the tail %u (head was %u)", qid, v,
					 cq->tail, cq->head);
		return;
	}
	cq->head = v;
	if (p->pci_cmd & MDL_PCI_CMD_BME)
		cq_drain_held(m, qid);
}

static void update_ready(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	if (p->rdy == p->rdy_target || mdl_now(m) < p->rdy_at)
		return;
	if (p->rdy_target &&
	    (m->never_ready || p->enable_ignored || p->cfs))
		return;
	p->rdy = p->rdy_target;
}

static void doorbell_write(struct ustor_nvme_model *m, uint32_t off,
			   uint32_t v)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t rel = off - MDL_REG_DB_BASE;
	uint32_t idx = rel / p->stride;
	uint16_t qid = (uint16_t)(idx / 2);

	m->doorbell_writes++;
	if (rel % p->stride || qid >= p->nq) {
		ustor_nvme_mdl_violation(m, "write 0x%x to offset 0x%x: not "
					 "a doorbell (stride %u)", v, off,
					 p->stride);
		return;
	}
	if (p->cfs)
		return; /* a fatal controller ignores doorbells */
	update_ready(m);
	if (!p->rdy) {
		ustor_nvme_mdl_violation(m, "%s %u doorbell write while "
					 "CSTS.RDY=0", idx & 1 ? "CQ" : "SQ",
					 qid);
		return;
	}
	if (p->shst_done) {
		ustor_nvme_mdl_violation(m, "doorbell write after shutdown");
		return;
	}
	if (idx & 1)
		cq_doorbell(m, qid, v);
	else
		sq_doorbell(m, qid, v);
	dbbuf_scan(m);
}

/* ---- Controller enable, reset, shutdown (base spec 3.5, 7.6) ------- */

static void queues_clear(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	memset(p->sq, 0, p->nq * sizeof(*p->sq));
	memset(p->cq, 0, p->nq * sizeof(*p->cq));
	p->held.n = 0;
	p->deferred.n = 0;
	p->aer_held = 0;
}

static void admin_queues_create(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	p->sq[0].exists = 1;
	p->sq[0].base = p->asq;
	p->sq[0].size = (p->aqa & 0xfffu) + 1;
	p->sq[0].cqid = 0;
	p->cq[0].exists = 1;
	p->cq[0].base = p->acq;
	p->cq[0].size = ((p->aqa >> 16) & 0xfffu) + 1;
	p->cq[0].phase = 1;
	p->cq[0].nsq = 1;
}

static int css_supported(const struct ustor_nvme_model *m, uint32_t css)
{
	uint8_t cap_css = m->cfg.css;

	if (css == 0)
		return cap_css & 0x01;
	if (css == 6)
		return cap_css & 0x40;
	if (css == 7)
		return cap_css & 0x80;
	return 0;
}

/* Check CC and the admin queue registers at CC.EN 0->1; 0 if valid. */
static int enable_check(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t mps = MDL_CC_MPS(p->cc), ps = 1u << (12 + mps);
	uint32_t asqs = (p->aqa & 0xfffu) + 1;
	uint32_t acqs = ((p->aqa >> 16) & 0xfffu) + 1;

	if (mps < m->cfg.mpsmin || mps > m->cfg.mpsmax) {
		ustor_nvme_mdl_violation(m, "enable with CC.MPS=%u outside "
					 "CAP.MPSMIN..MPSMAX %u..%u", mps,
					 m->cfg.mpsmin, m->cfg.mpsmax);
		return -1;
	}
	if (!css_supported(m, MDL_CC_CSS(p->cc)) || MDL_CC_AMS(p->cc) != 0) {
		ustor_nvme_mdl_violation(m, "enable with unsupported CC.CSS=%u"
					 " / CC.AMS=%u", MDL_CC_CSS(p->cc),
					 MDL_CC_AMS(p->cc));
		return -1;
	}
	if (asqs < 2 || acqs < 2 || !p->asq || !p->acq ||
	    (p->asq & (ps - 1)) || (p->acq & (ps - 1))) {
		ustor_nvme_mdl_violation(m, "enable with bad admin queues: "
					 "AQA=0x%x ASQ=0x%llx ACQ=0x%llx",
					 p->aqa, (unsigned long long)p->asq,
					 (unsigned long long)p->acq);
		return -1;
	}
	if (!ustor_nvme_mdl_map(m, p->asq, asqs * MDL_SQE_SIZE, "admin SQ") ||
	    !ustor_nvme_mdl_map(m, p->acq, acqs * MDL_CQE_SIZE, "admin CQ"))
		return -1;
	return 0;
}

static void ctrl_enable(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	m->enables++;
	p->disable_pending = 0;
	p->shst_done = 0;
	if (m->needs_admin_regs_before_enable &&
	    !(p->aqa_written && p->asq_written && p->acq_written)) {
		p->enable_ignored = 1; /* RDY never comes (HARDWARE.md 1) */
		return;
	}
	if (enable_check(m) != 0) {
		ustor_nvme_mdl_set_fatal(m, "invalid enable");
		return;
	}
	p->page_size = 1u << (12 + MDL_CC_MPS(p->cc));
	admin_queues_create(m);
	p->rdy_target = 1;
	p->rdy_at = mdl_now(m) + m->ready_delay_ns;
}

static void features_reset(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	p->arb = p->arb_saved;
	p->irqc = p->irqc_saved;
	p->wce = p->wce_saved;
	p->nsqa = (uint16_t)(p->nq - 2);
	p->ncqa = (uint16_t)(p->nq - 2);
}

/* Controller reset on CC.EN 1->0: AQA/ASQ/ACQ survive, the rest does not. */
static void ctrl_reset(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	m->resets++;
	m->held_dropped_by_reset += p->nheld_cmds;
	p->nheld_cmds = 0;
	queues_clear(m);
	features_reset(m);
	p->cfs = 0;
	p->shst_done = 0;
	p->enable_ignored = 0;
	p->intms = 0;
	p->dbbuf = 0;
	p->aqa_written = p->asq_written = p->acq_written = 0;
	p->disable_pending = 1;
	p->disabled_at = mdl_now(m);
	p->rdy_target = 0;
	p->rdy_at = mdl_now(m) + m->ready_delay_ns;
}

static void ctrl_shutdown(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	m->shutdowns++;
	if (ustor_nvme_mdl_io_queue_count(m))
		m->shutdowns_with_io_queues++;
	p->shst_done = 1;
}

static void cc_write(struct ustor_nvme_model *m, uint32_t v)
{
	struct ustor_nvme_model_priv *p = m->priv;
	uint32_t old = p->cc;

	if ((old & MDL_CC_EN) && (v & MDL_CC_EN) &&
	    ((old ^ v) & MDL_CC_FIXED_WHILE_EN))
		ustor_nvme_mdl_violation(m, "CC.CSS/MPS/AMS changed while "
					 "enabled (0x%x -> 0x%x)", old, v);
	p->cc = v;
	if (!(old & MDL_CC_EN) && (v & MDL_CC_EN)) {
		update_ready(m);
		if (p->rdy)
			ustor_nvme_mdl_violation(m, "CC.EN set before CSTS.RDY "
						 "returned to 0 after a reset");
		ctrl_enable(m);
	}
	else if ((old & MDL_CC_EN) && !(v & MDL_CC_EN))
		ctrl_reset(m);
	if (MDL_CC_SHN(v) && !MDL_CC_SHN(old))
		ctrl_shutdown(m);
}

static void admin_reg_write(struct ustor_nvme_model *m, uint32_t off,
			    uint32_t v)
{
	struct ustor_nvme_model_priv *p = m->priv;

	if (p->cc & MDL_CC_EN)
		ustor_nvme_mdl_violation(m, "admin queue register 0x%x "
					 "written while CC.EN=1", off);
	switch (off) {
	case MDL_REG_AQA:
		p->aqa = v;
		p->aqa_written = 1;
		break;
	case MDL_REG_ASQ:
		p->asq = (p->asq & 0xffffffff00000000ull) | v;
		p->asq_written = 1;
		break;
	case MDL_REG_ASQ + 4:
		p->asq = (p->asq & 0xffffffffull) | ((uint64_t)v << 32);
		p->asq_written = 1;
		break;
	case MDL_REG_ACQ:
		p->acq = (p->acq & 0xffffffff00000000ull) | v;
		p->acq_written = 1;
		break;
	default:
		p->acq = (p->acq & 0xffffffffull) | ((uint64_t)v << 32);
		p->acq_written = 1;
		break;
	}
}

/* ---- Register window -------------------------------------------- */

static uint32_t csts_value(const struct ustor_nvme_model_priv *p)
{
	return (p->rdy ? MDL_CSTS_RDY : 0u) | (p->cfs ? MDL_CSTS_CFS : 0u) |
	       (p->shst_done ? MDL_CSTS_SHST_DONE : 0u) |
	       (p->nssro ? MDL_CSTS_NSSRO : 0u);
}

static uint32_t csts_read(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	/* HARDWARE.md item 2: some controllers hang on an early CSTS read. */
	if (m->csts_freeze_window_ns && p->disable_pending &&
	    mdl_now(m) - p->disabled_at < m->csts_freeze_window_ns) {
		m->frozen = 1;
		return 0xffffffffu;
	}
	if (m->fatal_after == 0 && (p->cc & MDL_CC_EN)) {
		m->fatal_after = -1;
		ustor_nvme_mdl_set_fatal(m, "fatal_after reached");
	}
	update_ready(m);
	return csts_value(p);
}

uint32_t ustor_nvme_model_peek_reg(const struct ustor_nvme_model *m,
				   uint32_t off)
{
	const struct ustor_nvme_model_priv *p = m->priv;

	switch (off) {
	case MDL_REG_CAP:
		return (uint32_t)p->cap;
	case MDL_REG_CAP + 4:
		return (uint32_t)(p->cap >> 32);
	case MDL_REG_VS:
		return m->cfg.vs;
	case MDL_REG_INTMS:
	case MDL_REG_INTMC:
		return p->intms;
	case MDL_REG_CC:
		return p->cc;
	case MDL_REG_CSTS:
		return csts_value(p);
	case MDL_REG_AQA:
		return p->aqa;
	case MDL_REG_ASQ:
		return (uint32_t)p->asq;
	case MDL_REG_ASQ + 4:
		return (uint32_t)(p->asq >> 32);
	case MDL_REG_ACQ:
		return (uint32_t)p->acq;
	case MDL_REG_ACQ + 4:
		return (uint32_t)(p->acq >> 32);
	default:
		return 0; /* reserved, CMB/PMR absent, doorbells read 0 */
	}
}

static uint32_t reg_read(void *dev, uint32_t off)
{
	struct ustor_nvme_model *m = dev;

	if (m->frozen)
		return 0xffffffffu;
	if (!(m->priv->pci_cmd & MDL_PCI_CMD_MSE)) {
		ustor_nvme_mdl_violation(m, "register read at 0x%x with PCI "
					 "Memory Space Enable off", off);
		return 0xffffffffu;
	}
	if (off == MDL_REG_CSTS)
		return csts_read(m);
	return ustor_nvme_model_peek_reg(m, off);
}

static void reg_write(void *dev, uint32_t off, uint32_t v)
{
	struct ustor_nvme_model *m = dev;
	struct ustor_nvme_model_priv *p = m->priv;

	if (m->frozen)
		return;
	if (!(p->pci_cmd & MDL_PCI_CMD_MSE)) {
		ustor_nvme_mdl_violation(m, "register write 0x%x at 0x%x with "
					 "PCI Memory Space Enable off", v, off);
		return;
	}
	if (off >= MDL_REG_DB_BASE) {
		doorbell_write(m, off, v);
		return;
	}
	switch (off) {
	case MDL_REG_INTMS:
		p->intms |= v;
		break;
	case MDL_REG_INTMC:
		p->intms &= ~v;
		break;
	case MDL_REG_CC:
		cc_write(m, v);
		break;
	case MDL_REG_CSTS:
		if (v & MDL_CSTS_NSSRO)
			p->nssro = 0; /* RW1C */
		break;
	case MDL_REG_AQA:
	case MDL_REG_ASQ:
	case MDL_REG_ASQ + 4:
	case MDL_REG_ACQ:
	case MDL_REG_ACQ + 4:
		admin_reg_write(m, off, v);
		break;
	default:
		break; /* read-only or reserved; NSSR unsupported (NSSRS=0) */
	}
}

/* ---- PCI configuration space --------------------------------------- */

static uint32_t pci_read(void *dev, uint32_t pci_addr, uint16_t off)
{
	struct ustor_nvme_model *m = dev;
	struct ustor_nvme_model_priv *p = m->priv;

	if (pci_addr != m->cfg.pci_addr)
		return 0xffffffffu; /* no function there */
	switch (off) {
	case 0x00:
		return m->cfg.vid | ((uint32_t)m->cfg.did << 16);
	case 0x04:
		return p->pci_cmd; /* status 0: no capability list */
	case 0x08:
		return 0x01080200u | 0x02u; /* class 01/08/02, revision 2 */
	case 0x10:
		return p->bar0_lo;
	case 0x14:
		return p->bar0_hi;
	case 0x2c:
		return m->cfg.ssvid | ((uint32_t)m->cfg.ssid << 16);
	case 0x3c:
		return p->pci_int_line | (1u << 8); /* INTA# */
	default:
		return 0;
	}
}

static void pci_write(void *dev, uint32_t pci_addr, uint16_t off, uint32_t v)
{
	struct ustor_nvme_model *m = dev;
	struct ustor_nvme_model_priv *p = m->priv;

	if (pci_addr != m->cfg.pci_addr)
		return;
	if (off == 0x04)
		p->pci_cmd = (uint16_t)(v & MDL_PCI_CMD_RW_MASK);
	else if (off == 0x10) /* 64-bit memory BAR, sized by its mask */
		p->bar0_lo = (v & p->bar_mask) | 0x4u;
	else if (off == 0x14)
		p->bar0_hi = v;
	else if (off == 0x3c)
		p->pci_int_line = (uint8_t)v;
}

/* ---- Public API -------------------------------------------------- */

void ustor_nvme_model_cfg_default(struct ustor_nvme_model_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mqes = 1023;
	cfg->to = 20;
	cfg->mpsmax = 4;
	cfg->css = 0x41;
	cfg->vs = 0x00010400u;
	cfg->mdts = 5;
	cfg->oncs = 0x001c;
	cfg->oacs = 0x0100;
	cfg->vwc = 1;
	cfg->cntlid = 1;
	strcpy(cfg->sn, "USTOR-MODEL-0001");
	strcpy(cfg->mn, "uStor NVMe model");
	strcpy(cfg->fr, "1.0");
	cfg->max_io_queues = 4;
	cfg->pci_addr = 0x0800;
	cfg->vid = 0x1b36;
	cfg->did = 0x0010;
	cfg->ssvid = 0x1af4;
	cfg->ssid = 0x1100;
	cfg->num_ns = 1;
	cfg->ns[0].nsid = 1;
	cfg->ns[0].nblocks = 2048;
	cfg->ns[0].lbads = 9;
}

static int cfg_check(const struct ustor_nvme_model_cfg *cfg)
{
	if (cfg->mqes < 1 || cfg->dstrd > 15 || cfg->mpsmin > cfg->mpsmax ||
	    cfg->mpsmax > 15 || cfg->max_io_queues < 1 ||
	    cfg->max_io_queues == 0xffff ||
	    cfg->num_ns > USTOR_NVME_MODEL_MAX_NS)
		return -1;
	for (unsigned i = 0; i < cfg->num_ns; i++) {
		const struct ustor_nvme_model_ns_cfg *n = &cfg->ns[i];

		if (n->nsid == 0 || n->nsid >= 0xfffffffeu || n->lbads < 9 ||
		    n->lbads > 16 || n->nblocks == 0)
			return -1;
		if (cfg->nn && n->nsid > cfg->nn)
			return -1;
		for (unsigned j = 0; j < i; j++)
			if (cfg->ns[j].nsid == n->nsid)
				return -1;
	}
	return 0;
}

static ustor_status ns_setup(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	for (unsigned i = 0; i < m->cfg.num_ns; i++) {
		const struct ustor_nvme_model_ns_cfg *c = &m->cfg.ns[i];
		struct ustor_mdl_ns *ns = &p->ns[i];
		uint64_t bytes = c->nblocks << c->lbads;

		ns->nsid = c->nsid;
		ns->nblocks = c->nblocks;
		ns->lbads = c->lbads;
		ns->bs = 1u << c->lbads;
		ns->ms = c->ms;
		ns->extended = c->ms ? c->extended : 0;
		ns->write_protected = c->write_protected;
		p->nns = i + 1;
		if (p->nn < c->nsid)
			p->nn = c->nsid;
		if (m->cfg.no_copy)
			continue;
		if ((bytes >> c->lbads) != c->nblocks || bytes > SIZE_MAX ||
		    c->nblocks > SIZE_MAX / (c->ms ? c->ms : 1))
			return USTOR_ERR_NO_MEMORY;
		ns->data = calloc(1, (size_t)bytes);
		if (c->ms)
			ns->meta = calloc((size_t)c->nblocks, c->ms);
		if (!ns->data || (c->ms && !ns->meta))
			return USTOR_ERR_NO_MEMORY;
	}
	if (m->cfg.nn)
		p->nn = m->cfg.nn;
	return USTOR_OK;
}

static void cap_setup(struct ustor_nvme_model *m)
{
	const struct ustor_nvme_model_cfg *c = &m->cfg;

	m->priv->cap = (uint64_t)c->mqes |
		       (1ull << 16) | /* CQR: contiguous queues required */
		       ((uint64_t)c->to << 24) | ((uint64_t)c->dstrd << 32) |
		       ((uint64_t)c->css << 37) | ((uint64_t)c->mpsmin << 48) |
		       ((uint64_t)c->mpsmax << 52);
}

static void knobs_default(struct ustor_nvme_model *m)
{
	m->drop_qid = -1;
	m->drop_opcode = -1;
	m->fatal_after = -1;
	m->hold_qid = -1;
	m->hold_opcode = -1;
	m->garbage_seed = 0x12345678u;
	m->smart_temperature = 310;
	for (unsigned i = 0; i < USTOR_NVME_MODEL_MAX_INJECT; i++) {
		m->inject[i].qid = -1;
		m->inject[i].opcode = -1;
	}
}

/* Firmware left the controller running (HARDWARE.md item 1). */
static void handoff_setup(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	p->aqa = MDL_STALE_AQA;
	p->asq = MDL_STALE_ASQ;
	p->acq = MDL_STALE_ACQ;
	p->cc = MDL_CC_EN | ((uint32_t)m->cfg.mpsmin << 7) | (6u << 16) |
		(4u << 20);
	p->page_size = 1u << (12 + m->cfg.mpsmin);
	admin_queues_create(m);
	p->rdy = p->rdy_target = 1;
}

static ustor_status priv_setup(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;
	size_t bar_pow2 = 0x4000;

	p->nq = (uint16_t)(m->cfg.max_io_queues + 1);
	p->stride = 4u << m->cfg.dstrd;
	p->bar_size = MDL_REG_DB_BASE + 2u * p->nq * (size_t)p->stride;
	while (bar_pow2 < p->bar_size)
		bar_pow2 <<= 1;
	p->bar_mask = ~(uint32_t)(bar_pow2 - 1);
	p->bar0_lo = 0xfe000000u | 0x4u;
	p->pci_cmd = (uint16_t)(m->cfg.pci_command & MDL_PCI_CMD_RW_MASK);
	p->bar_token = malloc(p->bar_size);
	p->sq = calloc(p->nq, sizeof(*p->sq));
	p->cq = calloc(p->nq, sizeof(*p->cq));
	if (!p->bar_token || !p->sq || !p->cq)
		return USTOR_ERR_NO_MEMORY;
	p->page_size = 1u << (12 + m->cfg.mpsmin);
	p->wce_saved = m->cfg.vwc & 1;
	features_reset(m);
	cap_setup(m);
	return ns_setup(m);
}

ustor_status ustor_nvme_model_init(struct ustor_nvme_model *m,
				   struct ustor_test_hal *h,
				   const struct ustor_nvme_model_cfg *cfg)
{
	ustor_status st;

	memset(m, 0, sizeof(*m));
	if (!h || !cfg || cfg_check(cfg) != 0)
		return USTOR_ERR_INVALID_ARG;
	m->cfg = *cfg;
	m->h = h;
	knobs_default(m);
	m->priv = calloc(1, sizeof(*m->priv));
	if (!m->priv)
		return USTOR_ERR_NO_MEMORY;
	st = priv_setup(m);
	if (st != USTOR_OK) {
		ustor_nvme_model_fini(m);
		return st;
	}
	if (cfg->handoff_enabled)
		handoff_setup(m);
	ustor_test_hal_attach_mmio(h, m->priv->bar_token, m->priv->bar_size, m,
				   reg_read, reg_write);
	ustor_test_hal_attach_pci(h, m, pci_read, pci_write);
	return USTOR_OK;
}

void ustor_nvme_model_fini(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;

	if (!p)
		return;
	for (unsigned i = 0; i < USTOR_TEST_HAL_MAX_MMIO; i++)
		if (m->h->mmio[i].size && m->h->mmio[i].dev == m)
			ustor_test_hal_detach_mmio(m->h, p->bar_token);
	if (m->h->pci_dev == m)
		ustor_test_hal_detach_pci(m->h);
	for (unsigned i = 0; i < USTOR_NVME_MODEL_MAX_NS; i++) {
		free(p->ns[i].data);
		free(p->ns[i].meta);
	}
	free(p->bar_token);
	free(p->sq);
	free(p->cq);
	free(p->held.v);
	free(p->deferred.v);
	free(p->viol);
	free(p->segs);
	free(p);
	m->priv = NULL;
}

volatile void *ustor_nvme_model_regs(struct ustor_nvme_model *m)
{
	return m->priv->bar_token;
}

size_t ustor_nvme_model_regs_size(const struct ustor_nvme_model *m)
{
	return m->priv->bar_size;
}

void ustor_nvme_model_pci_enable(struct ustor_nvme_model *m)
{
	m->priv->pci_cmd |= MDL_PCI_CMD_MSE | MDL_PCI_CMD_BME;
}

unsigned ustor_nvme_model_process(struct ustor_nvme_model *m)
{
	struct ustor_nvme_model_priv *p = m->priv;
	unsigned posted = 0;
	size_t n;

	if (!p->cfs && !m->frozen && p->rdy)
		dbbuf_scan(m);
	n = p->deferred.n;
	if (!n || p->cfs || m->frozen)
		return 0;
	if (!(p->pci_cmd & MDL_PCI_CMD_BME)) {
		ustor_nvme_mdl_violation(m, "completions pending with PCI Bus "
					 "Master Enable off: not posted");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = m->reorder ? n - 1 - i : i;

		posted += (unsigned)cq_post(m, &p->deferred.v[k]);
	}
	p->deferred.n = 0;
	return posted;
}

unsigned ustor_nvme_model_pending(const struct ustor_nvme_model *m)
{
	return (unsigned)(m->priv->deferred.n + m->priv->held.n);
}

const char *ustor_nvme_model_violations(const struct ustor_nvme_model *m)
{
	return m->priv && m->priv->viol ? m->priv->viol : "";
}

void ustor_nvme_model_clear_violations(struct ustor_nvme_model *m)
{
	m->host_violations = 0;
	m->priv->viol_len = 0;
	if (m->priv->viol)
		m->priv->viol[0] = '\0';
}

uint8_t *ustor_nvme_model_ns_data(struct ustor_nvme_model *m, uint32_t nsid,
				  uint64_t *out_bytes)
{
	struct ustor_mdl_ns *ns = ustor_nvme_mdl_ns(m, nsid);

	if (out_bytes)
		*out_bytes = ns && ns->data ? ns->nblocks << ns->lbads : 0;
	return ns ? ns->data : NULL;
}

uint8_t *ustor_nvme_model_ns_meta(struct ustor_nvme_model *m, uint32_t nsid,
				  uint64_t *out_bytes)
{
	struct ustor_mdl_ns *ns = ustor_nvme_mdl_ns(m, nsid);

	if (out_bytes)
		*out_bytes = ns && ns->meta ? ns->nblocks * ns->ms : 0;
	return ns ? ns->meta : NULL;
}
