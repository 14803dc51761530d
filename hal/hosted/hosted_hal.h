/* SPDX-License-Identifier: MIT */
/*
 * uStor hosted HAL: a `struct ustor_hal` for running the library inside an
 * ordinary Linux process (unit tests, fuzzers, device models).
 *
 * It is a strict fake host. It serves the library and checks it at the same
 * time:
 *   - DMA memory comes from the C heap, zero-filled, aligned as asked, and
 *     every allocation is tracked. Bus addresses live in a fake bus space
 *     (USTOR_TEST_HAL_BUS_BASE and up) so code that confuses a pointer with a
 *     bus address fails. Bus addresses are never reused, so a device model
 *     that DMAs to freed memory finds nothing there.
 *   - Caller buffers are DMA-able only once a test registered them, and then
 *     with a scattered mapping: each `scatter_granule` piece lands on its own
 *     non-adjacent bus page (reverse order, with a gap after each), so code
 *     that assumes a buffer is bus-contiguous corrupts data visibly.
 *   - MMIO goes to register windows that device models attach; an access
 *     outside every window, or unaligned, aborts. hal.mmio_read8/16 and
 *     mmio_write8/16 are set and reach a window's 8/16-bit handlers
 *     (ustor_test_hal_attach_mmio_narrow); on a window without them they
 *     abort. A test clears the four members to exercise uStor's dword
 *     fallback.
 *   - Time is virtual: `now` advances only when the library reads the clock
 *     or delays, so timeouts of seconds run in microseconds and tests are
 *     deterministic.
 *   - Contract breaches that can only be library bugs (freeing an unknown
 *     pointer or with the wrong size, unlock without lock, bad alignment
 *     request) print a message to stderr and abort().
 *
 * Single-threaded: one test, one struct ustor_test_hal, no locking inside.
 * The struct is caller-allocated; call ustor_test_hal_init() first and
 * ustor_test_hal_fini() last. Knobs and counters are plain public fields
 * that a test may read and (knobs) change at any time.
 */
#ifndef USTOR_TEST_HOSTED_HAL_H
#define USTOR_TEST_HOSTED_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "ustor/hal.h"
#include "ustor/status.h"

/* First address of the fake bus space (bit 43: above 4 GiB on purpose). */
#define USTOR_TEST_HAL_BUS_BASE 0x80000000000ULL

/* Register windows that can be attached at once. */
#define USTOR_TEST_HAL_MAX_MMIO 4

/* Capacity of the log buffer; older lines are dropped when it fills. */
#define USTOR_TEST_HAL_LOG_CAP 65536

/* One device register window (see ustor_test_hal_attach_mmio). */
struct ustor_test_hal_mmio {
	uintptr_t base;
	size_t size;
	void *dev;
	uint32_t (*read32)(void *dev, uint32_t off);
	void (*write32)(void *dev, uint32_t off, uint32_t val);
	/* Optional 8/16-bit handlers (NULL: such an access aborts). */
	uint8_t (*read8)(void *dev, uint32_t off);
	uint16_t (*read16)(void *dev, uint32_t off);
	void (*write8)(void *dev, uint32_t off, uint8_t val);
	void (*write16)(void *dev, uint32_t off, uint16_t val);
};

struct ustor_test_hal_region; /* private: one DMA allocation or buffer */

struct ustor_test_hal {
	/* Filled in by ustor_test_hal_init(); hal.ctx points back here. */
	struct ustor_hal hal;

	/* ---- Knobs (tests may change them at any time) --------------- */

	/*
	 * Out-of-memory injection: -1 never fails; N >= 0 lets N more
	 * dma_alloc calls succeed and fails the next one (once: the knob then
	 * returns to -1).
	 */
	int fail_alloc_after;

	/*
	 * Granule of the scattered mapping of registered buffers: a power of
	 * two >= 512 (default 4096), read when a buffer is registered. 0 maps
	 * registered buffers bus-contiguously instead (offset within a 4 KiB
	 * page preserved, still a different address than the pointer).
	 */
	size_t scatter_granule;

	/* Virtual nanoseconds added after every now_ns() call (default 1000).
	 * A yield() call adds 20 us: it stands for the kernel sleeping. */
	uint64_t ns_per_now_call;

	/* What hal.cpu_id returns: the CPU the test pretends to run on
	 * (default 0). */
	uint32_t cpu;

	/* ---- Virtual clock ------------------------------------------------ */

	/* Current virtual time in ns; starts at 1 s. Tests may move it. */
	uint64_t now;

	/* ---- Counters ----------------------------------------------------- */

	uint64_t dma_allocs;      /* successful dma_alloc calls */
	uint64_t dma_frees;       /* dma_free calls */
	uint64_t alloc_failures;  /* dma_alloc calls failed on purpose */
	uint64_t virt_to_bus_calls;
	uint64_t virt_to_bus_failures; /* answered USTOR_ERR_NOT_DMA_ABLE */
	uint64_t mmio_reads;      /* 32-bit device reads (a 64-bit read is 2) */
	uint64_t mmio_writes;     /* 32-bit device writes (a 64-bit write is 2) */
	uint64_t mmio_narrow_reads;  /* 8- and 16-bit device reads */
	uint64_t mmio_narrow_writes; /* 8- and 16-bit device writes */
	uint64_t wmb_count;
	uint64_t rmb_count;
	uint64_t now_calls;
	uint64_t delay_calls;
	uint64_t delay_us_total;
	uint64_t pci_reads;
	uint64_t pci_writes;
	uint64_t lock_count;
	uint64_t unlock_count;
	uint64_t yield_count;
	uint64_t cpu_id_calls;
	uint64_t log_lines;
	unsigned locks_held;      /* currently held locks */

