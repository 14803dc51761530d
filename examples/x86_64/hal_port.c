/* SPDX-License-Identifier: MIT */
/*
 * The uStor HAL of the x86_64 example kernel: the one structure a port
 * fills in (contract: include/ustor/hal.h). Copy this file into your kernel
 * and change the right-hand sides.
 *
 * This kernel's platform, which decides every choice below:
 *   - one CPU, nothing preempts the library: no lock (except bench=fio with
 *     two CPUs, see port_hal_smp; cpu_id always comes from the per-CPU data
 *     of smp.c). Interrupts are enabled only inside yield, and only in
 *     interrupt mode (irq=1), where yield sleeps until an NVMe MSI-X
 *     message or the 1 ms LAPIC timer;
 *   - an identity map of the low 4 GiB: virtual == physical == bus address
 *     (no IOMMU, no bridge offset); all RAM the kernel uses is there, above
 *     4 GiB only MMIO (BARs placed there by UEFI firmware) is mapped;
 *   - RAM mapped write-back and DMA cache-coherent (x86 snoops), so no
 *     dma_sync; BARs mapped uncached (mm_map_uncached) before use;
 *   - a TSC clock calibrated at boot (time.c), a COM1 console (console.c);
 *   - PCI configuration space through ECAM or ports (pci.c).
 *
 * Each controller (and each virtio-blk disk) gets its own copy of the
 * structure with its own `ctx` (struct port_ctx) so the kernel can check,
 * per device, that the library gave back all the DMA memory it took.
 */
#include "nvme_ctrls.h"
#include "bench.h"
#include "ustor/hal_default.h"

/* dma_alloc: physically contiguous, zeroed, aligned in both address spaces.
 * page_alloc gives whole 4 KiB pages aligned to `align` (uStor asks for at
 * most 64 KiB), already zeroed; the identity map makes the bus address the
 * pointer value itself. */
static void *port_dma_alloc(void *ctx, size_t size, size_t align, ustor_bus_addr *out_bus)
{
	struct port_ctx *pc = ctx;
	void *p = page_alloc(size, align < PAGE_SIZE ? PAGE_SIZE : align);

	if (p == NULL)
		return NULL;                   /* uStor reports USTOR_ERR_NO_MEMORY */
	*out_bus = (ustor_bus_addr)(uintptr_t)p; /* identity map: bus == physical == virtual */
	pc->dma_bytes += size;                 /* bookkeeping for the leak check at shutdown */
	pc->dma_allocs++;
	pc->dma_total++;
	return p;
}

/* dma_free: `size` is what dma_alloc was asked for, so the page count matches. */
static void port_dma_free(void *ctx, void *virt, size_t size)
{
	struct port_ctx *pc = ctx;

	if (pc->dma_allocs == 0 || pc->dma_bytes < size) {
		pc->bad_frees++;               /* the library freed more than it took */
		return;
	}
	pc->dma_bytes -= size;
	pc->dma_allocs--;
	page_free(virt, size);
}

/* virt_to_bus: caller buffers (stack, .bss, page_alloc) are DMA-able as they
 * are, as long as they lie in the low 4 GiB (RAM's identity map). Anything
 * else is refused and uStor's synchronous calls bounce through their own
 * DMA buffer. */
static ustor_status port_virt_to_bus(void *ctx, const void *virt, size_t len,
				     ustor_bus_addr *out_bus)
{
	uintptr_t a = (uintptr_t)virt;

	(void)ctx;
	if (a >= KERNEL_IDENTITY_MAP_END || len > KERNEL_IDENTITY_MAP_END - a)
		return USTOR_ERR_NOT_DMA_ABLE; /* not mapped 1:1: the device cannot reach it */
	*out_bus = (ustor_bus_addr)a;          /* identity map */
	return USTOR_OK;
}

/* now_ns / delay_us: the calibrated TSC (monotonic, ns resolution). */
static uint64_t port_now_ns(void *ctx)
{
	(void)ctx;
	return time_now_ns();
}

static void port_delay_us(void *ctx, uint32_t us)
{
	(void)ctx;
	time_delay_us(us);                     /* busy-wait: this kernel has nothing else to run */
}

/* yield (interrupt mode only): called inside the library's bounded waits
 * (block_run between polls, controller enable/disable, admin commands).
 * Sleep until the next interrupt: an NVMe MSI-X message when a completion
 * is posted, or at the latest the LAPIC timer tick, so an interrupt that
 * never comes (HARDWARE.md item 8) costs at most one tick, never a hang.
 * The library polls the queue again when this returns: the interrupt is
 * only a wake-up, its handler (selftest.c) just counts it. */
