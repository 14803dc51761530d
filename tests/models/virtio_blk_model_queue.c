/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk model: split virtqueues (VIRTIO 1.2 2.7) and block requests
 * (5.2.6): queue enable, available-buffer notifications, descriptor chain
 * walking and validation, request execution against the RAM disk, used
 * ring updates, notification suppression and deferred completion.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdlib.h>
#include <string.h>

#include "virtio_blk_model_int.h"

#define VBM_NO_LINK 0xffffu

/* One request being executed. */
struct vbm_req {
	uint16_t q, head;
	size_t nr;        /* readable segments are segs[0..nr) */
	uint64_t r_total; /* device-readable bytes */
	uint64_t w_total; /* device-writable bytes (status byte included) */
	uint32_t type;
	uint64_t sector;
	uint32_t written; /* bytes written before the status byte */
};

static int is_pci(const struct ustor_virtio_blk_model *m)
{
	return m->cfg.transport == USTOR_VIRTIO_BLK_MODEL_PCI;
}

/* ---- Queue state ----------------------------------------------------- */

void ustor_vbm_queue_enable(struct ustor_virtio_blk_model *m, uint16_t qi)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint64_t n = q->num;

	if (!p->legacy && !(p->status & VBM_S_FEATURES_OK))
		ustor_vbm_violation(m, "queue %u enabled before FEATURES_OK "
				    "(status 0x%02x)", qi, p->status);
	if (!p->legacy && ((q->desc & 15u) || (q->driver & 1u) ||
			   (q->device & 3u)))
		ustor_vbm_violation(m, "queue %u enabled with misaligned "
				    "areas: desc 0x%llx (16), driver 0x%llx "
				    "(2), device 0x%llx (4)", qi,
				    (unsigned long long)q->desc,
				    (unsigned long long)q->driver,
				    (unsigned long long)q->device);
	q->packed = ustor_vbm_has(m, VBM_F_RING_PACKED);
	if (!q->desc || !q->driver || !q->device)
		ustor_vbm_violation(m, "queue %u enabled with a zero area "
				    "address", qi);
	else if (q->packed) {
		ustor_vbm_map(m, q->desc, (size_t)(VBM_DESC_SIZE * n),
			      "packed descriptor ring");
		ustor_vbm_map(m, q->driver, 4, "driver event suppression");
		ustor_vbm_map(m, q->device, 4, "device event suppression");
	} else {
		ustor_vbm_map(m, q->desc, (size_t)(VBM_DESC_SIZE * n),
			      "descriptor table");
		ustor_vbm_map(m, q->driver, (size_t)(6 + 2 * n),
			      "available ring");
		ustor_vbm_map(m, q->device, (size_t)(6 + 8 * n), "used ring");
	}
	q->last_avail = 0;
	q->used_idx = 0;
	memset(q->inflight, 0, m->cfg.queue_num_max);
	q->enabled = 1;
	if (q->packed)
		ustor_vbm_packed_enable(m, qi);
}

static void drop_done(struct ustor_virtio_blk_model *m, int qi)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	size_t j = 0;

	for (size_t i = 0; i < p->ndone; i++)
		if (qi >= 0 && p->done[i].q != qi)
			p->done[j++] = p->done[i];
	p->ndone = j;
}

void ustor_vbm_queue_disable(struct ustor_virtio_blk_model *m, uint16_t qi)
{
	struct ustor_vbm_queue *q = &m->priv->q[qi];

	q->enabled = 0;
	drop_done(m, qi);
	memset(q->inflight, 0, m->cfg.queue_num_max);
	q->pk_n = 0;
	q->outstanding = 0;
}

void ustor_vbm_queues_reset(struct ustor_virtio_blk_model *m)
{
	drop_done(m, -1);
	for (unsigned i = 0; i < USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES; i++) {
		memset(m->priv->q[i].inflight, 0, m->cfg.queue_num_max);
		m->priv->q[i].pk_n = 0;
		m->priv->q[i].outstanding = 0;
	}
}

/* ---- Used ring and notifications ---------------------------------------- */

static void release(struct ustor_vbm_queue *q, uint16_t head)
{
	uint32_t idx = head;

	while (idx < q->num && q->inflight[idx]) {
		q->inflight[idx] = 0;
		idx = q->link[idx];
	}
}

