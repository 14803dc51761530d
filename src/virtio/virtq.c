/* SPDX-License-Identifier: MIT */
/*
 * Virtqueues (VIRTIO 1.2 sections 2.7 split, 2.8 packed), shared by every
 * transport. The driver's view of the descriptor links and of each posted
 * chain lives in a private shadow; the ring memory is only ever written by
 * the driver (descriptors, available ring, event suppression) or read and
 * checked (used ring, used descriptors, the device's event index).
 */
#include "virtio_internal.h"

/* Packed layout: the device's event suppression area gets a cache line of
 * its own after the driver's. */
#define USTOR_PVIRTQ_DEV_EVT_ALIGN 64u

static void ustor_virtq_layout(struct ustor_virtq *vq)
{
	uint32_t size = vq->size;
	uint32_t off;

	if (vq->packed) {
		vq->avail_off = size << 4;
		off = vq->avail_off + (uint32_t)sizeof(struct ustor_pvirtq_event);
		vq->used_off = (off + USTOR_PVIRTQ_DEV_EVT_ALIGN - 1u) &
			       ~(USTOR_PVIRTQ_DEV_EVT_ALIGN - 1u);
		vq->ring_bytes = vq->used_off + (uint32_t)sizeof(struct ustor_pvirtq_event);
		return;
	}
	/* Legacy layout (2.7.2): descriptors (16-byte aligned), available
	 * ring right after, used ring at the next legacy page. Modern
	 * transports accept it too (their alignments are 16, 2 and 4), and the
	 * used ring, written by the device, gets cache lines of its own. The
	 * event fields (2 bytes each) are counted in whether used or not. */
	vq->avail_off = USTOR_VIRTQ_AVAIL_OFF(size);
	off = vq->avail_off + USTOR_VIRTQ_AVAIL_BYTES(size);
	vq->used_off = (off + USTOR_VIRTIO_LEGACY_PAGE - 1u) & ~(USTOR_VIRTIO_LEGACY_PAGE - 1u);
	vq->ring_bytes = vq->used_off + USTOR_VIRTQ_USED_BYTES(size);
}

ustor_status ustor_virtq_init(struct ustor_virtq *vq, struct ustor_virtio_dev *dev, uint16_t index,
			      const struct ustor_virtq_opts *opts)
{
	const struct ustor_hal *hal = dev->hal;
	uint16_t size = opts->size;
	uint32_t i;
	ustor_bus_addr ignored;
	ustor_status st;

	ustor_memset(vq, 0, sizeof(*vq));
	if (size < 2 || size > USTOR_VIRTQ_MAX_SIZE || (size & (size - 1u)) != 0 ||
	    opts->ind_max == 1u)
		return USTOR_ERR_INVALID_ARG;
	vq->hal = hal;
	vq->index = index;
	vq->size = size;
	vq->mask = (uint16_t)(size - 1u);
	vq->legacy = dev->legacy;
	vq->sync = hal->dma_sync != NULL;
	vq->packed = opts->packed != 0;
	vq->event_idx = opts->event_idx != 0;
	vq->msix_vector = opts->msix_vector;
	ustor_virtq_layout(vq);
	vq->ring =
		hal->dma_alloc(hal->ctx, vq->ring_bytes, USTOR_VIRTIO_LEGACY_PAGE, &vq->ring_bus);
	if (vq->ring == NULL)
		goto nomem;
	vq->shadow_bytes =
		(uint32_t)size * (uint32_t)(sizeof(uint16_t) + sizeof(struct ustor_virtq_head));
	vq->shadow_mem = hal->dma_alloc(hal->ctx, vq->shadow_bytes, 16, &ignored);
	if (vq->shadow_mem == NULL)
		goto nomem;
	vq->heads = (struct ustor_virtq_head *)vq->shadow_mem;
	vq->next = (uint16_t *)(void *)(vq->heads + size);
	if (opts->ind_max != 0) {
		vq->ind_max = opts->ind_max;
		vq->ind_stride = (uint16_t)(opts->ind_max << 4); /* <= 4095 x 16 */
		vq->ind_bytes = (uint32_t)size * vq->ind_stride;
		vq->ind = (uint8_t *)hal->dma_alloc(hal->ctx, vq->ind_bytes, 16, &vq->ind_bus);
		if (vq->ind == NULL)
			goto nomem;
	}

	vq->desc = (volatile struct ustor_virtq_desc *)(void *)vq->ring;
	vq->pdesc = (volatile struct ustor_pvirtq_desc *)(void *)vq->ring;
	if (vq->packed) {
		vq->drv_evt = (volatile struct ustor_pvirtq_event *)(void *)(vq->ring + vq->avail_off);
		vq->dev_evt = (volatile struct ustor_pvirtq_event *)(void *)(vq->ring + vq->used_off);
		vq->avail_wrap = 1; /* both wrap counters start at 1 (2.8.1) */
		vq->used_wrap = 1;
	} else {
		vq->avail_idx = (volatile uint16_t *)(void *)(vq->ring + vq->avail_off + 2u);
		vq->avail_ring = (volatile uint16_t *)(void *)(vq->ring + vq->avail_off + 4u);
		vq->used_event = (volatile uint16_t *)(void *)(vq->ring + vq->avail_off +
							       USTOR_VIRTQ_USED_EVENT_OFF(size));
		vq->used_idx = (volatile uint16_t *)(void *)(vq->ring + vq->used_off + 2u);
		vq->used_ring =
			(volatile struct ustor_virtq_used_elem *)(void *)(vq->ring + vq->used_off + 4u);
		vq->avail_event = (volatile uint16_t *)(void *)(vq->ring + vq->used_off +
								USTOR_VIRTQ_AVAIL_EVENT_OFF(size));
	}

	/* Split: every descriptor free, linked in order; the last link wraps
	 * but is never followed (num_free says when the list ends). Packed:
	 * the same list over buffer ids. */
	for (i = 0; i < size; i++)
		vq->next[i] = (uint16_t)((i + 1u) & vq->mask);
	vq->free_head = 0;
	vq->num_free = size;
	vq->irq_on = 1; /* the reset state of the ring: interrupts wanted */
	if (opts->no_interrupt)
		ustor_virtq_irq_off(vq);
	if (vq->sync)
		hal->dma_sync(hal->ctx, vq->ring, vq->ring_bytes, USTOR_DMA_BIDIRECTIONAL);

	st = dev->ops->queue_enable(dev, vq);
	if (st != USTOR_OK) {
		ustor_virtq_fini(vq);
		return st;
	}
	return USTOR_OK;
nomem:
	ustor_virtq_fini(vq);
	return USTOR_ERR_NO_MEMORY;
}

