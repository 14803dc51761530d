/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue (VIRTIO 1.2 section 2.7), shared by every transport. The
 * driver's view of the descriptor links and of each posted chain lives in
 * a private shadow; the ring memory is only ever written by the driver
 * (descriptors, available ring) or read and checked (used ring).
 */
#include "virtio_internal.h"

ustor_status ustor_virtq_init(struct ustor_virtq *vq, struct ustor_virtio_dev *dev, uint16_t index,
			      uint16_t size, int no_interrupt)
{
	const struct ustor_hal *hal = dev->hal;
	uint32_t used_off;
	uint32_t i;
	ustor_bus_addr ignored;
	ustor_status st;

	ustor_memset(vq, 0, sizeof(*vq));
	if (size < 2 || size > USTOR_VIRTQ_MAX_SIZE || (size & (size - 1u)) != 0)
		return USTOR_ERR_INVALID_ARG;
	vq->hal = hal;
	vq->index = index;
	vq->size = size;
	vq->mask = (uint16_t)(size - 1u);
	vq->legacy = dev->legacy;
	vq->sync = hal->dma_sync != NULL;

	/* Legacy layout (2.7.2): descriptors (16-byte aligned), available
	 * ring right after, used ring at the next legacy page. Modern
	 * transports accept it too (their alignments are 16, 2 and 4), and the
	 * used ring, written by the device, gets cache lines of its own. */
	used_off = USTOR_VIRTQ_AVAIL_OFF(size) + USTOR_VIRTQ_AVAIL_BYTES(size);
	used_off = (used_off + USTOR_VIRTIO_LEGACY_PAGE - 1u) & ~(USTOR_VIRTIO_LEGACY_PAGE - 1u);
	vq->used_off = used_off;
	vq->ring_bytes = used_off + USTOR_VIRTQ_USED_BYTES(size);
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

	vq->desc = (volatile struct ustor_virtq_desc *)(void *)vq->ring;
	vq->avail_idx = (volatile uint16_t *)(void *)(vq->ring + USTOR_VIRTQ_AVAIL_OFF(size) + 2u);
	vq->avail_ring = (volatile uint16_t *)(void *)(vq->ring + USTOR_VIRTQ_AVAIL_OFF(size) + 4u);
	vq->used_idx = (volatile uint16_t *)(void *)(vq->ring + used_off + 2u);
	vq->used_ring = (volatile struct ustor_virtq_used_elem *)(void *)(vq->ring + used_off + 4u);

	/* Every descriptor free, linked in order; the last link wraps but is
	 * never followed (num_free says when the list ends). */
	for (i = 0; i < size; i++)
		vq->next[i] = (uint16_t)((i + 1u) & vq->mask);
	vq->free_head = 0;
	vq->num_free = size;
	if (no_interrupt)
		*(volatile uint16_t *)(void *)(vq->ring + USTOR_VIRTQ_AVAIL_OFF(size)) =
			ustor_virtio_w16(vq->legacy, USTOR_VIRTQ_AVAIL_F_NO_INTERRUPT);
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
	}
	ustor_memset(vq, 0, sizeof(*vq));
}

void ustor_virtq_kick(struct ustor_virtq *vq)
{
	const struct ustor_hal *hal = vq->hal;

	if (vq->avail_shadow == vq->avail_published)
		return;
	if (vq->sync) /* descriptors and ring entries, before the device looks */
		hal->dma_sync(hal->ctx, vq->ring, vq->used_off, USTOR_DMA_TO_DEVICE);
	/* The descriptors and ring entries are visible before the index that
	 * makes them available (2.7.13.3.1). */
	hal->wmb(hal->ctx);
	*vq->avail_idx = ustor_virtio_w16(vq->legacy, vq->avail_shadow);
	vq->avail_published = vq->avail_shadow;
	if (vq->sync)
		hal->dma_sync(hal->ctx, (const void *)(uintptr_t)vq->avail_idx, 2,
			      USTOR_DMA_TO_DEVICE);
	/* The index is visible before the notification (2.7.13.4). The device's
	 * VIRTQ_USED_F_NO_NOTIFY hint is not read: checking it safely needs a
	 * store-load barrier the HAL does not have, and notifying is always
	 * allowed. */
	hal->wmb(hal->ctx);
	if (vq->notify16 && hal->mmio_write16 != NULL)
		hal->mmio_write16(hal->ctx, vq->notify_addr, (uint16_t)vq->notify_val);
	else
		hal->mmio_write32(hal->ctx, vq->notify_addr, vq->notify_val);
}

int ustor_virtq_get_used(struct ustor_virtq *vq, uint16_t *out_head, uint32_t *out_len)
{
	const struct ustor_hal *hal = vq->hal;
	volatile const struct ustor_virtq_used_elem *e;
	struct ustor_virtq_head *h;
	uint16_t idx;
	uint32_t id;
	uint32_t len;

	if (vq->sync)
		hal->dma_sync(hal->ctx, vq->ring + vq->used_off, USTOR_VIRTQ_USED_BYTES(vq->size),
			      USTOR_DMA_FROM_DEVICE);
	idx = ustor_virtio_r16(vq->legacy, *vq->used_idx);
	if (idx == vq->last_used)
		return USTOR_VIRTQ_USED_NONE;
	/* The device can have returned at most what it holds. */
	if ((uint16_t)(idx - vq->last_used) > ustor_virtq_in_flight(vq)) {
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
	/* Back onto the free list, through the shadow links only. */
	vq->next[h->last] = vq->free_head;
	vq->free_head = (uint16_t)id;
	vq->num_free = (uint16_t)(vq->num_free + h->ndesc);
	h->ndesc = 0;
	*out_head = (uint16_t)id;
	*out_len = len;
	if (len > h->in_len) {
		vq->bad_used++;
		return USTOR_VIRTQ_USED_BAD_LEN;
	}
	return USTOR_VIRTQ_USED_OK;
}