/* Write one used element (2.7.8); 1 if written. */
static int post(struct ustor_virtio_blk_model *m, uint16_t qi, uint16_t head,
		uint32_t id, uint32_t len)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint64_t n = q->num;
	uint8_t *used = ustor_vbm_map(m, q->device, (size_t)(6 + 8 * n),
				      "used ring");
	uint8_t *e;

	if (!used) {
		ustor_vbm_set_broken(m, "used ring not mapped");
		return 0;
	}
	e = used + 4 + 8u * (q->used_idx & (q->num - 1u));
	vbm_put32(p->be, e, id);
	vbm_put32(p->be, e + 4, len);
	q->used_idx++;
	/* idx last, so the element is whole when the driver sees it */
	vbm_put16(p->be, used + 2, q->used_idx);
	release(q, head);
	m->used_posted++;
	return 1;
}

/* One used-buffer notification for the used elements posted since `old`,
 * unless the driver suppressed it (2.7.7, 2.7.10). */
static void maybe_signal(struct ustor_virtio_blk_model *m, uint16_t qi,
			 uint16_t old)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint64_t n = q->num;
	const uint8_t *avail;
	int need;

	if (q->used_idx == old)
		return;
	avail = ustor_vbm_map(m, q->driver, (size_t)(6 + 2 * n),
			      "available ring");
	if (!avail)
		return;
	if (ustor_vbm_has(m, VBM_F_EVENT_IDX)) {
		uint16_t ev = vbm_get16(p->be, avail + 4 + 2 * n);

		need = (uint16_t)(q->used_idx - ev - 1u) <
		       (uint16_t)(q->used_idx - old);
	} else {
		need = !(vbm_get16(p->be, avail) & VBM_AVAIL_F_NO_INTERRUPT);
	}
	if (need)
		ustor_vbm_signal_queue(m, qi);
	else
		m->used_suppressed++;
}

void ustor_vbm_complete(struct ustor_virtio_blk_model *m, uint16_t qi,
			uint16_t head, uint32_t len, uint16_t ndesc)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t id = head;

	if (m->bad_used_id) {
		m->bad_used_id--;
		id = p->q[qi].num + 5u; /* never made available */
	}
	if (m->bad_used_len) {
		m->bad_used_len--;
		len = 0xffffffffu;
	}
	if (m->never_complete || m->stall_until_reset)
		return;
	if (m->deferred) {
		if (p->ndone == p->cap_done) {
			size_t cap = p->cap_done ? p->cap_done * 2 : 64;
			struct ustor_vbm_done *nd =
				realloc(p->done, cap * sizeof(*nd));

			if (!nd) {
				ustor_vbm_set_broken(m, "out of host memory");
				return;
			}
			p->done = nd;
			p->cap_done = cap;
		}
		p->done[p->ndone].q = qi;
		p->done[p->ndone].head = head;
		p->done[p->ndone].id = id;
		p->done[p->ndone].len = len;
		p->done[p->ndone].ndesc = ndesc;
		p->ndone++;
		return;
	}
	if (p->q[qi].packed)
		ustor_vbm_packed_post(m, qi, id, len, ndesc);
	else
		post(m, qi, head, id, len);
}

unsigned ustor_vbm_process(struct ustor_virtio_blk_model *m)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t old[USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES];
	int touched[USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES] = { 0 };
	size_t n = p->ndone;
	unsigned posted = 0;

	if (!n || p->broken)
		return 0;
	if (is_pci(m) && !(p->pci_cmd & VBM_PCI_CMD_BME)) {
		ustor_vbm_violation(m, "used elements pending with PCI Bus "
				    "Master Enable off: not posted");
		return 0;
	}
	for (unsigned i = 0; i < USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES; i++)
		old[i] = p->q[i].packed ? p->q[i].used_total : p->q[i].used_idx;
	for (size_t i = 0; i < n && !p->broken; i++) {
		const struct ustor_vbm_done *d = &p->done[m->reorder ? n - 1 - i
								     : i];

		if (!p->q[d->q].enabled)
			continue;
		if (p->q[d->q].packed)
			posted += (unsigned)ustor_vbm_packed_post(m, d->q, d->id,
								  d->len,
								  d->ndesc);
		else
			posted += (unsigned)post(m, d->q, d->head, d->id,
						 d->len);
		touched[d->q] = 1;
	}
	p->ndone = 0;
	for (uint16_t i = 0; i < USTOR_VIRTIO_BLK_MODEL_MAX_QUEUES; i++)
		if (touched[i] && !p->broken) {
			if (p->q[i].packed)
				ustor_vbm_packed_signal(m, i, old[i]);
			else
				maybe_signal(m, i, (uint16_t)old[i]);
		}
	return posted;
}

