/* SPDX-License-Identifier: MIT */
#include "kernel.h"
#include "ustor/block.h"
__attribute__((weak)) void ustor_block_kick(struct ustor_block_device *bdev, uint16_t queue);
__attribute__((weak)) void ustor_block_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	if (bdev != NULL && bdev->ops != NULL && bdev->ops->kick != NULL)
		bdev->ops->kick(bdev, queue);
}
