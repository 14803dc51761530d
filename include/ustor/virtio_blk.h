/* SPDX-License-Identifier: MIT */
/*
 * uStor virtio-blk driver: one virtio block device (virtio-pci modern,
 * virtio-mmio version 2 or legacy version 1) exposed as a block device.
 *
 * Typical use (a kernel found a virtio-mmio slot with DeviceID 2):
 *
 *   static struct ustor_virtio_blk vb;           // any memory, zeroed or not
 *   struct ustor_virtio_blk_config cfg;
 *   ustor_virtio_blk_config_default(&cfg);
 *   if (ustor_virtio_blk_init_mmio(&vb, &hal, slot, &cfg) == USTOR_OK)
 *       ustor_block_read(ustor_virtio_blk_bdev(&vb), 0, 1, sector);
 *
 * LBAs are in units of the device's blk_size (512 when it reports none);
 * the driver converts them to the protocol's 512-byte sectors. A request
 * larger than one descriptor chain allows (seg_max, size_max, the
 * configured cap) becomes several chains; discard and write-zeroes are
 * split at the device's sector limits. One or more request queues
 * (VIRTIO_BLK_F_MQ), split or packed rings, EVENT_IDX and indirect
 * descriptors when offered and allowed (see the config), many requests in
 * flight on each. Completions are polled; interrupts are optional (use_irq:
 * on, or adaptive; MSI-X vectors per queue over PCI with cfg.msix), and
 * polling keeps working when they never arrive.
 *
 * Batching: a request with USTOR_REQ_F_MORE is made available without a
 * notification; the next request without it, ustor_block_kick or the next
 * poll of that queue notifies (so nothing ever waits on a missed doorbell).
 * Adaptive interrupts: while more than adaptive_depth chains are in flight
 * on a queue, its interrupts are suppressed (the caller keeps polling at
 * that load); with EVENT_IDX they are coalesced instead (used_event, or
 * the packed driver event offset when every chain is one indirect
 * descriptor, asks for one when the depth falls back to adaptive_depth),
 * so no completion is ever left without an interrupt.
 *
 * Raw device detail of a failed request: req->error_lba is the first LBA of
 * the failing chain, and req->dev_status (block.h's raw device-status slot, used for
 * non-NVMe devices) holds the virtio-blk status byte as the device wrote it
 * (USTOR_VIRTIO_BLK_S_*), or USTOR_VIRTIO_BLK_RAW_BAD_LEN when the device
 * claimed more bytes than the chain offered. req->nvme_status stays 0.
 *
 * Concurrency as for NVMe: one CPU at a time per queue unless the HAL
 * supplies lock/unlock, which makes submit/poll/cancel safe to share
 * (shared mode); with cfg.per_cpu each queue belongs to one CPU (the
 * kernel sends its requests there and polls it) and no lock is taken on
 * I/O. init, shutdown and ustor_virtio_blk_check come from one CPU at a
 * time.
 */
#ifndef USTOR_VIRTIO_BLK_H
#define USTOR_VIRTIO_BLK_H

#include <stdint.h>

#include "block.h"
#include "hal.h"
#include "status.h"
#include "virtio.h"
#include "virtio_spec.h"

/* req->dev_status of a request whose chain came back with an impossible used
 * length (status USTOR_ERR_BAD_DEVICE). */
#define USTOR_VIRTIO_BLK_RAW_BAD_LEN 0x100u

/* Queues one driver object can hold (compile-time: bounds the size of
 * struct ustor_virtio_blk). The config's num_queues and the device's
 * num_queues (VIRTIO_BLK_F_MQ) may lower it. */
#ifndef USTOR_VIRTIO_BLK_MAX_QUEUES
#define USTOR_VIRTIO_BLK_MAX_QUEUES 8
#endif
#if USTOR_VIRTIO_BLK_MAX_QUEUES < 1 || USTOR_VIRTIO_BLK_MAX_QUEUES > 64
#error "USTOR_VIRTIO_BLK_MAX_QUEUES must be within 1..64"
#endif

/* Completion modes (ustor_virtio_blk_config.use_irq). */
#define USTOR_VIRTIO_BLK_IRQ_OFF 0	/* polling: used-buffer interrupts suppressed */
#define USTOR_VIRTIO_BLK_IRQ_ON 1	/* an interrupt for every batch of completions */
#define USTOR_VIRTIO_BLK_IRQ_ADAPTIVE 2 /* on at low load, suppressed at high (see below) */