/* ---- Descriptor chains (2.7.5) ---------------------------------------- */

int ustor_vbm_seg_push(struct ustor_virtio_blk_model *m, uint8_t *host,
		       uint32_t len, int write)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	if (p->nsegs == p->cap_segs) {
		size_t cap = p->cap_segs ? p->cap_segs * 2 : 64;
		struct ustor_vbm_seg *ns = realloc(p->segs, cap * sizeof(*ns));

		if (!ns)
			return -1;
		p->segs = ns;
		p->cap_segs = cap;
	}
	p->segs[p->nsegs].host = host;
	p->segs[p->nsegs].len = len;
	p->segs[p->nsegs].write = write;
	p->nsegs++;
	return 0;
}

/* The indirect descriptor at `d` (2.7.5.3): 0 and the table, or -1. */
static int indirect_check(struct ustor_virtio_blk_model *m, uint16_t qi,
			  uint16_t head, uint64_t addr, uint32_t len,
			  uint16_t flags, int nested)
{
	if (!ustor_vbm_has(m, VBM_F_INDIRECT)) {
		ustor_vbm_violation(m, "queue %u head %u: INDIRECT descriptor "
				    "without VIRTIO_F_INDIRECT_DESC "
				    "negotiated", qi, head);
		return -1;
	}
	if (nested) {
		ustor_vbm_violation(m, "queue %u head %u: INDIRECT descriptor "
				    "inside an indirect table", qi, head);
		return -1;
	}
	if (flags & VBM_DESC_F_NEXT) {
		ustor_vbm_violation(m, "queue %u head %u: descriptor with both "
				    "INDIRECT and NEXT", qi, head);
		return -1;
	}
	if (len == 0 || len % VBM_DESC_SIZE) {
		ustor_vbm_violation(m, "queue %u head %u: indirect table "
				    "length %u is not a non-zero multiple of "
				    "16", qi, head, len);
		return -1;
	}
	if (!ustor_vbm_map(m, addr, len, "indirect descriptor table"))
		return -1;
	m->indirect_tables++;
	return 0;
}

/*
 * Walk the chain of `head` into priv->segs (readable ones first, as the
 * driver must place them) and priv->chain (its direct descriptors);
 * returns the number of direct descriptors, or -1 after a violation.
 */
