/* SPDX-License-Identifier: MIT */
/* uStor: the one status enum of the whole library. */
#ifndef USTOR_STATUS_H
#define USTOR_STATUS_H

/*
 * Every uStor call that can fail returns one of these. Codes are grouped by
 * who is at fault, so a kernel can tell "my bug" from "the disk said no":
 *   1..31   the caller (bad argument, out of range, read-only device, ...)
 *   32..63  resources (memory, queue full)
 *   64..95  the device (command failed, timeout, fatal status, bad data)
 *   96..127 lifecycle (used before init or after shutdown)
 * Raw device detail (NVMe status code type/code, DNR, failing LBA) stays in
 * the completed request; these codes never carry errno values.
 */
typedef enum ustor_status {
	USTOR_OK = 0,

	USTOR_ERR_INVALID_ARG = 1,  /* NULL pointer, zero count, bad option */
	USTOR_ERR_OUT_OF_RANGE = 2, /* LBA range past the end of the device */
	USTOR_ERR_READ_ONLY = 3,    /* write to a read-only device */
	USTOR_ERR_NOT_DMA_ABLE = 4, /* the HAL cannot translate the buffer */
	USTOR_ERR_NO_NAMESPACE = 5, /* no such (active) namespace */
	USTOR_ERR_UNSUPPORTED = 6,  /* the device lacks this command/format */
	USTOR_ERR_ALIGNMENT = 7,    /* buffer or length alignment not met */

	USTOR_ERR_NO_MEMORY = 32,   /* the HAL's DMA allocator said no */
	USTOR_ERR_BUSY = 33,        /* queue full: try again after a poll */

	USTOR_ERR_DEVICE = 64,      /* device completed with an error status */
	USTOR_ERR_MEDIA = 65,       /* media or data integrity error */
	USTOR_ERR_TIMEOUT = 66,     /* a bounded wait ran out */
	USTOR_ERR_FATAL = 67,       /* controller fatal status (CSTS.CFS) */
	USTOR_ERR_BAD_DEVICE = 68,  /* device returned impossible values */
	USTOR_ERR_DEVICE_GONE = 69, /* registers read all-ones */

	USTOR_ERR_NOT_READY = 96,   /* object not initialised */
	USTOR_ERR_SHUT_DOWN = 97,   /* object already shut down */
	USTOR_ERR_IN_PROGRESS = 98  /* request submitted, not yet complete */
} ustor_status;

/* Short stable name of a status ("USTOR_ERR_TIMEOUT"); never NULL. */
const char *ustor_status_name(ustor_status status);

/* One-line human description of a status; never NULL. */
const char *ustor_status_text(ustor_status status);

#endif