	/* ---- Private state: use the functions below ---------------------- */

	struct ustor_test_hal_region *regions;
	size_t nregions;
	size_t cap_regions;
	uint64_t next_bus;
	struct ustor_test_hal_mmio mmio[USTOR_TEST_HAL_MAX_MMIO];
	void *pci_dev;
	uint32_t (*pci_rd)(void *dev, uint32_t pci_addr, uint16_t off);
	void (*pci_wr)(void *dev, uint32_t pci_addr, uint16_t off,
		       uint32_t val);
	char *log_buf;
	size_t log_len;
	int verbose;
};

/* Fill in `h` (hal callbacks, default knobs, zero counters). Aborts if the
 * host is out of memory for the log buffer. */
void ustor_test_hal_init(struct ustor_test_hal *h);

/* Release all bookkeeping and any DMA memory still allocated. Check
 * ustor_test_hal_live_allocs() before calling this to find leaks. */
void ustor_test_hal_fini(struct ustor_test_hal *h);

/* Number of dma_alloc allocations not yet freed. */
size_t ustor_test_hal_live_allocs(const struct ustor_test_hal *h);

/*
 * Make a caller buffer DMA-able with a scattered bus mapping (see
 * scatter_granule). USTOR_ERR_INVALID_ARG for NULL, zero length or a range
 * overlapping an existing mapping; USTOR_ERR_NO_MEMORY if bookkeeping fails.
 */
ustor_status ustor_test_hal_register(struct ustor_test_hal *h, void *buf,
				     size_t len);

/* Forget a registered buffer; aborts if `buf` was not registered. */
void ustor_test_hal_unregister(struct ustor_test_hal *h, void *buf);

/*
 * For device models: host pointer of [bus, bus+len) if the whole range lies
 * in one bus-contiguous mapped piece (a DMA allocation or one piece of a
 * registered buffer), else NULL. len 0 is treated as 1.
 */
void *ustor_test_hal_bus_to_virt(struct ustor_test_hal *h, ustor_bus_addr bus,
				 size_t len);

/*
 * Attach a device register window at [base, base+size). `base` is only an
 * address token (any malloc'd block of `size` bytes); accesses are passed to
 * read32/write32 with the byte offset. Aborts if all windows are taken or the
 * range overlaps another window.
 */
void ustor_test_hal_attach_mmio(struct ustor_test_hal *h, volatile void *base,
				size_t size, void *dev,
				uint32_t (*read32)(void *dev, uint32_t off),
				void (*write32)(void *dev, uint32_t off,
						uint32_t val));

/*
 * Give the window attached at `base` 8- and 16-bit handlers (byte offset,
 * value in CPU order; the access is naturally aligned). All four are
 * required; aborts if there is no window at `base`. Detaching the window
 * drops them.
 */
void ustor_test_hal_attach_mmio_narrow(struct ustor_test_hal *h,
				       volatile void *base,
				       uint8_t (*read8)(void *dev, uint32_t off),
				       uint16_t (*read16)(void *dev,
							  uint32_t off),
				       void (*write8)(void *dev, uint32_t off,
						      uint8_t val),
				       void (*write16)(void *dev, uint32_t off,
						       uint16_t val));

/* Detach the window attached at `base`; aborts if there is none. */
void ustor_test_hal_detach_mmio(struct ustor_test_hal *h, volatile void *base);

/*
 * Attach a PCI configuration space handler; fills hal.pci_cfg_read32/write32
 * (NULL until then). One handler at a time; it sees every pci_addr.
 */
void ustor_test_hal_attach_pci(struct ustor_test_hal *h, void *dev,
			       uint32_t (*rd)(void *dev, uint32_t pci_addr,
					      uint16_t off),
			       void (*wr)(void *dev, uint32_t pci_addr,
					  uint16_t off, uint32_t val));

/* Remove the PCI handler; hal.pci_cfg_read32/write32 become NULL again. */
void ustor_test_hal_detach_pci(struct ustor_test_hal *h);

/* Current virtual time in ns, without advancing it (for device models). */
uint64_t ustor_test_hal_time(const struct ustor_test_hal *h);

/* Move the virtual clock forward by `ns`. */
void ustor_test_hal_advance(struct ustor_test_hal *h, uint64_t ns);

/* Everything logged since init or the last clear, one line per message,
 * each ending in '\n'. Never NULL. */
const char *ustor_test_hal_log_text(const struct ustor_test_hal *h);

/* Empty the log buffer. */
void ustor_test_hal_log_clear(struct ustor_test_hal *h);

/* 1 if the log buffer contains `needle`, else 0. */
int ustor_test_hal_log_contains(const struct ustor_test_hal *h,
				const char *needle);

#endif