static int chain_walk(struct ustor_virtio_blk_model *m, uint16_t qi,
		      uint16_t head)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint64_t table = q->desc;
	uint32_t table_n = q->num, idx = head, nind = 0;
	int indirect = 0, seen_write = 0, ndirect = 0;

	p->nsegs = 0;
	memset(p->visited, 0, q->num);
	for (;;) {
		const uint8_t *d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
		uint8_t *host = NULL;
		int write;

		if (!indirect) {
			if (p->visited[idx]) {
				ustor_vbm_violation(m, "queue %u: descriptor "
						    "chain of head %u loops "
						    "back to descriptor %u",
						    qi, head, idx);
				return -1;
			}
			if (q->inflight[idx]) {
				ustor_vbm_violation(m, "queue %u: descriptor "
						    "%u (chain of head %u) is "
						    "still owned by the device",
						    qi, idx, head);
				return -1;
			}
			p->visited[idx] = 1;
			p->chain[ndirect++] = (uint16_t)idx;
		} else if (++nind > table_n) {
			ustor_vbm_violation(m, "queue %u head %u: indirect "
					    "chain loops (more than %u "
					    "descriptors)", qi, head, table_n);
			return -1;
		}
		d = ustor_vbm_map(m, table + (uint64_t)idx * VBM_DESC_SIZE,
				  VBM_DESC_SIZE,
				  indirect ? "indirect descriptor"
					   : "descriptor");
		if (!d)
			return -1;
		addr = vbm_get64(p->be, d);
		len = vbm_get32(p->be, d + 8);
		flags = vbm_get16(p->be, d + 12);
		next = vbm_get16(p->be, d + 14);
		if (flags & VBM_DESC_F_INDIRECT) {
			if (indirect_check(m, qi, head, addr, len, flags,
					   indirect) != 0)
				return -1;
			indirect = 1;
			table = addr;
			table_n = len / VBM_DESC_SIZE;
			idx = 0;
			continue;
		}
		write = (flags & VBM_DESC_F_WRITE) != 0;
		if (!write && seen_write) {
			ustor_vbm_violation(m, "queue %u head %u: "
					    "device-readable descriptor after "
					    "a device-writable one", qi, head);
			return -1;
		}
		seen_write |= write;
		if (len) {
			host = ustor_vbm_map(m, addr, len,
					     write ? "device-writable buffer"
						   : "device-readable buffer");
			if (!host)
				return -1;
		}
		if (ustor_vbm_seg_push(m, host, len, write) != 0) {
			ustor_vbm_violation(m, "model out of host memory");
			return -1;
		}
		if (!(flags & VBM_DESC_F_NEXT))
			break;
		if (next >= table_n) {
			ustor_vbm_violation(m, "queue %u head %u: next %u out "
					    "of range (%s of %u)", qi, head,
					    next,
					    indirect ? "indirect table"
						     : "queue size",
					    table_n);
			return -1;
		}
		idx = next;
	}
	return ndirect;
}

/* ---- Byte streams over the chain --------------------------------------- */

static void stream_read(const struct ustor_virtio_blk_model_priv *p,
			size_t first, size_t end, uint64_t off, uint8_t *dst,
			uint64_t len)
{
	for (size_t i = first; i < end && len; i++) {
		const struct ustor_vbm_seg *s = &p->segs[i];
		uint64_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = s->len - off < len ? s->len - off : len;
		memcpy(dst, s->host + off, (size_t)k);
		dst += k;
		len -= k;
		off = 0;
	}
}

static void stream_write(const struct ustor_virtio_blk_model_priv *p,
			 size_t first, size_t end, uint64_t off,
			 const uint8_t *src, uint64_t len)
{
	for (size_t i = first; i < end && len; i++) {
		const struct ustor_vbm_seg *s = &p->segs[i];
		uint64_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = s->len - off < len ? s->len - off : len;
		memcpy(s->host + off, src, (size_t)k);
		src += k;
		len -= k;
		off = 0;
	}
}

/* How many descriptors [off, off+len) of a stream touches, and the longest
 * piece. */
static void stream_pieces(const struct ustor_virtio_blk_model_priv *p,
			  size_t first, size_t end, uint64_t off, uint64_t len,
			  uint32_t *count, uint64_t *longest)
{
	*count = 0;
	*longest = 0;
	for (size_t i = first; i < end && len; i++) {
		const struct ustor_vbm_seg *s = &p->segs[i];
		uint64_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = s->len - off < len ? s->len - off : len;
		(*count)++;
		if (k > *longest)
			*longest = k;
		len -= k;
		off = 0;
	}
}

/* ---- Requests (5.2.6) ---------------------------------------------------- */

static int range_ok(const struct ustor_virtio_blk_model *m, uint64_t sector,
		    uint64_t nsec)
{
	uint64_t cap = m->priv->capacity;

	return sector <= cap && nsec <= cap - sector;
}

static int ioerr_hit(const struct ustor_virtio_blk_model *m, uint64_t sector,
		     uint64_t nsec)
{
	uint64_t first = m->ioerr_sector_first, count = m->ioerr_sector_count;

	if (!count || !nsec)
		return 0;
	return sector >= first ? sector - first < count : first - sector < nsec;
}

