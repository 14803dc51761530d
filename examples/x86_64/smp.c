/* SPDX-License-Identifier: MIT */
/* placeholder */
#include "bench.h"
unsigned smp_cpus(void) { return 1; }
unsigned smp_init(void) { return 1; }
void smp_run_on(unsigned cpu, void (*fn)(void *), void *arg) { (void)cpu; fn(arg); }
void smp_wait(unsigned cpu) { (void)cpu; }
uint32_t smp_cpu_index(void) { return 0; }
