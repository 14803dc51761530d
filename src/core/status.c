/* SPDX-License-Identifier: MIT */
#include "ustor/hal.h"
#include "ustor/status.h"

#include "log.h"

struct ustor_status_desc {
	ustor_status status;
	const char *name;
	const char *text;
};

static const struct ustor_status_desc ustor_status_table[] = {
	{ USTOR_OK, "USTOR_OK", "success" },
	{ USTOR_ERR_INVALID_ARG, "USTOR_ERR_INVALID_ARG", "invalid argument" },
	{ USTOR_ERR_OUT_OF_RANGE, "USTOR_ERR_OUT_OF_RANGE", "block range past the end of the device" },
	{ USTOR_ERR_READ_ONLY, "USTOR_ERR_READ_ONLY", "device is read-only" },
	{ USTOR_ERR_NOT_DMA_ABLE, "USTOR_ERR_NOT_DMA_ABLE", "buffer cannot be reached by DMA" },
	{ USTOR_ERR_NO_NAMESPACE, "USTOR_ERR_NO_NAMESPACE", "no such namespace" },
	{ USTOR_ERR_UNSUPPORTED, "USTOR_ERR_UNSUPPORTED", "not supported by the device" },
	{ USTOR_ERR_ALIGNMENT, "USTOR_ERR_ALIGNMENT", "buffer or length misaligned" },
	{ USTOR_ERR_NO_MEMORY, "USTOR_ERR_NO_MEMORY", "DMA memory allocation failed" },
	{ USTOR_ERR_BUSY, "USTOR_ERR_BUSY", "queue full, poll and retry" },
	{ USTOR_ERR_DEVICE, "USTOR_ERR_DEVICE", "device reported an error status" },
	{ USTOR_ERR_MEDIA, "USTOR_ERR_MEDIA", "media or data integrity error" },
	{ USTOR_ERR_TIMEOUT, "USTOR_ERR_TIMEOUT", "timed out" },
	{ USTOR_ERR_FATAL, "USTOR_ERR_FATAL", "controller fatal status" },
	{ USTOR_ERR_BAD_DEVICE, "USTOR_ERR_BAD_DEVICE", "device returned invalid data" },
	{ USTOR_ERR_DEVICE_GONE, "USTOR_ERR_DEVICE_GONE", "device not responding (registers read all-ones)" },
	{ USTOR_ERR_NOT_READY, "USTOR_ERR_NOT_READY", "not initialised" },
	{ USTOR_ERR_SHUT_DOWN, "USTOR_ERR_SHUT_DOWN", "already shut down" },
	{ USTOR_ERR_IN_PROGRESS, "USTOR_ERR_IN_PROGRESS", "request still in progress" },
};

static const struct ustor_status_desc *ustor_status_find(ustor_status status)
{
	size_t i;

	for (i = 0; i < sizeof(ustor_status_table) / sizeof(ustor_status_table[0]); i++)
		if (ustor_status_table[i].status == status)
			return &ustor_status_table[i];
	return NULL;
}

const char *ustor_status_name(ustor_status status)
{
	const struct ustor_status_desc *d = ustor_status_find(status);
	return d != NULL ? d->name : "USTOR_ERR_UNKNOWN";
}

const char *ustor_status_text(ustor_status status)
{
	const struct ustor_status_desc *d = ustor_status_find(status);
	return d != NULL ? d->text : "unknown status";
}

ustor_status ustor_hal_check(const struct ustor_hal *hal)
{
	const char *missing = NULL;

	if (hal == NULL)
		return USTOR_ERR_INVALID_ARG;
	if (hal->dma_alloc == NULL)
		missing = "dma_alloc";
	else if (hal->dma_free == NULL)
		missing = "dma_free";
	else if (hal->virt_to_bus == NULL)
		missing = "virt_to_bus";
	else if (hal->mmio_read32 == NULL)
		missing = "mmio_read32";
	else if (hal->mmio_write32 == NULL)
		missing = "mmio_write32";
	else if (hal->wmb == NULL)
		missing = "wmb";
	else if (hal->rmb == NULL)
		missing = "rmb";
	else if (hal->now_ns == NULL)
		missing = "now_ns";
	else if (hal->delay_us == NULL)
		missing = "delay_us";
	if (missing == NULL)
		return USTOR_OK;
	USTOR_ERR(hal, "HAL is missing required callback %s", missing);
	return USTOR_ERR_INVALID_ARG;
}