static void data_shape_check(struct ustor_virtio_blk_model *m,
			     const struct vbm_req *r, int write,
			     uint64_t len)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	uint32_t count;
	uint64_t longest;

	if (write)
		stream_pieces(p, 0, r->nr, VBM_REQ_HDR_SIZE, len, &count,
			      &longest);
	else
		stream_pieces(p, r->nr, p->nsegs, 0, len, &count, &longest);
	if (ustor_vbm_has(m, VBM_F_SEG_MAX) && count > m->cfg.seg_max)
		ustor_vbm_violation(m, "queue %u head %u: %u data segments, "
				    "seg_max is %u", r->q, r->head, count,
				    m->cfg.seg_max);
	if (ustor_vbm_has(m, VBM_F_SIZE_MAX) && longest > m->cfg.size_max)
		ustor_vbm_violation(m, "queue %u head %u: a %llu-byte data "
				    "segment, size_max is %u", r->q, r->head,
				    (unsigned long long)longest,
				    m->cfg.size_max);
}

static uint8_t exec_rw(struct ustor_virtio_blk_model *m, struct vbm_req *r,
		       int write)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	const char *name = write ? "OUT" : "IN";
	uint64_t len = write ? r->r_total - VBM_REQ_HDR_SIZE : r->w_total - 1;
	uint64_t nsec, spb = m->cfg.blk_size / VBM_SECTOR;
	uint8_t *disk;

	if (write) {
		m->writes++;
		if (r->w_total > 1)
			ustor_vbm_violation(m, "queue %u head %u: OUT with %llu "
					    "device-writable bytes before the "
					    "status byte", r->q, r->head,
					    (unsigned long long)(r->w_total -
								 1));
	} else {
		m->reads++;
		if (r->r_total > VBM_REQ_HDR_SIZE)
			ustor_vbm_violation(m, "queue %u head %u: IN with %llu "
					    "device-readable bytes after the "
					    "header", r->q, r->head,
					    (unsigned long long)(r->r_total -
						    VBM_REQ_HDR_SIZE));
	}
	if (len % VBM_SECTOR) {
		ustor_vbm_violation(m, "queue %u head %u: %s data length "
				    "%llu is not a multiple of 512", r->q,
				    r->head, name, (unsigned long long)len);
		return VBM_BLK_S_IOERR;
	}
	nsec = len / VBM_SECTOR;
	data_shape_check(m, r, write, len);
	if (!range_ok(m, r->sector, nsec)) {
		ustor_vbm_violation(m, "queue %u head %u: %s of sectors "
				    "%llu+%llu beyond capacity %llu", r->q,
				    r->head, name,
				    (unsigned long long)r->sector,
				    (unsigned long long)nsec,
				    (unsigned long long)p->capacity);
		return VBM_BLK_S_IOERR;
	}
	if (spb > 1 && (r->sector % spb || nsec % spb)) {
		m->misaligned_requests++;
		if (m->strict_blk_size)
			return VBM_BLK_S_IOERR;
	}
	if (ioerr_hit(m, r->sector, nsec))
		return VBM_BLK_S_IOERR;
	disk = p->disk + r->sector * VBM_SECTOR;
	if (write) {
		if (p->offered & VBM_F_RO) {
			m->ro_rejects++;
			return VBM_BLK_S_IOERR;
		}
		stream_read(p, 0, r->nr, VBM_REQ_HDR_SIZE, disk, len);
		m->bytes_written += len;
		if (p->writeback)
			m->unflushed_writes++;
	} else {
		stream_write(p, r->nr, p->nsegs, 0, disk, len);
		m->bytes_read += len;
		r->written = (uint32_t)len;
	}
	return VBM_BLK_S_OK;
}

static uint8_t exec_flush(struct ustor_virtio_blk_model *m,
			  const struct vbm_req *r)
{
	m->flushes++;
	if (!(m->priv->offered & VBM_F_FLUSH))
		return VBM_BLK_S_UNSUPP;
	if (r->sector)
		ustor_vbm_violation(m, "queue %u head %u: FLUSH with sector "
				    "%llu (must be 0)", r->q, r->head,
				    (unsigned long long)r->sector);
	m->unflushed_writes = 0;
	return VBM_BLK_S_OK;
}

