/* SPDX-License-Identifier: MIT */
/* Internal: the scheduler's entry points for block.c. */
#ifndef USTOR_BLOCK_SCHED_H
#define USTOR_BLOCK_SCHED_H

#include "ustor/block.h"

/* ustor_block_submit_checked's path when USTOR_BDEV_F_SCHED is set (the
 * request is validated): apply the policy, hold or send. */
ustor_status ustor_block_sched_submit(struct ustor_block_device *bdev,
				      struct ustor_block_req *req);

/* Take `req` back from the block layer (held or watched) before a
 * synchronous caller gives up on it; 1 if it was held (never sent). */
int ustor_block_sched_forget(struct ustor_block_device *bdev, struct ustor_block_req *req);

#endif