static void port_yield(void *ctx)
{
	(void)ctx;
	irq_wait();                            /* sti; hlt; cli (apic.c) */
}

/* log: one line per call, prefixed with its level, to the serial console. */
static void port_log(void *ctx, enum ustor_log_level level, const char *msg)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	(void)ctx;
	kprintf("[%s] %s\n", (unsigned)level < 4u ? names[level] : "?", msg);
}

/* pci_cfg_read32/write32: `pci_addr` is this kernel's own handle for the
 * function (bus << 8 | device << 3 | function, see PCI_BDF), which the
 * kernel put in ustor_nvme_config.pci_addr (or passed to
 * ustor_virtio_blk_init_pci); uStor hands it back unchanged. */
static uint32_t port_pci_cfg_read32(void *ctx, uint32_t pci_addr, uint16_t offset)
{
	(void)ctx;
	return pci_cfg_read32(pci_addr, offset);
}

static void port_pci_cfg_write32(void *ctx, uint32_t pci_addr, uint16_t offset, uint32_t val)
{
	(void)ctx;
	pci_cfg_write32(pci_addr, offset, val);
}

/* bench=fio with more than one CPU (bench.c): the queues of one controller
 * are used from two CPUs, so the HALs get a spinlock and cpu_id. */
int port_hal_smp;

static void port_lock(void *ctx, volatile uint32_t *lock)
{
	(void)ctx;
	while (__atomic_exchange_n(lock, 1u, __ATOMIC_ACQUIRE) != 0)
		while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0)
			cpu_relax();
}

static void port_unlock(void *ctx, volatile uint32_t *lock)
{
	(void)ctx;
	__atomic_store_n(lock, 0u, __ATOMIC_RELEASE);
}

static uint32_t port_cpu_id(void *ctx)
{
	(void)ctx;
	return smp_cpu_index();
}

void port_hal_init(struct ustor_hal *hal, struct port_ctx *ctx, enum ustor_log_level level,
		   int irq_mode)
{
	memset(hal, 0, sizeof(*hal));          /* every optional member starts NULL */
	hal->ctx = ctx;                        /* handed back as the first argument of every callback */

	/* Memory. */
	hal->dma_alloc = port_dma_alloc;
	hal->dma_free = port_dma_free;
	hal->virt_to_bus = port_virt_to_bus;
	hal->dma_sync = NULL;                  /* x86 DMA is cache-coherent: nothing to clean or invalidate */

	/* MMIO and ordering: the library's x86_64 defaults (single mov of the
	 * exact width; wmb/rmb are compiler barriers, which is all x86 needs
	 * with WB RAM and UC BARs; hal/arch/hal_default_x86_64.c says why). */
	hal->mmio_read32 = ustor_hal_default_mmio_read32;
	hal->mmio_write32 = ustor_hal_default_mmio_write32;
	hal->mmio_read64 = ustor_hal_default_mmio_read64;   /* used only with cfg.use_mmio64 */
	hal->mmio_write64 = ustor_hal_default_mmio_write64;
	/* 8/16-bit (movb/movw): virtio-pci's narrow common-configuration
	 * fields, ISR byte and notification. vblk.c clears them for vnarrow=0
	 * to exercise uStor's dword fallback. */
	hal->mmio_read8 = ustor_hal_default_mmio_read8;
	hal->mmio_read16 = ustor_hal_default_mmio_read16;
	hal->mmio_write8 = ustor_hal_default_mmio_write8;
	hal->mmio_write16 = ustor_hal_default_mmio_write16;
	hal->wmb = ustor_hal_default_wmb;
	hal->rmb = ustor_hal_default_rmb;

	/* Time. */
	hal->now_ns = port_now_ns;
	hal->delay_us = port_delay_us;

	/* Optional services. */
	hal->log = port_log;
	hal->log_level = level;                /* from log= on the command line (default warn) */
	hal->pci_cfg_read32 = port_pci_cfg_read32;   /* lets uStor switch on Memory Space + */
	hal->pci_cfg_write32 = port_pci_cfg_write32; /* Bus Master (set cfg.use_pci_cfg = 1) */
	hal->lock = NULL;                      /* one CPU: queues are never shared */
	hal->unlock = NULL;
	hal->cpu_id = port_cpu_id;             /* per-CPU data (smp.c); 0 with one CPU */
	if (port_hal_smp) {                    /* bench=fio on 2 CPUs: shared-queue mode */
		hal->lock = port_lock;
		hal->unlock = port_unlock;
	}
	/* Polling mode: nothing else to run while uStor polls, so no yield.
	 * Interrupt mode: sleep until an interrupt instead of spinning. */
	hal->yield = irq_mode ? port_yield : NULL;
}