/*
 * Runtime settings; start from ustor_virtio_blk_config_default.
 *
 * Ring features: each is used only when the device offers it AND its knob
 * here allows it (a 0 switches it off):
 *   event_idx  VIRTIO_F_EVENT_IDX: the device says when it wants the next
 *              notification (avail_event / device event area) and the
 *              driver when it wants the next interrupt (used_event / driver
 *              event area), with the wrap-safe window test of 2.7.10;
 *   indirect   VIRTIO_F_INDIRECT_DESC: every chain takes one ring slot
 *              pointing at a per-head table of indirect_max descriptors in
 *              DMA memory (so indirect_max - 2 data segments per chain);
 *   packed     VIRTIO_F_RING_PACKED: the packed ring instead of the split
 *              one (modern transports only);
 *   num_queues VIRTIO_BLK_F_MQ: that many request queues (capped by the
 *              device's num_queues and USTOR_VIRTIO_BLK_MAX_QUEUES); 1
 *              leaves MQ off. req->queue picks one (out of range: 0).
 * Over PCI, queues other than 0 need hal->mmio_read16/write16 (queue_select).
 */
struct ustor_virtio_blk_config {
	uint32_t queue_size;	     /* entries to ask for [256]: rounded down to a power
				      * of two, at most the device's and
				      * USTOR_VIRTIO_MAX_QUEUE_SIZE; raised to 4
				      * (the least that holds a request) if the
				      * device allows it, else init fails */
	uint32_t max_transfer_bytes; /* cap on one chain's data [0: seg_max/size_max only] */
	uint32_t io_timeout_ms;	     /* bound of each synchronous block call [30000] */
	uint32_t init_timeout_ms;    /* bound of reset waits and of GET_ID at init [5000] */
	uint32_t bounce_bytes;	     /* synchronous bounce buffer [64 KiB; 0: refuse
				      * untranslatable buffers] */
	uint64_t disable_features;   /* feature bits never to accept (USTOR_VIRTIO_FBIT(n)),
				      * e.g. to leave discard off */
	uint32_t bar_bytes[6];	     /* PCI: size of each mapped BAR [0: unknown]; a
				      * capability pointing past its BAR is refused */
	uint8_t index;		     /* device number, for names ("vblk<index>") */
	uint8_t use_irq;	     /* USTOR_VIRTIO_BLK_IRQ_* [OFF] */
	uint8_t event_idx;	     /* allow VIRTIO_F_EVENT_IDX [1] */
	uint8_t indirect;	     /* allow VIRTIO_F_INDIRECT_DESC [1] */
	uint8_t packed;		     /* allow VIRTIO_F_RING_PACKED [1] */
	uint8_t per_cpu;	     /* each queue is used by one CPU only: no hal->lock
				      * on I/O even if the HAL has one [0: shared,
				      * locked when the HAL has lock/unlock] */
	uint8_t msix;		     /* PCI: program MSI-X vectors: configuration changes
				      * on msix_base, queue i on msix_base + 1 + i [0] */
	uint8_t rsvd;
	uint16_t num_queues;	     /* request queues wanted [1] */
	uint16_t indirect_max;	     /* descriptors per indirect table, 3..1024 [34:
				      * 128 KiB of 4 KiB pages + header + status] */
	uint16_t msix_base;	     /* first MSI-X table entry used [0] */
	uint16_t adaptive_depth;     /* IRQ_ADAPTIVE: chains in flight on a queue above
				      * which interrupts are suppressed [4] */
	/* Recovery (docs/ARCHITECTURE.md "Recovery"). */
	uint32_t cmd_timeout_ms;     /* a queue with chains in flight and no completion
				      * for this long is stalled: device reset and
				      * re-initialisation, requests re-submitted [10000;
				      * 0: off; clamped to io_timeout_ms / 3] */
	uint32_t max_resets;	     /* recoveries within reset_window_ms; one more (or
				      * a failed re-initialisation) breaks the device:
				      * every request ends with FATAL/DEVICE_GONE [3] */
	uint32_t reset_window_ms;    /* recoveries further apart do not add up [60000] */
};

/* Fill `cfg` with the defaults in brackets above. */
void ustor_virtio_blk_config_default(struct ustor_virtio_blk_config *cfg);

/* What the device reported, decoded (fields of features not negotiated
 * are 0). Units are the spec's: sectors are 512 bytes, topology sizes in
 * logical blocks. */