static uint8_t exec_get_id(struct ustor_virtio_blk_model *m, struct vbm_req *r)
{
	uint8_t id[VBM_ID_BYTES];
	uint64_t len = r->w_total - 1;

	m->get_ids++;
	if (r->r_total > VBM_REQ_HDR_SIZE)
		ustor_vbm_violation(m, "queue %u head %u: GET_ID with "
				    "device-readable data", r->q, r->head);
	if (len != VBM_ID_BYTES)
		ustor_vbm_violation(m, "queue %u head %u: GET_ID data length "
				    "%llu (must be 20)", r->q, r->head,
				    (unsigned long long)len);
	memset(id, 0, sizeof(id));
	memcpy(id, m->cfg.serial, strlen(m->cfg.serial));
	if (len > VBM_ID_BYTES)
		len = VBM_ID_BYTES;
	stream_write(m->priv, r->nr, m->priv->nsegs, 0, id, len);
	r->written = (uint32_t)len;
	return VBM_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: every segment is checked before any runs. */
static uint8_t exec_dwz(struct ustor_virtio_blk_model *m,
			const struct vbm_req *r, int wz)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	const char *name = wz ? "WRITE_ZEROES" : "DISCARD";
	uint64_t data = r->r_total - VBM_REQ_HDR_SIZE, nseg;
	uint32_t max_seg = wz ? m->cfg.max_write_zeroes_seg
			      : m->cfg.max_discard_seg;
	uint32_t max_sec = wz ? m->cfg.max_write_zeroes_sectors
			      : m->cfg.max_discard_sectors;
	uint8_t s[VBM_DWZ_SEG_SIZE];

	if (wz)
		m->write_zeroes++;
	else
		m->discards++;
	if (!ustor_vbm_has(m, wz ? VBM_F_WRITE_ZEROES : VBM_F_DISCARD)) {
		ustor_vbm_violation(m, "queue %u head %u: %s without its "
				    "feature negotiated", r->q, r->head, name);
		return VBM_BLK_S_UNSUPP;
	}
	if (r->w_total > 1)
		ustor_vbm_violation(m, "queue %u head %u: %s with "
				    "device-writable data", r->q, r->head,
				    name);
	nseg = data / VBM_DWZ_SEG_SIZE;
	if (data == 0 || data % VBM_DWZ_SEG_SIZE || nseg > max_seg) {
		ustor_vbm_violation(m, "queue %u head %u: %s with %llu bytes "
				    "of segments (16 each, at most %u)", r->q,
				    r->head, name, (unsigned long long)data,
				    max_seg);
		return VBM_BLK_S_IOERR;
	}
	for (uint64_t i = 0; i < nseg; i++) {
		uint64_t sector;
		uint32_t num, flags;

		stream_read(p, 0, r->nr, VBM_REQ_HDR_SIZE + i * sizeof(s), s,
			    sizeof(s));
		sector = vbm_get64(p->be, s);
		num = vbm_get32(p->be, s + 8);
		flags = vbm_get32(p->be, s + 12);
		if ((flags & ~VBM_DWZ_F_UNMAP) || (!wz && flags)) {
			ustor_vbm_violation(m, "queue %u head %u: %s segment "
					    "%llu with flags 0x%x", r->q,
					    r->head, name,
					    (unsigned long long)i, flags);
			return VBM_BLK_S_UNSUPP;
		}
		if (num > max_sec || !range_ok(m, sector, num)) {
			ustor_vbm_violation(m, "queue %u head %u: %s segment "
					    "%llu+%u (at most %u sectors, "
					    "capacity %llu)", r->q, r->head,
					    name, (unsigned long long)sector,
					    num, max_sec,
					    (unsigned long long)p->capacity);
			return VBM_BLK_S_IOERR;
		}
		if (ioerr_hit(m, sector, num))
			return VBM_BLK_S_IOERR;
	}
	if (p->offered & VBM_F_RO) {
		m->ro_rejects++;
		return VBM_BLK_S_IOERR;
	}
	for (uint64_t i = 0; i < nseg; i++) {
		uint8_t *disk;
		size_t bytes;

		stream_read(p, 0, r->nr, VBM_REQ_HDR_SIZE + i * sizeof(s), s,
			    sizeof(s));
		disk = p->disk + vbm_get64(p->be, s) * VBM_SECTOR;
		bytes = (size_t)vbm_get32(p->be, s + 8) * VBM_SECTOR;
		if (wz)
			memset(disk, 0, bytes);
		else if (m->discard_fill >= 0)
			memset(disk, m->discard_fill & 0xff, bytes);
	}
	if (p->writeback)
		m->unflushed_writes++;
	return VBM_BLK_S_OK;
}