void ustor_virtq_fini(struct ustor_virtq *vq)
{
	const struct ustor_hal *hal = vq->hal;

	if (hal != NULL) {
		if (vq->ring != NULL)
			hal->dma_free(hal->ctx, vq->ring, vq->ring_bytes);
		if (vq->shadow_mem != NULL)
			hal->dma_free(hal->ctx, vq->shadow_mem, vq->shadow_bytes);
		if (vq->ind != NULL)
			hal->dma_free(hal->ctx, vq->ind, vq->ind_bytes);
	}
	ustor_memset(vq, 0, sizeof(*vq));
}

uint16_t ustor_virtq_commit_packed(struct ustor_virtq *vq, struct ustor_virtq_chain *c)
{
	const struct ustor_hal *hal = vq->hal;
	struct ustor_virtq_head *h = &vq->heads[c->head];
	volatile struct ustor_pvirtq_desc *d = &vq->pdesc[c->pos];
	int legacy = vq->legacy;
	uint16_t n;

	h->in_len = c->in_len;
	if (c->tbl != NULL) {
		/* One ring descriptor for the whole table (2.8.19). */
		d->addr = ustor_virtio_w64(legacy,
					   vq->ind_bus + (ustor_bus_addr)c->head * vq->ind_stride);
		d->len = ustor_virtio_w32(legacy, (uint32_t)c->ndesc << 4);
		d->id = ustor_virtio_w16(legacy, c->head);
		c->head_flags = (uint16_t)(USTOR_VIRTQ_DESC_F_INDIRECT |
					   (c->wrap ? USTOR_PVIRTQ_DESC_F_AVAIL :
						      USTOR_PVIRTQ_DESC_F_USED));
		c->cur = (uint16_t)(c->pos + 1u);
		if (c->cur == vq->size) {
			c->cur = 0;
			c->wrap ^= 1u;
		}
		n = 1;
	} else {
		n = c->ndesc;
	}
	h->ndesc = n;
	vq->free_head = vq->next[c->head];
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->avail_shadow = c->cur;
	vq->avail_wrap = c->wrap;
	vq->pending = (uint16_t)(vq->pending + n);
	if (vq->sync) {
		hal->dma_sync(hal->ctx, vq->ring, (size_t)vq->size << 4, USTOR_DMA_TO_DEVICE);
		if (c->tbl != NULL)
			hal->dma_sync(hal->ctx, (const void *)(uintptr_t)c->tbl,
				      (size_t)c->ndesc << 4, USTOR_DMA_TO_DEVICE);
	}
	/* Every other descriptor of the chain (and the table) is visible
	 * before the head's flags make the chain available (2.8.21.1). */
	hal->wmb(hal->ctx);
	d->flags = ustor_virtio_w16(legacy, c->head_flags);
	if (vq->sync)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)&d->flags, 2, USTOR_DMA_TO_DEVICE);
	return c->head;
}

