/* SPDX-License-Identifier: MIT */
/*
 * Block layer scheduling: doorbell kicks for batched submissions.
 */
#include "ustor/block.h"

void ustor_block_kick(struct ustor_block_device *bdev, uint16_t queue)
{
	if (bdev == NULL || bdev->ops == NULL || bdev->ops->kick == NULL)
		return;
	bdev->ops->kick(bdev, queue);
}
