/* SPDX-License-Identifier: MIT */
/*
 * Weak stand-ins for library functions declared in include/ustor/ (block.h,
 * stats.h) whose implementations are still on their way into the library
 * (issue 5, helper block5). The library's own definitions, once linked,
 * replace these; delete this file when they are in main.
 */
#include "kernel.h"
#include "ustor/block.h"
#include "ustor/stats.h"

__attribute__((weak)) void ustor_block_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	if (bdev != NULL && bdev->ops != NULL && bdev->ops->kick != NULL)
		bdev->ops->kick(bdev, queue);
}

__attribute__((weak)) ustor_status ustor_block_stats_enable(struct ustor_block_device *bdev,
							   struct ustor_block_queue_stats *mem,
							   uint16_t nqueues)
{
	(void)bdev;
	(void)mem;
	(void)nqueues;
	return USTOR_ERR_UNSUPPORTED;
}

__attribute__((weak)) ustor_status ustor_block_stats_get(struct ustor_block_device *bdev,
							uint16_t queue, struct ustor_block_stats *out)
{
	(void)bdev;
	(void)queue;
	(void)out;
	return USTOR_ERR_NOT_READY;
}

__attribute__((weak)) void ustor_block_stats_reset(struct ustor_block_device *bdev)
{
	(void)bdev;
}