/* Legacy framing (5.2.6.4): header alone in one 16-byte descriptor, status
 * alone in a 1-byte descriptor. */
static void framing_check(struct ustor_virtio_blk_model *m,
			  const struct vbm_req *r)
{
	const struct ustor_virtio_blk_model_priv *p = m->priv;

	if (!p->legacy && !m->strict_framing)
		return;
	if (p->segs[0].write || p->segs[0].len != VBM_REQ_HDR_SIZE)
		ustor_vbm_violation(m, "queue %u head %u: header not in one "
				    "16-byte device-readable descriptor",
				    r->q, r->head);
	if (!p->segs[p->nsegs - 1].write || p->segs[p->nsegs - 1].len != 1)
		ustor_vbm_violation(m, "queue %u head %u: status not in its "
				    "own 1-byte device-writable descriptor",
				    r->q, r->head);
}

static void request(struct ustor_virtio_blk_model *m, uint16_t qi,
		    uint16_t head)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint32_t len;
	int ndirect;

	m->requests++;
	if (head >= q->num) {
		ustor_vbm_violation(m, "queue %u: available ring names head "
				    "%u, queue size is %u", qi, head, q->num);
		ustor_vbm_set_broken(m, "head out of range");
		return;
	}
	ndirect = chain_walk(m, qi, head);
	if (ndirect < 0) {
		ustor_vbm_set_broken(m, "malformed descriptor chain");
		return;
	}
	for (int i = 0; i < ndirect; i++) {
		uint16_t d = p->chain[i];

		q->inflight[d] = 1;
		q->link[d] = i + 1 < ndirect ? p->chain[i + 1] : VBM_NO_LINK;
	}
	if (ustor_vbm_execute(m, qi, head, &len) == 0)
		ustor_vbm_complete(m, qi, head, len, (uint16_t)ndirect);
}

int ustor_vbm_execute(struct ustor_virtio_blk_model *m, uint16_t qi,
		      uint16_t head, uint32_t *out_len)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct vbm_req r;
	uint8_t hdr[VBM_REQ_HDR_SIZE], status;

	memset(&r, 0, sizeof(r));
	r.q = qi;
	r.head = head;
	for (size_t i = 0; i < p->nsegs; i++) {
		if (p->segs[i].write) {
			r.w_total += p->segs[i].len;
		} else {
			r.r_total += p->segs[i].len;
			r.nr = i + 1;
		}
	}
	if (r.r_total < VBM_REQ_HDR_SIZE || r.w_total < 1) {
		ustor_vbm_violation(m, "queue %u head %u: %llu device-readable "
				    "and %llu device-writable bytes; a "
				    "request needs a 16-byte header and a "
				    "status byte", qi, head,
				    (unsigned long long)r.r_total,
				    (unsigned long long)r.w_total);
		ustor_vbm_set_broken(m, "request without header or status");
		return -1;
	}
	framing_check(m, &r);
	stream_read(p, 0, r.nr, 0, hdr, sizeof(hdr));
	r.type = vbm_get32(p->be, hdr);
	r.sector = vbm_get64(p->be, hdr + 8);
	switch (r.type) {
	case VBM_T_IN:
		status = exec_rw(m, &r, 0);
		break;
	case VBM_T_OUT:
		status = exec_rw(m, &r, 1);
		break;
	case VBM_T_FLUSH:
		status = exec_flush(m, &r);
		break;
	case VBM_T_GET_ID:
		status = exec_get_id(m, &r);
		break;
	case VBM_T_DISCARD:
		status = exec_dwz(m, &r, 0);
		break;
	case VBM_T_WRITE_ZEROES:
		status = exec_dwz(m, &r, 1);
		break;
	default:
		if (p->legacy && r.type == VBM_T_FLUSH_OUT) {
			status = exec_flush(m, &r);
			break;
		}
		m->unsupported++;
		status = VBM_BLK_S_UNSUPP;
		break;
	}
	if (status == VBM_BLK_S_IOERR)
		m->ioerr_completions++;
	else if (status == VBM_BLK_S_UNSUPP)
		m->unsupp_completions++;
	/* the status byte: the last byte of the device-writable stream */
	stream_write(p, r.nr, p->nsegs, r.w_total - 1, &status, 1);
	*out_len = r.written + 1u;
	return 0;
}