/* Does the packed device want a notification for what was made
 * available since the last one (2.8.10, 2.8.21.3)? Called after a full
 * barrier. */
static int ustor_virtq_packed_wants(struct ustor_virtq *vq)
{
	const struct ustor_hal *hal = vq->hal;
	uint16_t flags;
	uint16_t off_wrap;
	uint16_t event;
	uint16_t new_pos = vq->avail_shadow;
	uint16_t old_pos = (uint16_t)(new_pos - vq->pending);

	if (vq->sync)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)vq->dev_evt,
			      sizeof(struct ustor_pvirtq_event), USTOR_DMA_FROM_DEVICE);
	flags = (uint16_t)(ustor_virtio_r16(vq->legacy, vq->dev_evt->flags) & 3u);
	if (flags == USTOR_PVIRTQ_EVENT_F_DISABLE)
		return 0;
	if (flags != USTOR_PVIRTQ_EVENT_F_DESC || !vq->event_idx)
		return 1; /* ENABLE, or a value we cannot read: notifying is always allowed */
	off_wrap = ustor_virtio_r16(vq->legacy, vq->dev_evt->off_wrap);
	event = (uint16_t)(off_wrap & 0x7fffu);
	/* An offset on the other lap counts one ring size back, so the
	 * 16-bit window test works across the wrap. */
	if ((off_wrap >> USTOR_PVIRTQ_EVENT_WRAP_SHIFT) != vq->avail_wrap)
		event = (uint16_t)(event - vq->size);
	return ustor_virtq_need_event(event, new_pos, old_pos);
}

static inline void ustor_virtq_notify(struct ustor_virtq *vq)
{
	const struct ustor_hal *hal = vq->hal;

	vq->notifies++;
	if (vq->notify16 && hal->mmio_write16 != NULL)
		hal->mmio_write16(hal->ctx, vq->notify_addr, (uint16_t)vq->notify_val);
	else
		hal->mmio_write32(hal->ctx, vq->notify_addr, vq->notify_val);
}

void ustor_virtq_kick(struct ustor_virtq *vq)
{
	const struct ustor_hal *hal = vq->hal;
	uint16_t old_idx;
	uint16_t ev;

	if (vq->packed) {
		if (vq->pending == 0)
			return;
		/* The chains were made visible at commit; the device's event
		 * area is read only after that (store, then load). */
		ustor_virtio_mb();
		if (ustor_virtq_packed_wants(vq))
			ustor_virtq_notify(vq);
		else
			vq->notifies_saved++;
		vq->pending = 0;
		return;
	}
	if (vq->avail_shadow == vq->avail_published)
		return;
	if (vq->sync) /* descriptors, tables and ring entries, before the device looks */
		hal->dma_sync(hal->ctx, vq->ring, vq->used_off, USTOR_DMA_TO_DEVICE);
	/* The descriptors and ring entries are visible before the index that
	 * makes them available (2.7.13.3.1). */
	hal->wmb(hal->ctx);
	*vq->avail_idx = ustor_virtio_w16(vq->legacy, vq->avail_shadow);
	old_idx = vq->avail_published;
	vq->avail_published = vq->avail_shadow;
	if (vq->sync)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)vq->avail_idx, 2,
			      USTOR_DMA_TO_DEVICE);
	if (vq->event_idx) {
		/* The index is visible before avail_event is read (2.7.10):
		 * the device writes avail_event, then re-reads the index. */
		ustor_virtio_mb();
		if (vq->sync)
			hal->dma_sync(hal->ctx, (const void *)(uintptr_t)vq->avail_event, 2,
				      USTOR_DMA_FROM_DEVICE);
		ev = ustor_virtio_r16(vq->legacy, *vq->avail_event);
		if (!ustor_virtq_need_event(ev, vq->avail_shadow, old_idx)) {
			vq->notifies_saved++;
			return;
		}
	} else {
		/* The index is visible before the notification (2.7.13.4).
		 * Without EVENT_IDX the device's VIRTQ_USED_F_NO_NOTIFY hint
		 * is not read: notifying is always allowed. */
		hal->wmb(hal->ctx);
	}
	ustor_virtq_notify(vq);
}

