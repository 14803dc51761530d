/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk model: packed virtqueues (VIRTIO 1.2 section 2.8): available
 * descriptors found by their AVAIL/USED flags against the device's wrap
 * counter, chains (direct, or one indirect table), used descriptors written
 * in ring order, and the two event suppression structures.
 */
#include <string.h>

#include "virtio_blk_model_int.h"

void ustor_vbm_packed_enable(struct ustor_virtio_blk_model *m, uint16_t qi)
{
	struct ustor_vbm_queue *q = &m->priv->q[qi];
	uint8_t *dev_evt = ustor_vbm_map(m, q->device, 4,
					 "device event suppression");

	/* Both wrap counters start at 1 (2.8.1). */
	q->avail_wrap = 1;
	q->used_wrap = 1;
	q->used_total = 0;
	q->outstanding = 0;
	q->pk_n = 0;
	if (dev_evt) { /* notifications enabled */
		vbm_put16(0, dev_evt, 0);
		vbm_put16(0, dev_evt + 2, VBM_EVT_ENABLE);
	}
}

/* Is the descriptor at `pos` available in the device's current lap? */
static int avail_at(struct ustor_virtio_blk_model *m,
		    const struct ustor_vbm_queue *q, uint32_t pos, int wrap)
{
	const uint8_t *d = ustor_vbm_map(m, q->desc + (uint64_t)pos * 16u, 16,
					 "packed descriptor");
	uint16_t f;

	if (!d)
		return -1;
	f = vbm_get16(0, d + 14);
	return !!(f & VBM_PDESC_F_AVAIL) == wrap &&
	       !!(f & VBM_PDESC_F_USED) != wrap;
}

static int push_buffer(struct ustor_virtio_blk_model *m, uint16_t qi,
		       uint64_t addr, uint32_t len, int write, int *seen_write)
{
	uint8_t *host = NULL;

	if (!write && *seen_write) {
		ustor_vbm_violation(m, "queue %u: device-readable descriptor "
				    "after a device-writable one", qi);
		return -1;
	}
	*seen_write |= write;
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
	return 0;
}

/*
 * Walk the chain starting at the queue's next available position into
 * priv->segs. Returns the ring descriptors it takes and its buffer id, or
 * -1 after a violation.
 */
static int walk(struct ustor_virtio_blk_model *m, uint16_t qi,
		uint16_t *out_id)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint32_t pos = q->last_avail;
	int wrap = q->avail_wrap, seen_write = 0, n = 0;

	p->nsegs = 0;
	for (;;) {
		const uint8_t *d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;

		if (n > 0 && avail_at(m, q, pos, wrap) != 1) {
			ustor_vbm_violation(m, "queue %u: chain continues at "
					    "position %u, which is not "
					    "available", qi, pos);
			return -1;
		}
		if ((uint32_t)n + q->outstanding >= q->num) {
			ustor_vbm_violation(m, "queue %u: more descriptors "
					    "available than the ring holds "
					    "(%u outstanding)", qi,
					    q->outstanding);
			return -1;
		}
		d = ustor_vbm_map(m, q->desc + (uint64_t)pos * 16u, 16,
				  "packed descriptor");
		if (!d)
			return -1;
		addr = vbm_get64(0, d);
		len = vbm_get32(0, d + 8);
		*out_id = vbm_get16(0, d + 12);
		flags = vbm_get16(0, d + 14);
		n++;
		if (++pos == q->num) {
			pos = 0;
			wrap ^= 1;
		}
		if (flags & VBM_DESC_F_INDIRECT) {
			const uint8_t *t;

			if (!ustor_vbm_has(m, VBM_F_INDIRECT)) {
				ustor_vbm_violation(m, "queue %u: INDIRECT "
						    "descriptor without "
						    "VIRTIO_F_INDIRECT_DESC",
						    qi);
				return -1;
			}
			if (n > 1 || (flags & VBM_DESC_F_NEXT)) {
				ustor_vbm_violation(m, "queue %u: INDIRECT "
						    "descriptor inside a "
						    "chain", qi);
				return -1;
			}
			if (len == 0 || len % 16u) {
				ustor_vbm_violation(m, "queue %u: indirect "
						    "table length %u", qi, len);
				return -1;
			}
			t = ustor_vbm_map(m, addr, len,
					  "indirect descriptor table");
			if (!t)
				return -1;
			m->indirect_tables++;
			/* Consecutive entries; only WRITE is meaningful
			 * (2.8.19). */
			for (uint32_t i = 0; i < len / 16u; i++) {
				const uint8_t *e = t + 16u * i;
				uint16_t ef = vbm_get16(0, e + 14);

				if (ef & VBM_DESC_F_INDIRECT) {
					ustor_vbm_violation(m, "queue %u: "
							    "nested indirect "
							    "table", qi);
					return -1;
				}
				if (push_buffer(m, qi, vbm_get64(0, e),
						vbm_get32(0, e + 8),
						!!(ef & VBM_DESC_F_WRITE),
						&seen_write) != 0)
					return -1;
			}
			return n;
		}
		if (push_buffer(m, qi, addr, len, !!(flags & VBM_DESC_F_WRITE),
				&seen_write) != 0)
			return -1;
		if (!(flags & VBM_DESC_F_NEXT))
			return n;
	}
}

static int id_held(const struct ustor_vbm_queue *q, uint16_t id)
{
	for (uint32_t i = 0; i < q->pk_n; i++)
		if (q->pk_id[i] == id)
			return (int)i;
	return -1;
}

