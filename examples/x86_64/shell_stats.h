/* SPDX-License-Identifier: MIT */
/* The shell's `stats` command (shell_stats.c). */
#ifndef SHELL_STATS_H
#define SHELL_STATS_H

/* Switch uStor's statistics on for every disk that is up (kernel memory). */
void stats_enable_all(void);
struct ustor_block_device;
/* The `stats` lines of one disk: all queues, then each queue. */
void stats_show(struct ustor_block_device *d);
/* stats [dev] [reset]: print (or zero) the figures of every disk or one. */
void cmd_stats(unsigned argc, char *argv[]);

#endif