/* Give chain `id` (ndesc ring descriptors) back to the free list. */
static inline void ustor_virtq_free_chain(struct ustor_virtq *vq, uint16_t id,
					  struct ustor_virtq_head *h)
{
	if (vq->packed) {
		vq->next[id] = vq->free_head; /* the buffer id */
	} else {
		vq->next[h->last] = vq->free_head; /* through the shadow links only */
	}
	vq->free_head = id;
	vq->num_free = (uint16_t)(vq->num_free + h->ndesc);
	h->ndesc = 0;
}

static int ustor_virtq_get_used_packed(struct ustor_virtq *vq, uint16_t *out_head,
				       uint32_t *out_len)
{
	const struct ustor_hal *hal = vq->hal;
	volatile const struct ustor_pvirtq_desc *d = &vq->pdesc[vq->last_used];
	struct ustor_virtq_head *h;
	uint16_t flags;
	uint16_t id;
	uint32_t len;
	uint32_t pos;

	if (vq->sync)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)d, sizeof(*d),
			      USTOR_DMA_FROM_DEVICE);
	flags = ustor_virtio_r16(vq->legacy, d->flags);
	/* Used: AVAIL and USED both equal to the used wrap counter (2.8.1). */
	if (((flags & USTOR_PVIRTQ_DESC_F_AVAIL) != 0) != vq->used_wrap ||
	    ((flags & USTOR_PVIRTQ_DESC_F_USED) != 0) != vq->used_wrap)
		return USTOR_VIRTQ_USED_NONE;
	/* A used descriptor while the device holds nothing is impossible. */
	if (vq->num_free == vq->size) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_ID;
	}
	/* The id and len are read only after the flags that cover them. */
	hal->rmb(hal->ctx);
	id = ustor_virtio_r16(vq->legacy, d->id);
	len = ustor_virtio_r32(vq->legacy, d->len);
	/* The id must name a buffer we posted and still own (2.8.7). */
	if (id >= vq->size || vq->heads[id].ndesc == 0) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_ID;
	}
	h = &vq->heads[id];
	/* The device skips the whole chain: our own count, not its. */
	pos = (uint32_t)vq->last_used + h->ndesc;
	if (pos >= vq->size) {
		pos -= vq->size;
		vq->used_wrap ^= 1u;
	}
	vq->last_used = (uint16_t)pos;
	*out_head = id;
	*out_len = len;
	len = len > h->in_len;
	ustor_virtq_free_chain(vq, id, h);
	if (len) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_LEN;
	}
	return USTOR_VIRTQ_USED_OK;
}

int ustor_virtq_get_used(struct ustor_virtq *vq, uint16_t *out_head, uint32_t *out_len)
{
	const struct ustor_hal *hal = vq->hal;
	volatile const struct ustor_virtq_used_elem *e;
	struct ustor_virtq_head *h;
	uint16_t idx;
	uint32_t id;
	uint32_t len;

	if (vq->packed)
		return ustor_virtq_get_used_packed(vq, out_head, out_len);
	if (vq->sync)
		hal->dma_sync(hal->ctx, vq->ring + vq->used_off, USTOR_VIRTQ_USED_BYTES(vq->size),
			      USTOR_DMA_FROM_DEVICE);
	idx = ustor_virtio_r16(vq->legacy, *vq->used_idx);
	if (idx == vq->last_used)
		return USTOR_VIRTQ_USED_NONE;
	/* The device can have returned at most the chains it was shown
	 * (published: a chain still behind F_MORE is not the device's). */
	if ((uint16_t)(idx - vq->last_used) > (uint16_t)(vq->avail_published - vq->last_used)) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_ID;
	}
	/* The element is read only after the index that covers it. */
	hal->rmb(hal->ctx);
	e = &vq->used_ring[vq->last_used & vq->mask];
	id = ustor_virtio_r32(vq->legacy, e->id);
	len = ustor_virtio_r32(vq->legacy, e->len);
	vq->last_used++;
	/* The id must name a head we posted and still own (2.7.8). */
	if (id >= vq->size || vq->heads[id].ndesc == 0) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_ID;
	}
	h = &vq->heads[id];
	*out_head = (uint16_t)id;
	*out_len = len;
	len = len > h->in_len;
	ustor_virtq_free_chain(vq, (uint16_t)id, h);
	if (len) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_LEN;
	}
	return USTOR_VIRTQ_USED_OK;
}

