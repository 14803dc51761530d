/* SPDX-License-Identifier: MIT */
/*
 * uStor hardware abstraction layer: the only thing a port implements.
 *
 * A kernel fills in one `struct ustor_hal` and passes a pointer to it to every
 * driver it brings up. The struct must stay valid (and unchanged) for as long
 * as any uStor object created with it lives; uStor never writes to it. Every
 * callback receives `ctx` unchanged as its first argument.
 *
 * Required callbacks: dma_alloc, dma_free, virt_to_bus, mmio_read32,
 * mmio_write32, wmb, rmb, now_ns, delay_us. Everything else may be NULL and
 * the library degrades as documented on each member. `ustor_hal_check()`
 * says which required member is missing.
 *
 * Context rules: unless a member says otherwise (yield does), a callback
 * may be called with interrupts disabled and must not sleep; the library never calls the
 * HAL re-entrantly from inside another HAL callback.
 *
 * Worked example (x86_64, identity-mapped, cache-coherent, no IOMMU):
 *
 *   static const struct ustor_hal hal = {
 *       .dma_alloc = my_dma_alloc,          // page allocator, zeroed pages
 *       .dma_free = my_dma_free,
 *       .virt_to_bus = my_virt_to_bus,      // return 0, *out = (uintptr_t)p
 *       .mmio_read32 = ustor_hal_default_mmio_read32,
 *       .mmio_write32 = ustor_hal_default_mmio_write32,
 *       .mmio_read64 = ustor_hal_default_mmio_read64,
 *       .mmio_write64 = ustor_hal_default_mmio_write64,
 *       .mmio_read8 = ustor_hal_default_mmio_read8,    // and read16,
 *       .mmio_write8 = ustor_hal_default_mmio_write8,  // write16 alike
 *       .wmb = ustor_hal_default_wmb,
 *       .rmb = ustor_hal_default_rmb,
 *       .now_ns = my_tsc_ns,
 *       .delay_us = my_udelay,
 *       .log = my_serial_log,               // optional
 *   };
 *
 * (`include/ustor/hal_default.h` holds the per-architecture defaults.)
 */
#ifndef USTOR_HAL_H
#define USTOR_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/*
 * An address as a device sees it on the bus. 64 bits on every target, even
 * i386 and m68k. It is not necessarily the CPU physical address: an IOMMU or
 * a bridge with an inbound window may sit between (HARDWARE.md item 9).
 */
typedef uint64_t ustor_bus_addr;

/* Log levels, most severe first. */
enum ustor_log_level {
	USTOR_LOG_ERROR = 0,
	USTOR_LOG_WARN = 1,
	USTOR_LOG_INFO = 2,
	USTOR_LOG_DEBUG = 3
};

/* Direction of a DMA transfer, for cache maintenance on non-coherent CPUs. */
enum ustor_dma_dir {
	USTOR_DMA_TO_DEVICE = 1,   /* CPU wrote, device will read: clean */
	USTOR_DMA_FROM_DEVICE = 2, /* device wrote, CPU will read: invalidate */
	USTOR_DMA_BIDIRECTIONAL = 3
};

struct ustor_hal {
	/* Passed unchanged as the first argument of every callback. */
	void *ctx;

	/* ---- Memory ---------------------------------------------------- */

	/*
	 * Allocate `size` bytes of DMA-able memory, physically (bus-)
	 * contiguous, aligned to `align` bytes in BOTH the virtual and the bus
	 * address (`align` is a power of two, at most 64 KiB; uStor asks for the
	 * controller page size for queues and PRP lists). The memory must be
	 * zero-filled, mapped cacheable if the platform is DMA-coherent, and
	 * must not be moved or paged out until freed. Store the device-visible
	 * address of the first byte in *out_bus. Return NULL on failure
	 * (uStor then fails with USTOR_ERR_NO_MEMORY and frees what it took).
	 * Called only during bring-up and shutdown, never on the I/O path, so
	 * it may sleep if the kernel allows it there.
	 */
	void *(*dma_alloc)(void *ctx, size_t size, size_t align,
			   ustor_bus_addr *out_bus);

	/* Release memory from dma_alloc; `size` is the size asked for. */
	void (*dma_free)(void *ctx, void *virt, size_t size);