struct ustor_virtio_blk_info {
	uint64_t features;	  /* negotiated feature bits */
	uint64_t device_features; /* offered feature bits */
	uint64_t capacity_sectors;
	uint32_t blk_size;    /* logical block bytes (512 if not reported) */
	uint32_t size_max;    /* bytes per segment (0: no limit) */
	uint32_t seg_max;     /* data segments per request (0: no limit) */
	uint32_t opt_io_size; /* topology */
	uint16_t min_io_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint8_t writeback; /* volatile write cache in use */
	uint8_t read_only;
	uint8_t write_zeroes_may_unmap;
	uint8_t transport; /* USTOR_VIRTIO_TRANSPORT_* */
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint16_t queue_size; /* entries in use */
	uint16_t queue_max;  /* the device's maximum */
	uint16_t num_queues; /* device's num_queues (1 without F_MQ) */
	uint16_t queues;     /* request queues in use */
	uint8_t packed;	     /* packed ring in use */
	uint8_t event_idx;   /* EVENT_IDX in use */
	uint8_t indirect;    /* indirect descriptors in use */
	uint8_t rsvd;
};

/* One chain in flight, indexed by its head descriptor (internal layout). */
struct ustor_virtio_blk_slot {
	void *owner;  /* request served; NULL when abandoned or internal */
	uint64_t lba; /* first block the chain covers (error reports) */
	uint32_t nblocks;
	uint8_t kind;	/* free, block, internal, abandoned */
	uint8_t type;	/* USTOR_VIRTIO_BLK_T_* */
	uint8_t done;	/* internal requests: completed */
	uint8_t status; /* internal requests: status byte */
};

/* The request queue: the virtqueue, chain slots, and the DMA area with a
 * 64-byte header/status record per head. */
struct ustor_virtio_blk_queue {
	struct ustor_virtq vq;
	struct ustor_virtio_blk_slot *slots; /* vq.size entries */
	uint8_t *hdrs;			     /* vq.size * 64 bytes, DMA */
	ustor_bus_addr hdrs_bus;
	uint32_t hdrs_bytes;
	uint32_t slots_bytes;
	struct ustor_block_req *waiting; /* requests with chains not yet issued */
	struct ustor_block_req *waiting_tail;
	struct ustor_block_req *done_head; /* finished, callbacks not yet run */
	struct ustor_block_req *done_tail;
	uint32_t bad_used;	     /* used elements with an unknown id */
	uint32_t bad_len;	     /* used elements with an impossible len */
	volatile uint32_t lock_word; /* for hal->lock */
	uint8_t locked;		     /* shared queue and the HAL has lock/unlock */
	uint8_t irq_mode;	     /* USTOR_VIRTIO_BLK_IRQ_* */
	uint8_t irq_work;	     /* poll has interrupt bookkeeping to do (ON, ADAPTIVE) */
	uint8_t ev_trail;	     /* OFF with split EVENT_IDX: keep used_event trailing */
	uint16_t index;		     /* queue number (req->queue) */
	uint16_t rsvd_q2;
	uint32_t interrupts_armed;   /* times interrupts were switched on */
	uint32_t interrupts_off;     /* times they were suppressed (adaptive) */
	uint64_t wd_since;	     /* recovery: first empty poll with chains in flight
				      * since the last completion (0: none) */
};

struct ustor_virtio_blk {
	struct ustor_block_device bdev; /* first: the bdev is the object */
	const struct ustor_hal *hal;
	struct ustor_virtio_blk_config cfg;
	struct ustor_virtio_dev dev;
	struct ustor_virtio_blk_queue q[USTOR_VIRTIO_BLK_MAX_QUEUES];
	uint16_t nq;		      /* queues in use */
	uint16_t config_vector;	      /* PCI MSI-X: configuration vector (NO_VECTOR: none) */
	struct ustor_virtio_blk_info info;
	uint8_t state;	       /* internal lifecycle state */
	uint8_t sector_shift;  /* log2(blk_size / 512) */
	uint8_t seg_shift;     /* log2 of the data window per descriptor */
	uint8_t flush;	       /* VIRTIO_BLK_F_FLUSH negotiated */
	uint8_t break_pending; /* broken: reset and collect after unlock */
	uint8_t rsvd[3];
	uint32_t seg_lim;	     /* data descriptors per chain */
	uint32_t max_chain_bytes;    /* data bytes per chain (block multiple) */
	uint32_t discard_max_blocks; /* blocks per DISCARD chain */
	uint32_t wz_max_blocks;	     /* blocks per WRITE_ZEROES chain */
	uint32_t config_gen;	     /* generation the config was read at */
	uint8_t *bounce;
	ustor_bus_addr bounce_bus;
	uint32_t bounce_bytes;
	uint32_t config_changes; /* configuration changes handled */
	/* Recovery (virtio_recover.c). */
	uint32_t resets;	 /* device resets with re-initialisation */
	uint32_t resets_recent;	 /* within cfg.reset_window_ms */
	uint64_t last_reset_ns;
	uint32_t requeued;	 /* requests re-submitted after a reset */
	uint32_t rsvd_rec;
};