void ustor_virtq_irq_off(struct ustor_virtq *vq)
{
	const struct ustor_hal *hal = vq->hal;
	int legacy = vq->legacy;

	if (vq->packed) {
		if (vq->irq_on)
			vq->drv_evt->flags = ustor_virtio_w16(legacy, USTOR_PVIRTQ_EVENT_F_DISABLE);
	} else if (vq->event_idx) {
		/* used_event one behind what we consumed: the device's used
		 * index reaches it again only after 65536 more chains; poll
		 * moves it along (2.7.10). */
		*vq->used_event = ustor_virtio_w16(legacy, (uint16_t)(vq->last_used - 1u));
	} else if (vq->irq_on) {
		*(volatile uint16_t *)(void *)(vq->ring + vq->avail_off) =
			ustor_virtio_w16(legacy, USTOR_VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	vq->irq_on = 0;
	if (vq->sync)
		hal->dma_sync(hal->ctx, vq->ring + vq->avail_off,
			      vq->packed ? 4u : USTOR_VIRTQ_AVAIL_BYTES(vq->size), USTOR_DMA_TO_DEVICE);
}

int ustor_virtq_irq_on(struct ustor_virtq *vq, uint16_t after)
{
	const struct ustor_hal *hal = vq->hal;
	int legacy = vq->legacy;

	if (vq->packed) {
		if (vq->event_idx) {
			/* The used descriptor position to be told about (2.8.10):
			 * the next one, or with indirect tables (every chain one
			 * descriptor) the one `after` chains on. */
			uint32_t pos = vq->last_used;
			uint16_t wrap = vq->used_wrap;

			if (vq->ind != NULL && after > 1u) {
				pos += (uint32_t)after - 1u; /* after <= size */
				if (pos >= vq->size) {
					pos -= vq->size;
					wrap ^= 1u;
				}
			}
			vq->drv_evt->off_wrap = ustor_virtio_w16(
				legacy,
				(uint16_t)(pos | ((uint32_t)wrap << USTOR_PVIRTQ_EVENT_WRAP_SHIFT)));
			hal->wmb(hal->ctx); /* off_wrap before the flags that make it count */
			vq->drv_evt->flags = ustor_virtio_w16(legacy, USTOR_PVIRTQ_EVENT_F_DESC);
		} else {
			vq->drv_evt->flags = ustor_virtio_w16(legacy, USTOR_PVIRTQ_EVENT_F_ENABLE);
		}
	} else if (vq->event_idx) {
		*vq->used_event = ustor_virtio_w16(legacy, (uint16_t)(vq->last_used + after - 1u));
	} else {
		*(volatile uint16_t *)(void *)(vq->ring + vq->avail_off) = 0;
	}
	vq->irq_on = 1;
	if (vq->sync)
		hal->dma_sync(hal->ctx, vq->ring + vq->avail_off,
			      vq->packed ? 4u : USTOR_VIRTQ_AVAIL_BYTES(vq->size), USTOR_DMA_TO_DEVICE);
	/* The request is visible before the used ring is looked at again: a
	 * chain used in between raised no interrupt (2.7.10, 2.8.10). */
	ustor_virtio_mb();
	if (vq->packed) {
		volatile const struct ustor_pvirtq_desc *d = &vq->pdesc[vq->last_used];
		uint16_t flags;

		if (vq->sync)
			hal->dma_sync(hal->ctx, (const void *)(uintptr_t)d, sizeof(*d),
				      USTOR_DMA_FROM_DEVICE);
		flags = ustor_virtio_r16(legacy, d->flags);
		return ((flags & USTOR_PVIRTQ_DESC_F_AVAIL) != 0) == vq->used_wrap &&
		       ((flags & USTOR_PVIRTQ_DESC_F_USED) != 0) == vq->used_wrap;
	}
	if (vq->sync)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)vq->used_idx, 2,
			      USTOR_DMA_FROM_DEVICE);
	return ustor_virtio_r16(legacy, *vq->used_idx) != vq->last_used;
}