	/*
	 * Translate a buffer to a bus address so the device can DMA straight
	 * into it: any caller buffer, and also memory from dma_alloc (uStor
	 * passes its own bounce buffer through the same I/O path). uStor calls this once per
	 * controller memory page the buffer touches, with [virt, virt+len)
	 * never crossing such a page, so the answer only has to hold for that
	 * range. Return USTOR_OK and set *out_bus, or USTOR_ERR_NOT_DMA_ABLE if
	 * the range is not reachable by the device (unmapped, above a 32-bit
	 * bridge's window, not contiguous): uStor's synchronous block calls then
	 * bounce through their own DMA buffer, the asynchronous submit refuses
	 * the request before anything reaches the device. Called on the I/O
	 * path: keep it short, no sleeping.
	 */
	ustor_status (*virt_to_bus)(void *ctx, const void *virt, size_t len,
				    ustor_bus_addr *out_bus);

	/*
	 * Optional. Cache maintenance for CPUs that are not DMA-coherent:
	 * called before the device reads memory the CPU wrote (TO_DEVICE) and
	 * after the device wrote memory the CPU is about to read (FROM_DEVICE),
	 * for caller buffers and for uStor's own rings. NULL means coherent.
	 */
	void (*dma_sync)(void *ctx, const void *virt, size_t len,
			 enum ustor_dma_dir dir);

	/* ---- MMIO and ordering ----------------------------------------- */

	/*
	 * Register access. `addr` is a CPU virtual address inside a BAR (or an
	 * MMIO window) that the kernel mapped uncached and handed to the driver.
	 * Values are in CPU byte order: the callback does whatever swapping the
	 * bus needs (registers of NVMe and virtio are little-endian; on a
	 * big-endian CPU behind a non-swapping bridge the default swaps). Each
	 * access must be a single access of exactly that width: QEMU's NVMe
	 * rejects narrower ones. The access itself must not be reordered with
	 * other MMIO accesses by the compiler.
	 */
	uint32_t (*mmio_read32)(void *ctx, volatile void *addr);
	void (*mmio_write32)(void *ctx, volatile void *addr, uint32_t val);

	/*
	 * Optional 64-bit access. uStor reads 64-bit registers (NVMe CAP, ASQ,
	 * ACQ) as two 32-bit halves, low half first, because some bridges
	 * return one half twice on a 64-bit read (HARDWARE.md item 4); it uses
	 * these only when a driver's config asks for 64-bit access.
	 */
	uint64_t (*mmio_read64)(void *ctx, volatile void *addr);
	void (*mmio_write64)(void *ctx, volatile void *addr, uint64_t val);

	/*
	 * Optional 8- and 16-bit access, with the contract of the 32-bit pair:
	 * values in CPU byte order in and out (the registers are
	 * little-endian), one single access of exactly that width, not
	 * reordered with other MMIO accesses. virtio-pci uses them for the
	 * 8/16-bit fields of its common configuration, the ISR byte and the
	 * queue notification. NULL: uStor falls back to the enclosing aligned
	 * dword (a read-modify-write for stores), which some devices do not
	 * decode as narrow fields: QEMU's virtio-pci common configuration
	 * decodes an access by its start offset, so queue_select cannot be
	 * written and only queue 0 of a virtio device is usable.
	 */
	uint8_t (*mmio_read8)(void *ctx, volatile void *addr);
	uint16_t (*mmio_read16)(void *ctx, volatile void *addr);
	void (*mmio_write8)(void *ctx, volatile void *addr, uint8_t val);
	void (*mmio_write16)(void *ctx, volatile void *addr, uint16_t val);

	/*
	 * Write barrier: every store the CPU made to DMA memory before this
	 * call is visible to the device before any MMIO write after it. uStor
	 * calls it between filling a submission entry and ringing the doorbell.
	 */
	void (*wmb)(void *ctx);

	/*
	 * Read barrier: loads from DMA memory after this call are not satisfied
	 * before loads before it. uStor calls it after seeing a completion's
	 * phase tag flip and before reading the rest of that completion.
	 */
	void (*rmb)(void *ctx);

	/* ---- Time -------------------------------------------------------- */

	/*
	 * Monotonic time in nanoseconds from any fixed origin; must never go
	 * backwards and must advance while uStor polls (every bounded wait in
	 * the library is a deadline on this clock). Resolution of a few
	 * microseconds is plenty.
	 */
	uint64_t (*now_ns)(void *ctx);