void ustor_vbm_packed_process_avail(struct ustor_virtio_blk_model *m,
				    uint16_t qi)
{
	struct ustor_virtio_blk_model_priv *p = m->priv;
	struct ustor_vbm_queue *q = &p->q[qi];
	uint32_t old = q->used_total;
	int any = 0;

	while (!ustor_vbm_stopped(m)) {
		int a = avail_at(m, q, q->last_avail, q->avail_wrap);
		uint16_t id = 0;
		uint32_t len;
		int n;

		if (a < 0) {
			ustor_vbm_set_broken(m, "ring not mapped");
			return;
		}
		if (!a)
			break;
		any = 1;
		m->requests++;
		n = walk(m, qi, &id);
		if (n < 0) {
			ustor_vbm_set_broken(m, "malformed descriptor chain");
			return;
		}
		if (id_held(q, id) >= 0) {
			ustor_vbm_violation(m, "queue %u: buffer id %u made "
					    "available again while the device "
					    "holds it", qi, id);
			ustor_vbm_set_broken(m, "buffer id reused");
			return;
		}
		if (q->pk_n < q->num) {
			q->pk_id[q->pk_n] = id;
			q->pk_ndesc[q->pk_n] = (uint16_t)n;
			q->pk_n++;
		}
		q->outstanding += (uint32_t)n;
		q->last_avail = (uint16_t)(q->last_avail + n);
		if (q->last_avail >= q->num) {
			q->last_avail = (uint16_t)(q->last_avail - q->num);
			q->avail_wrap ^= 1;
		}
		if (ustor_vbm_execute(m, qi, id, &len) != 0)
			return;
		ustor_vbm_complete(m, qi, id, len, (uint16_t)n);
		if (m->needs_reset_after > 0 && --m->needs_reset_after == 0) {
			m->needs_reset_after = -1;
			ustor_vbm_needs_reset(m);
		}
	}
	if (!any)
		m->notifications_unneeded++;
	if (p->broken)
		return;
	if (ustor_vbm_has(m, VBM_F_EVENT_IDX)) {
		/* Ask for the next notification at the next position. */
		uint8_t *dev_evt = ustor_vbm_map(m, q->device, 4,
						 "device event suppression");

		if (dev_evt) {
			vbm_put16(0, dev_evt, (uint16_t)(q->last_avail |
							 (q->avail_wrap << 15)));
			vbm_put16(0, dev_evt + 2, VBM_EVT_DESC);
		}
	}
	ustor_vbm_packed_signal(m, qi, old);
}

int ustor_vbm_packed_post(struct ustor_virtio_blk_model *m, uint16_t qi,
			  uint32_t id, uint32_t len, uint16_t ndesc)
{
	struct ustor_vbm_queue *q = &m->priv->q[qi];
	uint8_t *d = ustor_vbm_map(m, q->desc + (uint64_t)q->used_idx * 16u,
				   16, "packed descriptor ring");
	int held = id_held(q, (uint16_t)id);

	if (!d) {
		ustor_vbm_set_broken(m, "ring not mapped");
		return 0;
	}
	/* id and len first, the flags that make them visible last. */
	vbm_put32(0, d + 8, len);
	vbm_put16(0, d + 12, (uint16_t)id);
	vbm_put16(0, d + 14, q->used_wrap ? (VBM_PDESC_F_AVAIL |
					     VBM_PDESC_F_USED) : 0);
	if (held >= 0) {
		q->pk_id[held] = q->pk_id[q->pk_n - 1];
		q->pk_ndesc[held] = q->pk_ndesc[q->pk_n - 1];
		q->pk_n--;
	}
	q->outstanding -= ndesc <= q->outstanding ? ndesc : q->outstanding;
	q->used_total += ndesc;
	q->used_idx = (uint16_t)(q->used_idx + ndesc);
	if (q->used_idx >= q->num) {
		q->used_idx = (uint16_t)(q->used_idx - q->num);
		q->used_wrap ^= 1;
	}
	m->used_posted++;
	return 1;
}

void ustor_vbm_packed_signal(struct ustor_virtio_blk_model *m, uint16_t qi,
			     uint32_t old_total)
{
	struct ustor_vbm_queue *q = &m->priv->q[qi];
	const uint8_t *drv = ustor_vbm_map(m, q->driver, 4,
					   "driver event suppression");
	uint16_t flags, off_wrap;
	int need = 0;

	if (q->used_total == old_total || !drv)
		return;
	off_wrap = vbm_get16(0, drv);
	flags = vbm_get16(0, drv + 2) & 3u;
	if (flags == VBM_EVT_DESC && !ustor_vbm_has(m, VBM_F_EVENT_IDX)) {
		ustor_vbm_violation(m, "queue %u: driver event flags DESC "
				    "without VIRTIO_F_EVENT_IDX", qi);
		flags = VBM_EVT_ENABLE;
	}
	if (flags == VBM_EVT_ENABLE) {
		need = 1;
	} else if (flags == VBM_EVT_DESC) {
		/* Any position written over in this batch, in its lap (the
		 * lap of total t is 1 for even t / num, as counters start at
		 * 1). */
		uint32_t off = off_wrap & 0x7fffu, w = off_wrap >> 15;

		for (uint32_t t = old_total; t != q->used_total && !need; t++)
			need = t % q->num == off &&
			       ((t / q->num) & 1u) == (w ^ 1u);
	}
	if (need)
		ustor_vbm_signal_queue(m, qi);
	else
		m->used_suppressed++;
}
