/* SPDX-License-Identifier: MIT */
/*
 * Data-integrity soak (soak.c) and PCIe native hotplug (hotplug.c) of the
 * x86_64 example kernel. Started by soak=<mode> on the command line instead
 * of the self-test checks; see soak.c for the modes and the lines printed.
 */
#ifndef SOAK_H
#define SOAK_H

#include <stddef.h>
#include <stdint.h>

/* main.c hands every key=value it does not know to this: 1 if it was a
 * soak option (soak= soak_secs= soak_passes= soak_blocks= soak_qd= soak_seed=
 * soak_ckpt= gen= upto= hotplug=), 0 if not. */
int soak_option(const char *key, const char *kend, const char *val, const char *vend);
/* soak= was given: main.c runs soak_run() instead of selftest_run(). */
int soak_wanted(void);
/* Bring the devices up, run the soak on each, shut down; returns failures. */
unsigned soak_run(void);

/* ---- hotplug.c: PCIe native hotplug of the slot above an NVMe function ---- */
/* Watch the hotplug slot of the root/downstream port above `bdf` (one slot
 * at a time): 0 if there is one with a hotplug controller, -1 if not. */
int hotplug_watch(uint32_t bdf, const char *name);
/* Check the watched slot's Attention Button Pressed: if set, power the
 * slot off (Power Controller Control off, Power Indicator off) so QEMU
 * completes the unplug. Returns 1 exactly once, when it powered it off. */
int hotplug_poll(void);
/* The function under watch no longer answers config reads (vendor 0xffff). */
int hotplug_function_gone(void);

#endif
