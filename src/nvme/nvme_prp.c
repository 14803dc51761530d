/* SPDX-License-Identifier: MIT */
/*
 * Physical Region Page lists (Base spec 4.1.1). PRP1 may start anywhere
 * (dword aligned); every later entry names a whole page. Two pages fit in
 * PRP1/PRP2; more need a list that PRP2 points to. A list never straddles a
 * page: when a list page is full, its last entry points to the next list
 * page instead of data (HARDWARE.md item 6: "PRP Offset Invalid" otherwise).
 */
#include "nvme_internal.h"

uint32_t ustor_nvme_prp_area_bytes(uint32_t max_transfer, uint32_t page_size)
{
	uint32_t entries = max_transfer / page_size; /* beyond PRP1, worst alignment */
	uint32_t per_page = page_size / 8u;
	uint32_t bytes = 8;

	if (entries <= 1)
		return 0; /* PRP1 + PRP2 are enough */
	if (entries <= per_page) {
		while (bytes < entries * 8u) /* a power of two never straddles a page */
			bytes <<= 1;
		return bytes;
	}
	/* First page holds per_page-1 entries + a chain pointer, and so on;
	 * the last page may use all per_page entries. */
	return (1u + (entries - per_page + per_page - 2u) / (per_page - 1u)) * page_size;
}

ustor_status ustor_nvme_prp_build(const struct ustor_nvme_ctrl *ctrl,
				  const struct ustor_nvme_queue *q, unsigned idx, const uint8_t *buf,
				  uint32_t len, struct ustor_nvme_sqe *sqe)
{
	const struct ustor_hal *hal = ctrl->hal;
	uint32_t page = ctrl->page_size;
	uint32_t mask = page - 1u;
	uint32_t first = page - (uint32_t)((uintptr_t)buf & mask);
	uint32_t per_page = page >> 3;
	ustor_bus_addr bus;
	uint8_t *list0;
	uint8_t *list;
	ustor_bus_addr list_bus;
	uint32_t pos;

	if (first > len)
		first = len;
	if (hal->virt_to_bus(hal->ctx, buf, first, &bus) != USTOR_OK)
		return USTOR_ERR_NOT_DMA_ABLE;
	/* PRP entries carry the offset inside the page: the bus address must
	 * keep the CPU address's offset, and data must be dword aligned. */
	if (((uint32_t)bus & mask) != ((uint32_t)(uintptr_t)buf & mask))
		return USTOR_ERR_NOT_DMA_ABLE;
	if ((bus & 3u) != 0)
		return USTOR_ERR_ALIGNMENT;
	if (hal->dma_sync != NULL)
		hal->dma_sync(hal->ctx, buf, len, USTOR_DMA_BIDIRECTIONAL);
	sqe->prp1 = bus;
	sqe->prp2 = 0;
	buf += first;
	len -= first;
	if (len == 0)
		return USTOR_OK;
	if (len <= page) {
		if (hal->virt_to_bus(hal->ctx, buf, len, &bus) != USTOR_OK || (bus & mask) != 0)
			return USTOR_ERR_NOT_DMA_ABLE;
		sqe->prp2 = bus;
		return USTOR_OK;
	}
	if (q->prp_pool == NULL)
		return USTOR_ERR_INVALID_ARG; /* larger than the queue was sized for */
	/* The slot's own area: derived, not stored, to keep slots 32 bytes. */
	list0 = q->prp_pool + (size_t)idx * q->prp_area_bytes;
	list = list0;
	list_bus = q->prp_pool_bus + (ustor_bus_addr)idx * q->prp_area_bytes;
	sqe->prp2 = list_bus;
	pos = 0;
	while (len > 0) {
		uint32_t n = len < page ? len : page;

		if (pos == per_page - 1u && len > page) {
			/* Full list page with more than one entry to go: chain. */
			list += page;
			list_bus += page;
			ustor_put_le64(list - 8, list_bus);
			pos = 0;
		}
		if (hal->virt_to_bus(hal->ctx, buf, n, &bus) != USTOR_OK || (bus & mask) != 0)
			return USTOR_ERR_NOT_DMA_ABLE;
		ustor_put_le64(list + (size_t)pos * 8u, bus);
		pos++;
		buf += n;
		len -= n;
	}
	if (hal->dma_sync != NULL)
		hal->dma_sync(hal->ctx, list0, (size_t)(list - list0) + (size_t)pos * 8u,
			      USTOR_DMA_TO_DEVICE);
	return USTOR_OK;
}