/*
 * Bring up the virtio-blk function `pci_addr`: PCI Memory Space and Bus
 * Master on, capabilities, reset, feature negotiation, the request queue,
 * configuration, DRIVER_OK, GET_ID. `bars[i]` is the virtual address where
 * the kernel mapped BAR i uncached (NULL if unmapped). Needs
 * hal->pci_cfg_read32/write32. On failure the log says why and all memory
 * is freed (kept if the device would not reset: it may still write there).
 */
ustor_status ustor_virtio_blk_init_pci(struct ustor_virtio_blk *vb, const struct ustor_hal *hal,
				       uint32_t pci_addr, volatile void *const bars[6],
				       const struct ustor_virtio_blk_config *cfg);

/*
 * The same for a virtio-mmio window (`base`, mapped uncached): Version 1
 * (legacy) or 2 is detected from the Version register after checking
 * MagicValue; DeviceID must be 2 (USTOR_ERR_UNSUPPORTED otherwise).
 */
ustor_status ustor_virtio_blk_init_mmio(struct ustor_virtio_blk *vb, const struct ustor_hal *hal,
					volatile void *base,
					const struct ustor_virtio_blk_config *cfg);

/*
 * Reset the device and initialise it again (same features, queues, limits),
 * re-submitting every request that was in flight or waiting from its first
 * block (reads, writes, flush, discard, write-zeroes are idempotent). Polls
 * do this by themselves when a queue stalls (cfg.cmd_timeout_ms) or the
 * device sets DEVICE_NEEDS_RESET. Bounded by cfg.max_resets: past it, or if
 * re-initialisation fails, the device is broken and every request ends with
 * USTOR_ERR_FATAL (USTOR_ERR_DEVICE_GONE if it reads all-ones).
 */
ustor_status ustor_virtio_blk_reset(struct ustor_virtio_blk *vb);

/*
 * Orderly shutdown: reset the device, end every outstanding request with USTOR_ERR_SHUT_DOWN
 * (callbacks run), free all memory (kept if the device would not reset).
 * The block device refuses I/O afterwards.
 */
ustor_status ustor_virtio_blk_shutdown(struct ustor_virtio_blk *vb);

/* The block device (NULL if vb is NULL). */
struct ustor_block_device *ustor_virtio_blk_bdev(struct ustor_virtio_blk *vb);

/*
 * Read and acknowledge the interrupt status, act on a configuration change
 * (capacity re-read: bdev->nblocks follows a resize) and check the device
 * status. Call it from the device's interrupt handler, or now and then when
 * polling; the driver also calls it itself when a request fails or times
 * out. USTOR_OK; USTOR_ERR_FATAL when the device set DEVICE_NEEDS_RESET
 * (it is then reset, every outstanding request ends with FATAL and the
 * block device becomes unusable); USTOR_ERR_DEVICE_GONE (all-ones);
 * NOT_READY / SHUT_DOWN before init or after shutdown.
 */
ustor_status ustor_virtio_blk_check(struct ustor_virtio_blk *vb);

/* MSI-X table entry queue `queue` interrupts on (PCI with cfg.msix), or
 * USTOR_VIRTIO_MSI_NO_VECTOR (none, refused by the device, no such queue,
 * or not PCI): the kernel routes this entry to its handler for the queue,
 * which calls ustor_block_poll(bdev, queue). */
uint16_t ustor_virtio_blk_queue_vector(const struct ustor_virtio_blk *vb, uint16_t queue);

/* MSI-X table entry of configuration changes (same rules); its handler
 * calls ustor_virtio_blk_check. */
uint16_t ustor_virtio_blk_config_vector(const struct ustor_virtio_blk *vb);

/* Name of a virtio-blk status byte ("OK", "IOERR", "UNSUPP"; "invalid"). */
const char *ustor_virtio_blk_status_name(uint8_t status);

/* Map a status byte to the library's enum for a request of block op `op`:
 * OK; IOERR: USTOR_ERR_MEDIA for reads and writes, USTOR_ERR_DEVICE for
 * the rest; UNSUPP: USTOR_ERR_UNSUPPORTED; anything else: BAD_DEVICE. */
ustor_status ustor_virtio_blk_status_to_ustor(uint8_t status, uint8_t op);

#endif