/* ---- Available-buffer notifications (2.7.13, 4.1.5.2, 4.2.3.3) ---------- */

void ustor_vbm_needs_reset(struct ustor_virtio_blk_model *m)
{
	m->priv->status |= VBM_S_NEEDS_RESET;
	ustor_vbm_signal_config(m);
}

int ustor_vbm_stopped(const struct ustor_virtio_blk_model *m)
{
	return m->priv->broken || (m->priv->status & VBM_S_NEEDS_RESET);
}

static void process_avail(struct ustor_virtio_blk_model *m, uint16_t qi)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint64_t n = q->num;
	const uint8_t *avail = ustor_vbm_map(m, q->driver, (size_t)(6 + 2 * n),
					     "available ring");
	uint8_t *used = ustor_vbm_map(m, q->device, (size_t)(6 + 8 * n),
				      "used ring");
	uint16_t old = q->used_idx, idx;

	if (!avail || !used) {
		ustor_vbm_set_broken(m, "ring not mapped");
		return;
	}
	idx = vbm_get16(p->be, avail + 2);
	if ((uint16_t)(idx - q->last_avail) > n) {
		ustor_vbm_violation(m, "queue %u: available idx %u is %u "
				    "entries ahead of the device's %u (queue "
				    "size %u)", qi, idx,
				    (uint16_t)(idx - q->last_avail),
				    q->last_avail, q->num);
		ustor_vbm_set_broken(m, "available idx out of range");
		return;
	}
	if (q->last_avail == idx)
		m->notifications_unneeded++;
	while (q->last_avail != idx && !ustor_vbm_stopped(m)) {
		uint16_t head = vbm_get16(p->be, avail + 4 +
					  2u * (q->last_avail &
						(q->num - 1u)));

		q->last_avail++;
		request(m, qi, head);
		if (m->needs_reset_after > 0 && --m->needs_reset_after == 0) {
			m->needs_reset_after = -1;
			ustor_vbm_needs_reset(m);
		}
	}
	if (ustor_vbm_has(m, VBM_F_EVENT_IDX) && !p->broken)
		vbm_put16(p->be, used + 4 + 8 * n, q->last_avail);
	if (!p->broken)
		maybe_signal(m, qi, old);
}

void ustor_vbm_notify(struct ustor_virtio_blk_model *m, uint32_t qi)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;

	m->notifications++;
	if (qi >= m->cfg.num_queues) {
		ustor_vbm_violation(m, "notification for queue %u: no such "
				    "queue", qi);
		return;
	}
	if (is_pci(m) && !(p->pci_cmd & VBM_PCI_CMD_BME)) {
		ustor_vbm_violation(m, "notification for queue %u with PCI "
				    "Bus Master Enable off: not processed",
				    qi);
		return;
	}
	if (!(p->status & VBM_S_DRIVER_OK)) {
		ustor_vbm_violation(m, "notification for queue %u before "
				    "DRIVER_OK (status 0x%02x)", qi,
				    p->status);
		return;
	}
	if (!p->legacy && !(p->status & VBM_S_FEATURES_OK))
		return; /* DRIVER_OK without FEATURES_OK: already reported */
	if (p->status & VBM_S_FAILED) {
		ustor_vbm_violation(m, "notification for queue %u after the "
				    "driver set FAILED", qi);
		return;
	}
	if (!p->q[qi].enabled) {
		ustor_vbm_violation(m, "notification for queue %u, which is "
				    "not enabled", qi);
		return;
	}
	if (ustor_vbm_stopped(m))
		return;
	if (m->needs_reset_after == 0) {
		m->needs_reset_after = -1;
		ustor_vbm_needs_reset(m);
		return;
	}
	if (p->q[qi].packed)
		ustor_vbm_packed_process_avail(m, (uint16_t)qi);
	else
		process_avail(m, (uint16_t)qi);
}