	/* Busy-wait (or sleep, where allowed) at least `us` microseconds. */
	void (*delay_us)(void *ctx, uint32_t us);

	/* ---- Optional services -------------------------------------------- */

	/*
	 * Optional log sink. `msg` is one NUL-terminated line without a
	 * trailing newline, valid only during the call. Errors carry the
	 * registers that matter (CSTS, CC, CAP) so a serial log explains a
	 * failure on real hardware. NULL: no logs. Never called on the I/O
	 * fast path, only on errors and during bring-up.
	 */
	void (*log)(void *ctx, enum ustor_log_level level, const char *msg);

	/* Messages above this level are not formatted at all (default ERROR=0
	 * means errors only; set USTOR_LOG_DEBUG to see everything). */
	enum ustor_log_level log_level;

	/*
	 * Optional PCI configuration space access, used to switch on Memory
	 * Space and Bus Master Enable (firmware may leave them off, HARDWARE.md
	 * item 9). `pci_addr` is the kernel's own handle for the function (uStor
	 * passes back what the kernel gave it in a driver config); `offset` is
	 * dword aligned. NULL: uStor assumes the kernel enabled the function.
	 */
	uint32_t (*pci_cfg_read32)(void *ctx, uint32_t pci_addr, uint16_t offset);
	void (*pci_cfg_write32)(void *ctx, uint32_t pci_addr, uint16_t offset,
				uint32_t val);

	/*
	 * Optional lock around a queue shared between CPUs. `lock` is the
	 * address of the queue's `lock_word` (zero-initialised, owned by uStor
	 * memory, never touched by uStor itself) so the kernel can use it as a
	 * spinlock. NULL: uStor assumes one CPU (or the kernel's own lock) per
	 * queue.
	 */
	void (*lock)(void *ctx, volatile uint32_t *lock);
	void (*unlock)(void *ctx, volatile uint32_t *lock);

	/*
	 * Optional. Called between polls of every bounded wait (controller
	 * ready, admin commands, synchronous I/O) so the kernel can run
	 * something else or sleep: it MAY sleep and MAY enable interrupts
	 * (e.g. `sti; hlt` waiting for an NVMe MSI-X or a timer tick), but must
	 * return within a bounded time, since uStor checks its deadline only
	 * between calls; keep a periodic timer as a backstop, interrupts may
	 * never arrive (HARDWARE.md item 8). When set, uStor does no busy-wait
	 * of its own between I/O polls. NULL: uStor spins, then backs off with
	 * delay_us (up to 1 ms between polls).
	 */
	void (*yield)(void *ctx);

	/*
	 * Optional. Index of the CPU running the caller (0-based, stable while
	 * the call runs), for USTOR_SCHED_CPU. NULL: always 0.
	 */
	uint32_t (*cpu_id)(void *ctx);

	/*
	 * Optional. Mask (masked != 0) or unmask interrupt vector `vector` (an
	 * MSI-X table index) of the PCI function `pci_addr` (the handle from the
	 * driver config); used by the adaptive completion mode to switch a
	 * queue between interrupts and polling. NULL: interrupts stay as the
	 * kernel set them.
	 */
	void (*irq_mask)(void *ctx, uint32_t pci_addr, uint16_t vector, int masked);

	/*
	 * Optional USTOR_HAL_F_* bits, 0 by default.
	 * USTOR_HAL_F_DMA_RANGES: virt_to_bus also answers for a range that
	 * crosses pages, with USTOR_OK only when the whole range is one
	 * contiguous run on the bus (USTOR_ERR_NOT_DMA_ABLE otherwise). uStor
	 * then translates a multi-page buffer in one call and, when refused,
	 * page by page as without the flag (one wasted call per such buffer).
	 * An identity-mapped kernel sets it and saves a call per page.
	 */
	uint32_t flags;
};

/* ustor_hal.flags: virt_to_bus answers for multi-page ranges (see above). */
#define USTOR_HAL_F_DMA_RANGES 0x1u

/*
 * Check that every required callback is set; logs the missing one through
 * the HAL's log sink (if any) and returns USTOR_ERR_INVALID_ARG.
 */
ustor_status ustor_hal_check(const struct ustor_hal *hal);

#endif
