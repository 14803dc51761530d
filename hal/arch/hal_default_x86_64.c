/* SPDX-License-Identifier: MIT */
/*
 * Default MMIO accessors and barriers for x86_64 (see hal_default.h).
 *
 * Accesses are single `mov` instructions written in asm rather than plain
 * volatile dereferences: that pins the width and the instruction form (a
 * hypervisor that emulates the access sees one simple mov), and the "memory"
 * clobber keeps the compiler from moving ordinary loads and stores across it.
 *
 * Barriers (Intel SDM vol. 3A, "Memory Ordering in P6 and More Recent
 * Processor Families"; AMD APM vol. 2, "Memory System"): with DMA memory
 * mapped write-back and registers mapped uncacheable, stores become visible
 * in program order whatever their memory type (WB store, then UC doorbell
 * store) and loads are not reordered with older loads. DMA is cache-coherent
 * (snooped), so the device sees everything the CPU wrote before the
 * doorbell. Only the compiler can reorder, so wmb/rmb are compiler barriers.
 * sfence/lfence matter only for weakly ordered accesses: non-temporal stores
 * (movnt*), or write-combining mappings such as a controller memory buffer
 * mapped WC. uStor uses neither; a port that maps rings or BARs WC must
 * supply its own wmb (sfence) and its own accessors.
 */
#include <stdint.h>

#include "ustor/hal_default.h"

#if !defined(__x86_64__)
#error "hal_default_x86_64.c is for ARCH=x86_64 only"
#endif

#include "hal_default_x86_common.h"

uint64_t ustor_hal_default_mmio_read64(void *ctx, volatile void *addr)
{
	uint64_t val;

	(void)ctx;
	__asm__ __volatile__("movq %1, %0"
			     : "=r"(val)
			     : "m"(*(volatile uint64_t *)addr)
			     : "memory");
	return val;
}

void ustor_hal_default_mmio_write64(void *ctx, volatile void *addr, uint64_t val)
{
	(void)ctx;
	__asm__ __volatile__("movq %1, %0"
			     : "=m"(*(volatile uint64_t *)addr)
			     : "r"(val)
			     : "memory");
}

